//! Generates the etcd v3, berth Raft transport and berth API code with a vendored protoc,
//! so building needs no system protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // prost-build finds protoc through this variable.
    std::env::set_var("PROTOC", protoc);
    tonic_prost_build::configure().compile_protos(
        &[
            "proto/etcd/kv.proto",
            "proto/etcd/rpc.proto",
            "proto/berth/raft.proto",
            "proto/berth/api/v1/resources.proto",
        ],
        &["proto"],
    )?;
    Ok(())
}
