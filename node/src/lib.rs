//! AutoCache storage node: a Redis-compatible server that owns the data of its slots.
//!
//! `run(listener, config, shutdown)` serves RESP clients on a bound listener until the
//! shutdown future completes; the `autocache-node` binary and the tests both start it.
#![deny(unsafe_code)]

pub mod blocking;
pub mod client;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod db;
pub mod dump;
pub mod glob;
pub mod info;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod pubsub;
pub mod script;
pub mod server;
pub mod tier;
pub mod types;

pub use config::Config;
pub use server::run;

// jemalloc: its statistics are what INFO's used_memory and maxmemory enforcement read.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
