//! The `fastcomments` binary's tests, in one binary (linked once): each module runs the real
//! `fastcomments` (`serve`, `sync`, `tenant create`, `webhooks listen`) as a user or an
//! operator would, over loopback, with real PostgreSQL where a module says so.

/// Two tests of one check, one per protocol generation: `$stream` runs `$check` on generation
/// A's stream, `$commands` on generation B's commands. (A macro: a function cannot make tests.)
macro_rules! on_both_protocols {
    ($check:ident: $stream:ident, $commands:ident) => {
        #[tokio::test]
        async fn $stream() {
            $check(fastcomments_integration::Protocol::Stream).await;
        }

        #[tokio::test]
        async fn $commands() {
            $check(fastcomments_integration::Protocol::Commands).await;
        }
    };
}

mod serve_support;
mod sync_support;

mod docs_hold;
mod durability;
mod hostile_clients;
mod ops_pages;
mod readme_walkthrough;
mod serve;
mod several_nodes;
mod steps_1_to_4;
mod sync_edge_cases;
mod sync_hub_bugs;
mod sync_restart;
mod transfer;
mod user_errors;
mod webhook_kill;
mod webhooks_listen;
