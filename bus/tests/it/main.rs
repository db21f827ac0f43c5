//! The bus conformance suite: every implementation of `Bus` must pass the same checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod appeals;
mod backlog;
mod conformance;
mod online;
mod reactions;
mod redis_only;
mod resume;
mod shield;

/// Runs every conformance check against one implementation, each as its own test.
macro_rules! conformance_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::conformance;
            conformance_suite!(@tests $make;
                fanout_reaches_every_subscriber_of_the_room_only,
                seats_respect_capacity_atomically,
                nicknames_are_unique_per_room_and_release_is_holder_checked,
                history_keeps_the_last_window_and_resumes_after_since,
                seeding_fills_only_an_empty_history,
                history_entries_can_be_edited_and_removed,
                queue_delivers_once_until_acked_and_reclaims_unacked,
                control_events_reach_subscribers,
                snapshots_store_rooms_and_bans,
                roulette_pairs_each_ticket_exactly_once,
                roulette_follows_interests_blocks_and_queue_order,
                notify_tells_whether_anyone_listens,
                visitor_rooms_are_limited_per_owner,
                a_posted_message_is_queued_remembered_and_fanned_out,
                seats_are_limited_per_address_atomically,
                slowmode_gives_an_address_a_slot_per_seat_and_survives_leaving,
                a_closed_visitor_room_leaves_no_history_presence_or_owner_behind,
                a_lock_has_one_holder_at_a_time,
                shadow_history_reaches_only_its_senders_address_or_device,
                a_device_reports_a_message_once_until_released_or_expired,
            );
        }
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let bus = $make;
                conformance::$name(bus).await;
            }
        )*
    };
}

conformance_suite!(in_process, std::sync::Arc::new(bus::InProcessBus::new()));
conformance_suite!(redis, std::sync::Arc::new(crate::redis_only::connect(std::time::Duration::from_secs(30)).await));
