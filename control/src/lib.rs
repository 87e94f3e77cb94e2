//! AutoCache control service: membership, the slot map and its epoch, resharding.
//!
//! Empty until the control issue lands.
#![forbid(unsafe_code)]

pub use autocache_proto::slot::SLOT_COUNT;
