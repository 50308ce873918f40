//! Field tables for core/v1 persistent volumes and claims with their persistent
//! volume sources.

use super::{core_objects, core_volume, meta};
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static AZURE_FILE_PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.AzureFilePersistentVolumeSource",
    fields: &[
        field(1, "secretName", Keep, Str),
        field(2, "shareName", Keep, Str),
        field(3, "readOnly", OmitEmpty, Bool),
        field(4, "secretNamespace", Keep, Str),
    ],
};

pub(super) static CSI_PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.CSIPersistentVolumeSource",
    fields: &[
        field(1, "driver", Keep, Str),
        field(2, "volumeHandle", Keep, Str),
        field(3, "readOnly", OmitEmpty, Bool),
        field(4, "fsType", OmitEmpty, Str),
        field(5, "volumeAttributes", Map, Str),
        field(6, "controllerPublishSecretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
        field(7, "nodeStageSecretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
        field(8, "nodePublishSecretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
        field(9, "controllerExpandSecretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
        field(10, "nodeExpandSecretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
    ],
};

pub(super) static CEPH_FS_PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.CephFSPersistentVolumeSource",
    fields: &[
        field(1, "monitors", Repeated, Str),
        field(2, "path", OmitEmpty, Str),
        field(3, "user", OmitEmpty, Str),
        field(4, "secretFile", OmitEmpty, Str),
        field(5, "secretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
        field(6, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static CINDER_PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.CinderPersistentVolumeSource",
    fields: &[
        field(1, "volumeID", Keep, Str),
        field(2, "fsType", OmitEmpty, Str),
        field(3, "readOnly", OmitEmpty, Bool),
        field(4, "secretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
    ],
};

pub(super) static FLEX_PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.FlexPersistentVolumeSource",
    fields: &[
        field(1, "driver", Keep, Str),
        field(2, "fsType", OmitEmpty, Str),
        field(3, "secretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
        field(4, "readOnly", OmitEmpty, Bool),
        field(5, "options", Map, Str),
    ],
};

pub(super) static GLUSTERFS_PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.GlusterfsPersistentVolumeSource",
    fields: &[
        field(1, "endpoints", Keep, Str),
        field(2, "path", Keep, Str),
        field(3, "readOnly", OmitEmpty, Bool),
        field(4, "endpointsNamespace", Keep, Str),
    ],
};

pub(super) static ISCSI_PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.ISCSIPersistentVolumeSource",
    fields: &[
        field(1, "targetPortal", Keep, Str),
        field(2, "iqn", Keep, Str),
        field(3, "lun", Keep, I32),
        field(4, "iscsiInterface", OmitEmpty, Str),
        field(5, "fsType", OmitEmpty, Str),
        field(6, "readOnly", OmitEmpty, Bool),
        field(7, "portals", Repeated, Str),
        field(8, "chapAuthDiscovery", OmitEmpty, Bool),
        field(10, "secretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
        field(11, "chapAuthSession", OmitEmpty, Bool),
        field(12, "initiatorName", Keep, Str),
    ],
};

pub(super) static LOCAL_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.LocalVolumeSource",
    fields: &[
        field(1, "path", Keep, Str),
        field(2, "fsType", Keep, Str),
    ],
};

pub(super) static MODIFY_VOLUME_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.ModifyVolumeStatus",
    fields: &[
        field(1, "targetVolumeAttributesClassName", OmitEmpty, Str),
        field(2, "status", Keep, Str),
    ],
};

pub(super) static PERSISTENT_VOLUME: Message = Message {
    name: "k8s.io.api.core.v1.PersistentVolume",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&PERSISTENT_VOLUME_SPEC)),
        field(3, "status", Keep, Msg(&PERSISTENT_VOLUME_STATUS)),
    ],
};

pub(super) static PERSISTENT_VOLUME_CLAIM: Message = Message {
    name: "k8s.io.api.core.v1.PersistentVolumeClaim",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&core_volume::PERSISTENT_VOLUME_CLAIM_SPEC)),
        field(3, "status", Keep, Msg(&PERSISTENT_VOLUME_CLAIM_STATUS)),
    ],
};

pub(super) static PERSISTENT_VOLUME_CLAIM_CONDITION: Message = Message {
    name: "k8s.io.api.core.v1.PersistentVolumeClaimCondition",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "status", Keep, Str),
        field(3, "lastProbeTime", Keep, Time),
        field(4, "lastTransitionTime", Keep, Time),
        field(5, "reason", OmitEmpty, Str),
        field(6, "message", OmitEmpty, Str),
    ],
};

pub(super) static PERSISTENT_VOLUME_CLAIM_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.PersistentVolumeClaimStatus",
    fields: &[
        field(1, "phase", OmitEmpty, Str),
        field(2, "accessModes", Repeated, Str),
        field(3, "capacity", Map, Quantity),
        field(4, "conditions", Repeated, Msg(&PERSISTENT_VOLUME_CLAIM_CONDITION)),
        field(5, "allocatedResources", Map, Quantity),
        field(7, "allocatedResourceStatuses", Map, Str),
        field(8, "currentVolumeAttributesClassName", Keep, Str),
        field(9, "modifyVolumeStatus", Keep, Msg(&MODIFY_VOLUME_STATUS)),
    ],
};

