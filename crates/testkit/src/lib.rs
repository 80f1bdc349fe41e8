//! Test support shared by the workspace's suites.
//!
//! [`PgCluster`] runs a real PostgreSQL server from the system's packages (Debian's
//! `postgresql`) in a temporary directory, on a free loopback port, for as long as a test
//! needs it: no mock, and no silent skip where PostgreSQL is missing (starting fails and says
//! how to install it). Tests of one process share one cluster ([`PgCluster::shared`]) and
//! isolate themselves by database ([`PgCluster::database`]).
//!
//! [`browser::Browser`] runs Debian's Chromium headless under its `chromedriver`, driven over
//! WebDriver; likewise no skip where they are missing.
//!
//! [`SmallDisk`] is a small `tmpfs` a test fills and empties: a real full disk for the
//! durability tests, for SQLite's files or, through [`PgOptions::data_dir`], a cluster's
//! data directory.
//!
//! [`bench`] holds what the webhook benchmarks share: arguments, a receiver, percentiles.
//!
//! [`slow_reader`] asks for a long answer and reads only its head, holding it open.

pub mod bench;
pub mod browser;
mod pg;
pub mod slow_reader;
mod small_disk;

pub use pg::{Frozen, PgCluster, PgError, PgOptions};
pub use small_disk::{SmallDisk, SmallDiskError};
