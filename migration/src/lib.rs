//! The database schema as sea-orm migrations. Every migration runs up and down on both
//! PostgreSQL (production) and SQLite (the embedded default); `tests/it` proves it on both.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_init;
mod m20261125_000002_mirror;
mod m20261125_000003_filters;
mod m20261126_000004_lean_log;
mod m20261130_000005_room_chains;
mod m20261130_000006_address_chains;
mod m20261203_000007_dead_letters;
mod m20261203_000008_device_tag;
mod m20261203_000010_cases;
mod m20261203_000011_appeals;
mod m20261203_000012_reports;
mod m20261204_000013_evasion;
mod m20261204_000014_trust_tier;
mod m20261204_000015_message_edits;
mod m20261204_000017_report_mute_length;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_init::Migration),
            Box::new(m20261125_000002_mirror::Migration),
            Box::new(m20261125_000003_filters::Migration),
            Box::new(m20261126_000004_lean_log::Migration),
            Box::new(m20261130_000005_room_chains::Migration),
            Box::new(m20261130_000006_address_chains::Migration),
            Box::new(m20261203_000007_dead_letters::Migration),
            Box::new(m20261203_000008_device_tag::Migration),
            Box::new(m20261203_000010_cases::Migration),
            Box::new(m20261203_000011_appeals::Migration),
            Box::new(m20261203_000012_reports::Migration),
            Box::new(m20261204_000013_evasion::Migration),
            Box::new(m20261204_000014_trust_tier::Migration),
            Box::new(m20261204_000015_message_edits::Migration),
            Box::new(m20261204_000017_report_mute_length::Migration),
        ]
    }
}
