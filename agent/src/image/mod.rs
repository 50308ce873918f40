//! Images without a registry: OCI image archives built from a directory or a
//! static binary, imported into containerd's `k8s.io` namespace.
