//! The store contract: what every [`Store`] backend promises, checked through `Arc<dyn Store>`
//! only, against every backend.
//!
//! Each promise is a plain `async fn(Arc<dyn Store>)` in a module of `store_contract/` by
//! concern. [`for_each_backend!`] lists the backends, one line each; every promise becomes a
//! test per backend, named `store_contract::<backend>::<promise>` (`cargo test -p
//! fastcomments-hub --test it store_contract::postgres::` runs one backend), each on a fresh,
//! empty store.

use fastcomments_hub::store::Store;
use std::sync::Arc;

pub mod admin_listing;
pub mod comments;
pub mod dispatch;
pub mod fixtures;
pub mod isolation;
pub mod operations;
pub mod ready;
pub mod recover;
pub mod sessions;
pub mod timeline;
pub mod tokens;
pub mod uploads;
pub mod votes;
pub mod webhooks;

/// Every backend the contract runs against: a module name for its tests and an async
/// expression opening a fresh, empty store ([`fixtures::Opened`]). Adding a backend is one
/// line here (PostgreSQL: `tests!(postgres, fixtures::postgres());`, with `fixtures::postgres`
/// opening `PostgresStore::connect` on a database of the shared test cluster).
macro_rules! for_each_backend {
    ($tests:ident) => {
        $tests!(sqlite, fixtures::sqlite());
        $tests!(postgres, fixtures::postgres());
    };
}

/// The promises, each run as `<backend>::<name>`.
macro_rules! tests {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;
            tests!(@each $open;
                comments::reads_are_ordered_and_paged,
                comments::changes_to_missing_comments_are_not_found,
                comments::local_ids_are_stored_in_meta,
                comments::tenants_and_secrets_round_trip,
                timeline::positions_strictly_increase_under_concurrent_writers,
                timeline::positions_of_tenants_are_independent,
                timeline::reads_honour_cursor_until_and_limit,
                timeline::payload_is_the_uploaded_comment_as_of_the_event,
                timeline::payload_is_the_api_comment_as_of_the_event,
                timeline::echo_suppression_and_token_only_entries,
                timeline::pruning_records_how_far_it_went,
                uploads::the_same_batch_twice_stores_once,
                uploads::upserts_on_id_and_on_external_id,
                uploads::children_before_parents_in_one_batch,
                uploads::children_before_parents_across_batches,
                uploads::children_and_parents_in_concurrent_batches_are_linked,
                uploads::a_foreign_hub_parent_refuses_the_whole_batch,
                uploads::the_finishing_batch_completes_setup_once,
                votes::same_direction_keeps_the_earlier_vote,
                votes::other_direction_replaces_the_vote,
                votes::deleting_votes_and_their_comment,
                isolation::reads_see_only_their_tenant,
                isolation::writes_cannot_reach_another_tenant,
                isolation::names_of_no_public_site_are_shared_public_domains_are_not,
                tokens::register_is_idempotent,
                tokens::save_token_with_an_entry,
                tokens::narrow_updates_touch_nothing_else,
                tokens::restart_upload_counts_from_zero,
                tokens::expired_pending_tokens_are_deleted,
                tokens::pending_tokens_are_capped_per_address_and_overall,
                webhooks::configs_are_replaced_by_domain,
                webhooks::a_change_queues_its_delivery_in_the_same_call,
                webhooks::imports_fire_only_with_fire_on_import,
                webhooks::deliveries_are_listed_newest_first,
                webhooks::cancel_and_retry_follow_the_state_rules,
                webhooks::attempts_move_deliveries_on_but_not_cancelled_ones,
                webhooks::an_attempt_recorded_after_cancel_still_counts,
                dispatch::only_due_deliveries_in_due_order,
                dispatch::one_comment_at_a_time_in_change_order,
                dispatch::a_claimed_delivery_is_handed_out_once_until_recorded_or_expired,
                dispatch::per_host_limits_and_skips,
                dispatch::released_claims_are_due_again_at_once,
                dispatch::order_holds_across_cancel_and_manual_retry,
                ready::the_head_of_a_stream_is_ready_and_the_next_is_not,
                ready::ending_the_head_makes_the_next_ready_at_once,
                ready::streams_of_one_comment_are_independent,
                ready::a_retried_delivery_keeps_its_stream_in_order,
                ready::a_paused_stream_resumes_in_order,
                recover::a_recover_copies_what_the_target_was_sent_in_pages,
                recover::a_copy_goes_before_a_later_waiting_change,
                recover::a_stopped_recover_frees_its_target,
                admin_listing::tenants_are_listed_by_name,
                admin_listing::deliveries_are_filtered_paged_and_counted,
                admin_listing::sent_deliveries_are_counted_up_to_the_bound,
                admin_listing::pending_deliveries_merge_their_states_newest_first,
                admin_listing::retry_failed_since_requeues_only_recent_failures,
                operations::a_rotation_keeps_the_old_secret_until_it_retires,
                operations::retention_prunes_finished_deliveries_in_bounded_batches,
                operations::subscriptions_fan_out_pause_and_resume,
                operations::an_attempt_of_a_cancelled_delivery_is_counted,
                operations::a_claim_leaves_out_full_subscriptions,
                sessions::sessions_round_trip_expire_and_cap_the_anonymous,
            );
        }
    };
    (@each $open:expr; $($module:ident :: $promise:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $promise() {
                let opened = $open.await;
                let store: Arc<dyn Store> = opened.store.clone();
                $module::$promise(store).await;
                drop(opened);
            }
        )*
    };
}

for_each_backend!(tests);
