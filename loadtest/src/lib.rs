//! AutoCache load generator and benchmark runner.
//!
//! Empty until the loadtest issue lands; `make bench-node` drives `redis-benchmark` meanwhile.
#![forbid(unsafe_code)]

pub use autocache_proto::slot::key_slot;
