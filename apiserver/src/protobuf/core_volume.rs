//! Field tables for core/v1 volumes: every volume source a pod may mount,
//! projections and ephemeral claims.

use super::{core_objects, meta};
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.AWSElasticBlockStoreVolumeSource",
    fields: &[
        field(1, "volumeID", Keep, Str),
        field(2, "fsType", OmitEmpty, Str),
        field(3, "partition", OmitEmpty, I32),
        field(4, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static AZURE_DISK_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.AzureDiskVolumeSource",
    fields: &[
        field(1, "diskName", Keep, Str),
        field(2, "diskURI", Keep, Str),
        field(3, "cachingMode", Keep, Str),
        field(4, "fsType", Keep, Str),
        field(5, "readOnly", Keep, Bool),
        field(6, "kind", Keep, Str),
    ],
};

pub(super) static AZURE_FILE_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.AzureFileVolumeSource",
    fields: &[
        field(1, "secretName", Keep, Str),
        field(2, "shareName", Keep, Str),
        field(3, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static CSI_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.CSIVolumeSource",
    fields: &[
        field(1, "driver", Keep, Str),
        field(2, "readOnly", Keep, Bool),
        field(3, "fsType", Keep, Str),
        field(4, "volumeAttributes", Map, Str),
        field(5, "nodePublishSecretRef", Keep, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
    ],
};

pub(super) static CEPH_FS_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.CephFSVolumeSource",
    fields: &[
        field(1, "monitors", Repeated, Str),
        field(2, "path", OmitEmpty, Str),
        field(3, "user", OmitEmpty, Str),
        field(4, "secretFile", OmitEmpty, Str),
        field(5, "secretRef", Keep, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(6, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static CINDER_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.CinderVolumeSource",
    fields: &[
        field(1, "volumeID", Keep, Str),
        field(2, "fsType", OmitEmpty, Str),
        field(3, "readOnly", OmitEmpty, Bool),
        field(4, "secretRef", Keep, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
    ],
};

pub(super) static CLUSTER_TRUST_BUNDLE_PROJECTION: Message = Message {
    name: "k8s.io.api.core.v1.ClusterTrustBundleProjection",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "signerName", Keep, Str),
        field(3, "labelSelector", Keep, Msg(&meta::LABEL_SELECTOR)),
        field(4, "path", Keep, Str),
        field(5, "optional", Keep, Bool),
    ],
};

pub(super) static CONFIG_MAP_PROJECTION: Message = Message {
    name: "k8s.io.api.core.v1.ConfigMapProjection",
    fields: &[
        field(1, "", Inline, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(2, "items", Repeated, Msg(&KEY_TO_PATH)),
        field(4, "optional", Keep, Bool),
    ],
};

pub(super) static CONFIG_MAP_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.ConfigMapVolumeSource",
    fields: &[
        field(1, "", Inline, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(2, "items", Repeated, Msg(&KEY_TO_PATH)),
        field(3, "defaultMode", Keep, I32),
        field(4, "optional", Keep, Bool),
    ],
};

pub(super) static DOWNWARD_API_PROJECTION: Message = Message {
    name: "k8s.io.api.core.v1.DownwardAPIProjection",
    fields: &[
        field(1, "items", Repeated, Msg(&DOWNWARD_API_VOLUME_FILE)),
    ],
};

pub(super) static DOWNWARD_API_VOLUME_FILE: Message = Message {
    name: "k8s.io.api.core.v1.DownwardAPIVolumeFile",
    fields: &[
        field(1, "path", Keep, Str),
        field(2, "fieldRef", Keep, Msg(&OBJECT_FIELD_SELECTOR)),
        field(3, "resourceFieldRef", Keep, Msg(&RESOURCE_FIELD_SELECTOR)),
        field(4, "mode", Keep, I32),
    ],
};

pub(super) static DOWNWARD_API_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.DownwardAPIVolumeSource",
    fields: &[
        field(1, "items", Repeated, Msg(&DOWNWARD_API_VOLUME_FILE)),
        field(2, "defaultMode", Keep, I32),
    ],
};

pub(super) static EMPTY_DIR_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.EmptyDirVolumeSource",
    fields: &[
        field(1, "medium", OmitEmpty, Str),
        field(2, "sizeLimit", Keep, Quantity),
    ],
};

pub(super) static EPHEMERAL_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.EphemeralVolumeSource",
    fields: &[
        field(1, "volumeClaimTemplate", Keep, Msg(&PERSISTENT_VOLUME_CLAIM_TEMPLATE)),
    ],
};

pub(super) static FC_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.FCVolumeSource",
    fields: &[
        field(1, "targetWWNs", Repeated, Str),
        field(2, "lun", Keep, I32),
        field(3, "fsType", OmitEmpty, Str),
        field(4, "readOnly", OmitEmpty, Bool),
        field(5, "wwids", Repeated, Str),
    ],
};

pub(super) static FLEX_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.FlexVolumeSource",
    fields: &[
        field(1, "driver", Keep, Str),
        field(2, "fsType", OmitEmpty, Str),
        field(3, "secretRef", Keep, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(4, "readOnly", OmitEmpty, Bool),
        field(5, "options", Map, Str),
    ],
};

pub(super) static FLOCKER_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.FlockerVolumeSource",
    fields: &[
        field(1, "datasetName", OmitEmpty, Str),
        field(2, "datasetUUID", OmitEmpty, Str),
    ],
};

