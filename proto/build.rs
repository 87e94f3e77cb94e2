//! Compiles the gRPC contracts under `proto/` into tonic/prost modules (see `src/pb.rs`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const PROTOS: &[&str] = &["proto/control.proto", "proto/node.proto"];
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Command args, replies and migrated values travel as `bytes::Bytes`: the proxy and
        // the node hand them on without copying.
        .bytes(".autocache.node")
        .compile_protos(PROTOS, &["proto"])?;
    Ok(())
}
