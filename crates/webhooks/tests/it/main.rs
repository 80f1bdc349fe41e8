//! `fastcomments-webhooks`' tests, in one binary: signing and verifying against published
//! vectors and other implementations (svix's, Node's), the replay store, the Standard Webhooks
//! scheme, and the axum extractors behind a real server.

mod support;

mod axum_extractor;
mod replay;
mod standard;
mod standard_vectors;
mod vectors;
