//! Generated gRPC code (tonic + prost) for the `.proto` files under `proto/proto/`.
//! Never edited by hand: change the `.proto` and rebuild.

/// `control.proto`: membership, slot map watch, admin API, migration reports.
#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod control {
    tonic::include_proto!("autocache.control");
}

/// `node.proto`: proxy batches, node-to-node slot import, migration start, node info.
#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod node {
    tonic::include_proto!("autocache.node");
}
