//! The pod's volumes on the node and a container's mounts of them.

use k8s_openapi::api::core::v1::{Container, Pod};

use super::sync::PodWorker;
use crate::runtime::Mount;
use crate::volume::{container_mounts, set_up_pod_volumes, PodVolumes};

impl PodWorker {
    /// Sets up (or refreshes: a changed ConfigMap or Secret is rewritten
    /// atomically) the volumes of `pod` under its directory.
    pub(super) fn set_up_volumes(&self, pod: &Pod) -> Result<PodVolumes, String> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let dir = self.shared.pods_dir.join(uid);
        set_up_pod_volumes(&dir, pod, self.shared.lookup.as_ref()).map_err(|e| e.to_string())
    }

    /// The mounts of `container`'s volumeMounts; `env` expands `subPathExpr`.
    pub(super) fn mounts(
        &self,
        pod: &Pod,
        container: &Container,
        env: &[(String, String)],
    ) -> Result<Vec<Mount>, String> {
        let volumes = self.set_up_volumes(pod)?;
        container_mounts(&volumes, container, env).map_err(|e| e.to_string())
    }
}