pub(super) static GCE_PERSISTENT_DISK_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.GCEPersistentDiskVolumeSource",
    fields: &[
        field(1, "pdName", Keep, Str),
        field(2, "fsType", OmitEmpty, Str),
        field(3, "partition", OmitEmpty, I32),
        field(4, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static GIT_REPO_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.GitRepoVolumeSource",
    fields: &[
        field(1, "repository", Keep, Str),
        field(2, "revision", OmitEmpty, Str),
        field(3, "directory", OmitEmpty, Str),
    ],
};

pub(super) static GLUSTERFS_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.GlusterfsVolumeSource",
    fields: &[
        field(1, "endpoints", Keep, Str),
        field(2, "path", Keep, Str),
        field(3, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static HOST_PATH_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.HostPathVolumeSource",
    fields: &[
        field(1, "path", Keep, Str),
        field(2, "type", Keep, Str),
    ],
};

pub(super) static ISCSI_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.ISCSIVolumeSource",
    fields: &[
        field(1, "targetPortal", Keep, Str),
        field(2, "iqn", Keep, Str),
        field(3, "lun", Keep, I32),
        field(4, "iscsiInterface", OmitEmpty, Str),
        field(5, "fsType", OmitEmpty, Str),
        field(6, "readOnly", OmitEmpty, Bool),
        field(7, "portals", Repeated, Str),
        field(8, "chapAuthDiscovery", OmitEmpty, Bool),
        field(10, "secretRef", Keep, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(11, "chapAuthSession", OmitEmpty, Bool),
        field(12, "initiatorName", Keep, Str),
    ],
};

pub(super) static IMAGE_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.ImageVolumeSource",
    fields: &[
        field(1, "reference", OmitEmpty, Str),
        field(2, "pullPolicy", OmitEmpty, Str),
    ],
};

pub(super) static KEY_TO_PATH: Message = Message {
    name: "k8s.io.api.core.v1.KeyToPath",
    fields: &[
        field(1, "key", Keep, Str),
        field(2, "path", Keep, Str),
        field(3, "mode", Keep, I32),
    ],
};

pub(super) static NFS_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.NFSVolumeSource",
    fields: &[
        field(1, "server", Keep, Str),
        field(2, "path", Keep, Str),
        field(3, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static OBJECT_FIELD_SELECTOR: Message = Message {
    name: "k8s.io.api.core.v1.ObjectFieldSelector",
    fields: &[
        field(1, "apiVersion", OmitEmpty, Str),
        field(2, "fieldPath", Keep, Str),
    ],
};

pub(super) static PERSISTENT_VOLUME_CLAIM_SPEC: Message = Message {
    name: "k8s.io.api.core.v1.PersistentVolumeClaimSpec",
    fields: &[
        field(1, "accessModes", Repeated, Str),
        field(2, "resources", Keep, Msg(&core_objects::VOLUME_RESOURCE_REQUIREMENTS)),
        field(3, "volumeName", OmitEmpty, Str),
        field(4, "selector", Keep, Msg(&meta::LABEL_SELECTOR)),
        field(5, "storageClassName", Keep, Str),
        field(6, "volumeMode", Keep, Str),
        field(7, "dataSource", Keep, Msg(&core_objects::TYPED_LOCAL_OBJECT_REFERENCE)),
        field(8, "dataSourceRef", Keep, Msg(&core_objects::TYPED_OBJECT_REFERENCE)),
        field(9, "volumeAttributesClassName", Keep, Str),
    ],
};

pub(super) static PERSISTENT_VOLUME_CLAIM_TEMPLATE: Message = Message {
    name: "k8s.io.api.core.v1.PersistentVolumeClaimTemplate",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&PERSISTENT_VOLUME_CLAIM_SPEC)),
    ],
};

