//! Connecting to the database and bringing its schema up to date.

use std::path::Path;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// The embedded default: a SQLite file under `./data/`, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/chatroulette.db?mode=rwc";

/// WAL pages written before SQLite copies them back into the database file (its default is
/// 1 000, about 4 MiB). At 45 000 deliveries/s the message log filled that many times a second
/// (99 fsyncs in 3 s, two per checkpoint), each checkpoint rewriting the same hot index pages;
/// at 10 000 (a WAL file of about 40 MiB, reused after each checkpoint) the same window had 9.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// Why the database could not be opened, phrased for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL must start with sqlite:, postgres: or postgresql: (got {0:?})")]
    Scheme(String),
    #[error("cannot create the directory {dir} for the SQLite database: {source}")]
    Dir { dir: String, source: std::io::Error },
    #[error("cannot connect to the database: {0}")]
    Connect(DbErr),
    #[error("cannot migrate the database: {0}")]
    Migrate(DbErr),
}

/// Open the database named by `url`, creating a SQLite file's directory when needed.
pub async fn connect(url: &str) -> Result<DatabaseConnection, ConnectError> {
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        let file = path.split('?').next().unwrap_or_default();
        if let Some(dir) = Path::new(file).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| ConnectError::Dir { dir: dir.display().to_string(), source })?;
        }
    } else if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
        return Err(ConnectError::Scheme(url.to_owned()));
    }
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false);
    // SQLite: write-ahead log (readers such as the operator's CLI never block the bot's writes)
    // and fsync at checkpoints rather than on every commit (a profile of the one-process
    // default under load found fsync in 15 % of its CPU samples). An application crash loses nothing;
    // only a power cut may lose the last commits (PostgreSQL is the production database).
    options.map_sqlx_sqlite_opts(|opts| {
        opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
            // Statement journals in memory: the log's insert of a whole batch needs one (it could fail
            // half-way), and in a file it was one write per page the statement touched.
            .pragma("temp_store", "memory")
    });
    Database::connect(options).await.map_err(ConnectError::Connect)
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), ConnectError> {
    Migrator::up(db, None).await.map_err(ConnectError::Migrate)
}