pub(super) static PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.PersistentVolumeSource",
    fields: &[
        field(1, "gcePersistentDisk", Keep, Msg(&core_volume::GCE_PERSISTENT_DISK_VOLUME_SOURCE)),
        field(2, "awsElasticBlockStore", Keep, Msg(&core_volume::AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE)),
        field(3, "hostPath", Keep, Msg(&core_volume::HOST_PATH_VOLUME_SOURCE)),
        field(4, "glusterfs", Keep, Msg(&GLUSTERFS_PERSISTENT_VOLUME_SOURCE)),
        field(5, "nfs", Keep, Msg(&core_volume::NFS_VOLUME_SOURCE)),
        field(6, "rbd", Keep, Msg(&RBD_PERSISTENT_VOLUME_SOURCE)),
        field(7, "iscsi", Keep, Msg(&ISCSI_PERSISTENT_VOLUME_SOURCE)),
        field(8, "cinder", Keep, Msg(&CINDER_PERSISTENT_VOLUME_SOURCE)),
        field(9, "cephfs", Keep, Msg(&CEPH_FS_PERSISTENT_VOLUME_SOURCE)),
        field(10, "fc", Keep, Msg(&core_volume::FC_VOLUME_SOURCE)),
        field(11, "flocker", Keep, Msg(&core_volume::FLOCKER_VOLUME_SOURCE)),
        field(12, "flexVolume", Keep, Msg(&FLEX_PERSISTENT_VOLUME_SOURCE)),
        field(13, "azureFile", Keep, Msg(&AZURE_FILE_PERSISTENT_VOLUME_SOURCE)),
        field(14, "vsphereVolume", Keep, Msg(&core_volume::VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE)),
        field(15, "quobyte", Keep, Msg(&core_volume::QUOBYTE_VOLUME_SOURCE)),
        field(16, "azureDisk", Keep, Msg(&core_volume::AZURE_DISK_VOLUME_SOURCE)),
        field(17, "photonPersistentDisk", Keep, Msg(&core_volume::PHOTON_PERSISTENT_DISK_VOLUME_SOURCE)),
        field(18, "portworxVolume", Keep, Msg(&core_volume::PORTWORX_VOLUME_SOURCE)),
        field(19, "scaleIO", Keep, Msg(&SCALE_IO_PERSISTENT_VOLUME_SOURCE)),
        field(20, "local", Keep, Msg(&LOCAL_VOLUME_SOURCE)),
        field(21, "storageos", Keep, Msg(&STORAGE_OS_PERSISTENT_VOLUME_SOURCE)),
        field(22, "csi", Keep, Msg(&CSI_PERSISTENT_VOLUME_SOURCE)),
    ],
};

pub(super) static PERSISTENT_VOLUME_SPEC: Message = Message {
    name: "k8s.io.api.core.v1.PersistentVolumeSpec",
    fields: &[
        field(1, "capacity", Map, Quantity),
        field(2, "", Inline, Msg(&PERSISTENT_VOLUME_SOURCE)),
        field(3, "accessModes", Repeated, Str),
        field(4, "claimRef", Keep, Msg(&core_objects::OBJECT_REFERENCE)),
        field(5, "persistentVolumeReclaimPolicy", OmitEmpty, Str),
        field(6, "storageClassName", OmitEmpty, Str),
        field(7, "mountOptions", Repeated, Str),
        field(8, "volumeMode", Keep, Str),
        field(9, "nodeAffinity", Keep, Msg(&VOLUME_NODE_AFFINITY)),
        field(10, "volumeAttributesClassName", Keep, Str),
    ],
};

pub(super) static PERSISTENT_VOLUME_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.PersistentVolumeStatus",
    fields: &[
        field(1, "phase", OmitEmpty, Str),
        field(2, "message", OmitEmpty, Str),
        field(3, "reason", OmitEmpty, Str),
        field(4, "lastPhaseTransitionTime", Keep, Time),
    ],
};

pub(super) static RBD_PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.RBDPersistentVolumeSource",
    fields: &[
        field(1, "monitors", Repeated, Str),
        field(2, "image", Keep, Str),
        field(3, "fsType", OmitEmpty, Str),
        field(4, "pool", OmitEmpty, Str),
        field(5, "user", OmitEmpty, Str),
        field(6, "keyring", OmitEmpty, Str),
        field(7, "secretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
        field(8, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static SCALE_IO_PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.ScaleIOPersistentVolumeSource",
    fields: &[
        field(1, "gateway", Keep, Str),
        field(2, "system", Keep, Str),
        field(3, "secretRef", Keep, Msg(&core_objects::SECRET_REFERENCE)),
        field(4, "sslEnabled", OmitEmpty, Bool),
        field(5, "protectionDomain", OmitEmpty, Str),
        field(6, "storagePool", OmitEmpty, Str),
        field(7, "storageMode", OmitEmpty, Str),
        field(8, "volumeName", OmitEmpty, Str),
        field(9, "fsType", OmitEmpty, Str),
        field(10, "readOnly", OmitEmpty, Bool),
    ],
};

pub(super) static STORAGE_OS_PERSISTENT_VOLUME_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.StorageOSPersistentVolumeSource",
    fields: &[
        field(1, "volumeName", OmitEmpty, Str),
        field(2, "volumeNamespace", OmitEmpty, Str),
        field(3, "fsType", OmitEmpty, Str),
        field(4, "readOnly", OmitEmpty, Bool),
        field(5, "secretRef", Keep, Msg(&core_objects::OBJECT_REFERENCE)),
    ],
};

pub(super) static VOLUME_NODE_AFFINITY: Message = Message {
    name: "k8s.io.api.core.v1.VolumeNodeAffinity",
    fields: &[
        field(1, "required", Keep, Msg(&core_objects::NODE_SELECTOR)),
    ],
};
