//! Contracts every AutoCache tier shares: slot hashing, the command table, RESP framing, and
//! the HTTP endpoint for probes and Prometheus scrapes.
//!
//! No tier-specific logic lives here: the node executes and the proxy routes with the same
//! table, and both parse requests with the same framing code.
#![forbid(unsafe_code)]

pub mod command;
pub mod http;
pub mod pb;
pub mod resp;
pub mod slot;
pub mod slotmap;