pub(super) static PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.PersistentVolumeClaimVolumeSource",
    fields: &[
        field(1, "claimName", Keep, Str),
        field(2, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static PHOTON_PERSISTENT_DISK_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.PhotonPersistentDiskVolumeSource",
    fields: &[
        field(1, "pdID", Keep, Str),
        field(2, "fsType", OmitEmpty, Str),
    ],
};

pub(super) static POD_CERTIFICATE_PROJECTION: Message = Message {
    name: "k8s.io.api.core.v1.PodCertificateProjection",
    fields: &[
        field(1, "signerName", OmitEmpty, Str),
        field(2, "keyType", OmitEmpty, Str),
        field(3, "maxExpirationSeconds", Keep, I32),
        field(4, "credentialBundlePath", OmitEmpty, Str),
        field(5, "keyPath", OmitEmpty, Str),
        field(6, "certificateChainPath", OmitEmpty, Str),
        field(7, "userAnnotations", Map, Str),
    ],
};

pub(super) static PORTWORX_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.PortworxVolumeSource",
    fields: &[
        field(1, "volumeID", Keep, Str),
        field(2, "fsType", OmitEmpty, Str),
        field(3, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static PROJECTED_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.ProjectedVolumeSource",
    fields: &[
        field(1, "sources", Repeated, Msg(&VOLUME_PROJECTION)),
        field(2, "defaultMode", Keep, I32),
    ],
};

pub(super) static QUOBYTE_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.QuobyteVolumeSource",
    fields: &[
        field(1, "registry", Keep, Str),
        field(2, "volume", Keep, Str),
        field(3, "readOnly", OmitEmpty, Bool),
        field(4, "user", OmitEmpty, Str),
        field(5, "group", OmitEmpty, Str),
        field(6, "tenant", OmitEmpty, Str),
    ],
};

pub(super) static RBD_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.RBDVolumeSource",
    fields: &[
        field(1, "monitors", Repeated, Str),
        field(2, "image", Keep, Str),
        field(3, "fsType", OmitEmpty, Str),
        field(4, "pool", OmitEmpty, Str),
        field(5, "user", OmitEmpty, Str),
        field(6, "keyring", OmitEmpty, Str),
        field(7, "secretRef", Keep, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(8, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static RESOURCE_FIELD_SELECTOR: Message = Message {
    name: "k8s.io.api.core.v1.ResourceFieldSelector",
    fields: &[
        field(1, "containerName", OmitEmpty, Str),
        field(2, "resource", Keep, Str),
        field(3, "divisor", Keep, Quantity),
    ],
};

pub(super) static SCALE_IO_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.ScaleIOVolumeSource",
    fields: &[
        field(1, "gateway", Keep, Str),
        field(2, "system", Keep, Str),
        field(3, "secretRef", Keep, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(4, "sslEnabled", OmitEmpty, Bool),
        field(5, "protectionDomain", OmitEmpty, Str),
        field(6, "storagePool", OmitEmpty, Str),
        field(7, "storageMode", OmitEmpty, Str),
        field(8, "volumeName", OmitEmpty, Str),
        field(9, "fsType", OmitEmpty, Str),
        field(10, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static SECRET_PROJECTION: Message = Message {
    name: "k8s.io.api.core.v1.SecretProjection",
    fields: &[
        field(1, "", Inline, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(2, "items", Repeated, Msg(&KEY_TO_PATH)),
        field(4, "optional", Keep, Bool),
    ],
};

pub(super) static SECRET_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.SecretVolumeSource",
    fields: &[
        field(1, "secretName", OmitEmpty, Str),
        field(2, "items", Repeated, Msg(&KEY_TO_PATH)),
        field(3, "defaultMode", Keep, I32),
        field(4, "optional", Keep, Bool),
    ],
};

pub(super) static SERVICE_ACCOUNT_TOKEN_PROJECTION: Message = Message {
    name: "k8s.io.api.core.v1.ServiceAccountTokenProjection",
    fields: &[
        field(1, "audience", OmitEmpty, Str),
        field(2, "expirationSeconds", Keep, I64),
        field(3, "path", Keep, Str),
    ],
};

pub(super) static STORAGE_OS_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.StorageOSVolumeSource",
    fields: &[
        field(1, "volumeName", OmitEmpty, Str),
        field(2, "volumeNamespace", OmitEmpty, Str),
        field(3, "fsType", OmitEmpty, Str),
        field(4, "readOnly", OmitEmpty, Bool),
        field(5, "secretRef", Keep, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
    ],
};

pub(super) static VOLUME: Message = Message {
    name: "k8s.io.api.core.v1.Volume",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "", Inline, Msg(&VOLUME_SOURCE)),
    ],
};

pub(super) static VOLUME_PROJECTION: Message = Message {
    name: "k8s.io.api.core.v1.VolumeProjection",
    fields: &[
        field(1, "secret", Keep, Msg(&SECRET_PROJECTION)),
        field(2, "downwardAPI", Keep, Msg(&DOWNWARD_API_PROJECTION)),
        field(3, "configMap", Keep, Msg(&CONFIG_MAP_PROJECTION)),
        field(4, "serviceAccountToken", Keep, Msg(&SERVICE_ACCOUNT_TOKEN_PROJECTION)),
        field(5, "clusterTrustBundle", Keep, Msg(&CLUSTER_TRUST_BUNDLE_PROJECTION)),
        field(6, "podCertificate", Keep, Msg(&POD_CERTIFICATE_PROJECTION)),
    ],
};

pub(super) static VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.VolumeSource",
    fields: &[
        field(1, "hostPath", Keep, Msg(&HOST_PATH_VOLUME_SOURCE)),
        field(2, "emptyDir", Keep, Msg(&EMPTY_DIR_VOLUME_SOURCE)),
        field(3, "gcePersistentDisk", Keep, Msg(&GCE_PERSISTENT_DISK_VOLUME_SOURCE)),
        field(4, "awsElasticBlockStore", Keep, Msg(&AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE)),
        field(5, "gitRepo", Keep, Msg(&GIT_REPO_VOLUME_SOURCE)),
        field(6, "secret", Keep, Msg(&SECRET_VOLUME_SOURCE)),
        field(7, "nfs", Keep, Msg(&NFS_VOLUME_SOURCE)),
        field(8, "iscsi", Keep, Msg(&ISCSI_VOLUME_SOURCE)),
        field(9, "glusterfs", Keep, Msg(&GLUSTERFS_VOLUME_SOURCE)),
        field(10, "persistentVolumeClaim", Keep, Msg(&PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE)),
        field(11, "rbd", Keep, Msg(&RBD_VOLUME_SOURCE)),
        field(12, "flexVolume", Keep, Msg(&FLEX_VOLUME_SOURCE)),
        field(13, "cinder", Keep, Msg(&CINDER_VOLUME_SOURCE)),
        field(14, "cephfs", Keep, Msg(&CEPH_FS_VOLUME_SOURCE)),
        field(15, "flocker", Keep, Msg(&FLOCKER_VOLUME_SOURCE)),
        field(16, "downwardAPI", Keep, Msg(&DOWNWARD_API_VOLUME_SOURCE)),
        field(17, "fc", Keep, Msg(&FC_VOLUME_SOURCE)),
        field(18, "azureFile", Keep, Msg(&AZURE_FILE_VOLUME_SOURCE)),
        field(19, "configMap", Keep, Msg(&CONFIG_MAP_VOLUME_SOURCE)),
        field(20, "vsphereVolume", Keep, Msg(&VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE)),
        field(21, "quobyte", Keep, Msg(&QUOBYTE_VOLUME_SOURCE)),
        field(22, "azureDisk", Keep, Msg(&AZURE_DISK_VOLUME_SOURCE)),
        field(23, "photonPersistentDisk", Keep, Msg(&PHOTON_PERSISTENT_DISK_VOLUME_SOURCE)),
        field(24, "portworxVolume", Keep, Msg(&PORTWORX_VOLUME_SOURCE)),
        field(25, "scaleIO", Keep, Msg(&SCALE_IO_VOLUME_SOURCE)),
        field(26, "projected", Keep, Msg(&PROJECTED_VOLUME_SOURCE)),
        field(27, "storageos", Keep, Msg(&STORAGE_OS_VOLUME_SOURCE)),
        field(28, "csi", Keep, Msg(&CSI_VOLUME_SOURCE)),
        field(29, "ephemeral", Keep, Msg(&EPHEMERAL_VOLUME_SOURCE)),
        field(30, "image", Keep, Msg(&IMAGE_VOLUME_SOURCE)),
    ],
};

pub(super) static VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.VsphereVirtualDiskVolumeSource",
    fields: &[
        field(1, "volumePath", Keep, Str),
        field(2, "fsType", OmitEmpty, Str),
        field(3, "storagePolicyName", OmitEmpty, Str),
        field(4, "storagePolicyID", OmitEmpty, Str),
    ],
};
