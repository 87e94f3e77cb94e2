//! AutoCache proxy: a stateless RESP front that routes each key by slot to its node.
//!
//! Empty until the proxy issue lands; it already shares the slot hashing and the command
//! table of `autocache-proto`, which is what it will route with.
#![forbid(unsafe_code)]

pub use autocache_proto::{command, slot};
