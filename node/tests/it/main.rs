//! Every integration test of the node in one binary: one link instead of one per file (each
//! links RocksDB and the AWS SDK). Modules by area; shared harnesses below.

#[path = "../cluster_harness/mod.rs"]
mod cluster_harness;
#[path = "../common/mod.rs"]
mod common;
#[path = "../tier_harness/mod.rs"]
mod tier_harness;

mod binary;
mod bitmaps;
mod cluster_basic;
mod cluster_migration;
mod cluster_resharding;
mod cold;
mod connection;
mod differential;
mod dump_compat;
mod eviction;
mod expiry;
mod hashes;
mod keys;
mod lists;
mod metrics;
mod notifications;
mod protocol;
mod pubsub;
mod scripting;
mod server;
mod sets;
mod smoke;
mod strings;
mod tiered;
mod transactions;
mod zsets;
