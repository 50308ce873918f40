//! Field tables for core/v1 pod specs: containers, probes, environment,
//! security contexts, affinity, tolerations and the pod template.

use super::{core_objects, core_volume, meta};
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static AFFINITY: Message = Message {
    name: "k8s.io.api.core.v1.Affinity",
    fields: &[
        field(1, "nodeAffinity", Keep, Msg(&NODE_AFFINITY)),
        field(2, "podAffinity", Keep, Msg(&POD_AFFINITY)),
        field(3, "podAntiAffinity", Keep, Msg(&POD_ANTI_AFFINITY)),
    ],
};

pub(super) static APP_ARMOR_PROFILE: Message = Message {
    name: "k8s.io.api.core.v1.AppArmorProfile",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "localhostProfile", Keep, Str),
    ],
};

pub(super) static CAPABILITIES: Message = Message {
    name: "k8s.io.api.core.v1.Capabilities",
    fields: &[
        field(1, "add", Repeated, Str),
        field(2, "drop", Repeated, Str),
    ],
};

pub(super) static CONFIG_MAP_ENV_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.ConfigMapEnvSource",
    fields: &[
        field(1, "", Inline, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(2, "optional", Keep, Bool),
    ],
};

pub(super) static CONFIG_MAP_KEY_SELECTOR: Message = Message {
    name: "k8s.io.api.core.v1.ConfigMapKeySelector",
    fields: &[
        field(1, "", Inline, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(2, "key", Keep, Str),
        field(3, "optional", Keep, Bool),
    ],
};

pub(super) static CONTAINER: Message = Message {
    name: "k8s.io.api.core.v1.Container",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "image", OmitEmpty, Str),
        field(3, "command", Repeated, Str),
        field(4, "args", Repeated, Str),
        field(5, "workingDir", OmitEmpty, Str),
        field(6, "ports", Repeated, Msg(&CONTAINER_PORT)),
        field(7, "env", Repeated, Msg(&ENV_VAR)),
        field(8, "resources", Keep, Msg(&core_objects::RESOURCE_REQUIREMENTS)),
        field(9, "volumeMounts", Repeated, Msg(&VOLUME_MOUNT)),
        field(10, "livenessProbe", Keep, Msg(&PROBE)),
        field(11, "readinessProbe", Keep, Msg(&PROBE)),
        field(12, "lifecycle", Keep, Msg(&LIFECYCLE)),
        field(13, "terminationMessagePath", OmitEmpty, Str),
        field(14, "imagePullPolicy", OmitEmpty, Str),
        field(15, "securityContext", Keep, Msg(&SECURITY_CONTEXT)),
        field(16, "stdin", OmitEmpty, Bool),
        field(17, "stdinOnce", OmitEmpty, Bool),
        field(18, "tty", OmitEmpty, Bool),
        field(19, "envFrom", Repeated, Msg(&ENV_FROM_SOURCE)),
        field(20, "terminationMessagePolicy", OmitEmpty, Str),
        field(21, "volumeDevices", Repeated, Msg(&VOLUME_DEVICE)),
        field(22, "startupProbe", Keep, Msg(&PROBE)),
        field(23, "resizePolicy", Repeated, Msg(&CONTAINER_RESIZE_POLICY)),
        field(24, "restartPolicy", Keep, Str),
        field(25, "restartPolicyRules", Repeated, Msg(&CONTAINER_RESTART_RULE)),
    ],
};

pub(super) static CONTAINER_PORT: Message = Message {
    name: "k8s.io.api.core.v1.ContainerPort",
    fields: &[
        field(1, "name", OmitEmpty, Str),
        field(2, "hostPort", OmitEmpty, I32),
        field(3, "containerPort", Keep, I32),
        field(4, "protocol", OmitEmpty, Str),
        field(5, "hostIP", OmitEmpty, Str),
    ],
};

pub(super) static CONTAINER_RESIZE_POLICY: Message = Message {
    name: "k8s.io.api.core.v1.ContainerResizePolicy",
    fields: &[
        field(1, "resourceName", Keep, Str),
        field(2, "restartPolicy", Keep, Str),
    ],
};

pub(super) static CONTAINER_RESTART_RULE: Message = Message {
    name: "k8s.io.api.core.v1.ContainerRestartRule",
    fields: &[
        field(1, "action", OmitEmpty, Str),
        field(2, "exitCodes", Keep, Msg(&CONTAINER_RESTART_RULE_ON_EXIT_CODES)),
    ],
};

pub(super) static CONTAINER_RESTART_RULE_ON_EXIT_CODES: Message = Message {
    name: "k8s.io.api.core.v1.ContainerRestartRuleOnExitCodes",
    fields: &[
        field(1, "operator", OmitEmpty, Str),
        field(2, "values", Repeated, I32),
    ],
};

pub(super) static ENV_FROM_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.EnvFromSource",
    fields: &[
        field(1, "prefix", OmitEmpty, Str),
        field(2, "configMapRef", Keep, Msg(&CONFIG_MAP_ENV_SOURCE)),
        field(3, "secretRef", Keep, Msg(&SECRET_ENV_SOURCE)),
    ],
};

pub(super) static ENV_VAR: Message = Message {
    name: "k8s.io.api.core.v1.EnvVar",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "value", OmitEmpty, Str),
        field(3, "valueFrom", Keep, Msg(&ENV_VAR_SOURCE)),
    ],
};

pub(super) static ENV_VAR_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.EnvVarSource",
    fields: &[
        field(1, "fieldRef", Keep, Msg(&core_volume::OBJECT_FIELD_SELECTOR)),
        field(2, "resourceFieldRef", Keep, Msg(&core_volume::RESOURCE_FIELD_SELECTOR)),
        field(3, "configMapKeyRef", Keep, Msg(&CONFIG_MAP_KEY_SELECTOR)),
        field(4, "secretKeyRef", Keep, Msg(&SECRET_KEY_SELECTOR)),
        field(5, "fileKeyRef", Keep, Msg(&FILE_KEY_SELECTOR)),
    ],
};

pub(super) static EPHEMERAL_CONTAINER: Message = Message {
    name: "k8s.io.api.core.v1.EphemeralContainer",
    fields: &[
        field(1, "", Inline, Msg(&EPHEMERAL_CONTAINER_COMMON)),
        field(2, "targetContainerName", OmitEmpty, Str),
    ],
};

pub(super) static EPHEMERAL_CONTAINER_COMMON: Message = Message {
    name: "k8s.io.api.core.v1.EphemeralContainerCommon",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "image", OmitEmpty, Str),
        field(3, "command", Repeated, Str),
        field(4, "args", Repeated, Str),
        field(5, "workingDir", OmitEmpty, Str),
        field(6, "ports", Repeated, Msg(&CONTAINER_PORT)),
        field(7, "env", Repeated, Msg(&ENV_VAR)),
        field(8, "resources", Keep, Msg(&core_objects::RESOURCE_REQUIREMENTS)),
        field(9, "volumeMounts", Repeated, Msg(&VOLUME_MOUNT)),
        field(10, "livenessProbe", Keep, Msg(&PROBE)),
        field(11, "readinessProbe", Keep, Msg(&PROBE)),
        field(12, "lifecycle", Keep, Msg(&LIFECYCLE)),
        field(13, "terminationMessagePath", OmitEmpty, Str),
        field(14, "imagePullPolicy", OmitEmpty, Str),
        field(15, "securityContext", Keep, Msg(&SECURITY_CONTEXT)),
        field(16, "stdin", OmitEmpty, Bool),
        field(17, "stdinOnce", OmitEmpty, Bool),
        field(18, "tty", OmitEmpty, Bool),
        field(19, "envFrom", Repeated, Msg(&ENV_FROM_SOURCE)),
        field(20, "terminationMessagePolicy", OmitEmpty, Str),
        field(21, "volumeDevices", Repeated, Msg(&VOLUME_DEVICE)),
        field(22, "startupProbe", Keep, Msg(&PROBE)),
        field(23, "resizePolicy", Repeated, Msg(&CONTAINER_RESIZE_POLICY)),
        field(24, "restartPolicy", Keep, Str),
        field(25, "restartPolicyRules", Repeated, Msg(&CONTAINER_RESTART_RULE)),
    ],
};

pub(super) static EXEC_ACTION: Message = Message {
    name: "k8s.io.api.core.v1.ExecAction",
    fields: &[
        field(1, "command", Repeated, Str),
    ],
};

pub(super) static FILE_KEY_SELECTOR: Message = Message {
    name: "k8s.io.api.core.v1.FileKeySelector",
    fields: &[
        field(1, "volumeName", Keep, Str),
        field(2, "path", Keep, Str),
        field(3, "key", Keep, Str),
        field(4, "optional", Keep, Bool),
    ],
};

pub(super) static GRPC_ACTION: Message = Message {
    name: "k8s.io.api.core.v1.GRPCAction",
    fields: &[
        field(1, "port", Keep, I32),
        field(2, "service", Keep, Str),
    ],
};

pub(super) static HTTP_GET_ACTION: Message = Message {
    name: "k8s.io.api.core.v1.HTTPGetAction",
    fields: &[
        field(1, "path", OmitEmpty, Str),
        field(2, "port", Keep, IntOrString),
        field(3, "host", OmitEmpty, Str),
        field(4, "scheme", OmitEmpty, Str),
        field(5, "httpHeaders", Repeated, Msg(&HTTP_HEADER)),
    ],
};

pub(super) static HTTP_HEADER: Message = Message {
    name: "k8s.io.api.core.v1.HTTPHeader",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "value", Keep, Str),
    ],
};

pub(super) static HOST_ALIAS: Message = Message {
    name: "k8s.io.api.core.v1.HostAlias",
    fields: &[
        field(1, "ip", Keep, Str),
        field(2, "hostnames", Repeated, Str),
    ],
};

pub(super) static LIFECYCLE: Message = Message {
    name: "k8s.io.api.core.v1.Lifecycle",
    fields: &[
        field(1, "postStart", Keep, Msg(&LIFECYCLE_HANDLER)),
        field(2, "preStop", Keep, Msg(&LIFECYCLE_HANDLER)),
        field(3, "stopSignal", Keep, Str),
    ],
};

pub(super) static LIFECYCLE_HANDLER: Message = Message {
    name: "k8s.io.api.core.v1.LifecycleHandler",
    fields: &[
        field(1, "exec", Keep, Msg(&EXEC_ACTION)),
        field(2, "httpGet", Keep, Msg(&HTTP_GET_ACTION)),
        field(3, "tcpSocket", Keep, Msg(&TCP_SOCKET_ACTION)),
        field(4, "sleep", Keep, Msg(&SLEEP_ACTION)),
    ],
};

pub(super) static NODE_AFFINITY: Message = Message {
    name: "k8s.io.api.core.v1.NodeAffinity",
    fields: &[
        field(1, "requiredDuringSchedulingIgnoredDuringExecution", Keep, Msg(&core_objects::NODE_SELECTOR)),
        field(2, "preferredDuringSchedulingIgnoredDuringExecution", Repeated, Msg(&PREFERRED_SCHEDULING_TERM)),
    ],
};

pub(super) static POD_AFFINITY: Message = Message {
    name: "k8s.io.api.core.v1.PodAffinity",
    fields: &[
        field(1, "requiredDuringSchedulingIgnoredDuringExecution", Repeated, Msg(&POD_AFFINITY_TERM)),
        field(2, "preferredDuringSchedulingIgnoredDuringExecution", Repeated, Msg(&WEIGHTED_POD_AFFINITY_TERM)),
    ],
};

pub(super) static POD_AFFINITY_TERM: Message = Message {
    name: "k8s.io.api.core.v1.PodAffinityTerm",
    fields: &[
        field(1, "labelSelector", Keep, Msg(&meta::LABEL_SELECTOR)),
        field(2, "namespaces", Repeated, Str),
        field(3, "topologyKey", Keep, Str),
        field(4, "namespaceSelector", Keep, Msg(&meta::LABEL_SELECTOR)),
        field(5, "matchLabelKeys", Repeated, Str),
        field(6, "mismatchLabelKeys", Repeated, Str),
    ],
};

pub(super) static POD_ANTI_AFFINITY: Message = Message {
    name: "k8s.io.api.core.v1.PodAntiAffinity",
    fields: &[
        field(1, "requiredDuringSchedulingIgnoredDuringExecution", Repeated, Msg(&POD_AFFINITY_TERM)),
        field(2, "preferredDuringSchedulingIgnoredDuringExecution", Repeated, Msg(&WEIGHTED_POD_AFFINITY_TERM)),
    ],
};

pub(super) static POD_DNS_CONFIG: Message = Message {
    name: "k8s.io.api.core.v1.PodDNSConfig",
    fields: &[
        field(1, "nameservers", Repeated, Str),
        field(2, "searches", Repeated, Str),
        field(3, "options", Repeated, Msg(&POD_DNS_CONFIG_OPTION)),
    ],
};

pub(super) static POD_DNS_CONFIG_OPTION: Message = Message {
    name: "k8s.io.api.core.v1.PodDNSConfigOption",
    fields: &[
        field(1, "name", OmitEmpty, Str),
        field(2, "value", Keep, Str),
    ],
};

pub(super) static POD_OS: Message = Message {
    name: "k8s.io.api.core.v1.PodOS",
    fields: &[
        field(1, "name", Keep, Str),
    ],
};

pub(super) static POD_READINESS_GATE: Message = Message {
    name: "k8s.io.api.core.v1.PodReadinessGate",
    fields: &[
        field(1, "conditionType", Keep, Str),
    ],
};

pub(super) static POD_RESOURCE_CLAIM: Message = Message {
    name: "k8s.io.api.core.v1.PodResourceClaim",
    fields: &[
        field(1, "name", Keep, Str),
        field(3, "resourceClaimName", Keep, Str),
        field(4, "resourceClaimTemplateName", Keep, Str),
    ],
};

pub(super) static POD_SCHEDULING_GATE: Message = Message {
    name: "k8s.io.api.core.v1.PodSchedulingGate",
    fields: &[
        field(1, "name", Keep, Str),
    ],
};

pub(super) static POD_SECURITY_CONTEXT: Message = Message {
    name: "k8s.io.api.core.v1.PodSecurityContext",
    fields: &[
        field(1, "seLinuxOptions", Keep, Msg(&SE_LINUX_OPTIONS)),
        field(2, "runAsUser", Keep, I64),
        field(3, "runAsNonRoot", Keep, Bool),
        field(4, "supplementalGroups", Repeated, I64),
        field(5, "fsGroup", Keep, I64),
        field(6, "runAsGroup", Keep, I64),
        field(7, "sysctls", Repeated, Msg(&SYSCTL)),
        field(8, "windowsOptions", Keep, Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
        field(9, "fsGroupChangePolicy", Keep, Str),
        field(10, "seccompProfile", Keep, Msg(&SECCOMP_PROFILE)),
        field(11, "appArmorProfile", Keep, Msg(&APP_ARMOR_PROFILE)),
        field(12, "supplementalGroupsPolicy", Keep, Str),
        field(13, "seLinuxChangePolicy", Keep, Str),
    ],
};

pub(super) static POD_SPEC: Message = Message {
    name: "k8s.io.api.core.v1.PodSpec",
    fields: &[
        field(1, "volumes", Repeated, Msg(&core_volume::VOLUME)),
        field(2, "containers", Repeated, Msg(&CONTAINER)),
        field(3, "restartPolicy", OmitEmpty, Str),
        field(4, "terminationGracePeriodSeconds", Keep, I64),
        field(5, "activeDeadlineSeconds", Keep, I64),
        field(6, "dnsPolicy", OmitEmpty, Str),
        field(7, "nodeSelector", Map, Str),
        field(8, "serviceAccountName", OmitEmpty, Str),
        field(9, "serviceAccount", OmitEmpty, Str),
        field(10, "nodeName", OmitEmpty, Str),
        field(11, "hostNetwork", OmitEmpty, Bool),
        field(12, "hostPID", OmitEmpty, Bool),
        field(13, "hostIPC", OmitEmpty, Bool),
        field(14, "securityContext", Keep, Msg(&POD_SECURITY_CONTEXT)),
        field(15, "imagePullSecrets", Repeated, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(16, "hostname", OmitEmpty, Str),
        field(17, "subdomain", OmitEmpty, Str),
        field(18, "affinity", Keep, Msg(&AFFINITY)),
        field(19, "schedulerName", OmitEmpty, Str),
        field(20, "initContainers", Repeated, Msg(&CONTAINER)),
        field(21, "automountServiceAccountToken", Keep, Bool),
        field(22, "tolerations", Repeated, Msg(&TOLERATION)),
        field(23, "hostAliases", Repeated, Msg(&HOST_ALIAS)),
        field(24, "priorityClassName", OmitEmpty, Str),
        field(25, "priority", Keep, I32),
        field(26, "dnsConfig", Keep, Msg(&POD_DNS_CONFIG)),
        field(27, "shareProcessNamespace", Keep, Bool),
        field(28, "readinessGates", Repeated, Msg(&POD_READINESS_GATE)),
        field(29, "runtimeClassName", Keep, Str),
        field(30, "enableServiceLinks", Keep, Bool),
        field(31, "preemptionPolicy", Keep, Str),
        field(32, "overhead", Map, Quantity),
        field(33, "topologySpreadConstraints", Repeated, Msg(&TOPOLOGY_SPREAD_CONSTRAINT)),
        field(34, "ephemeralContainers", Repeated, Msg(&EPHEMERAL_CONTAINER)),
        field(35, "setHostnameAsFQDN", Keep, Bool),
        field(36, "os", Keep, Msg(&POD_OS)),
        field(37, "hostUsers", Keep, Bool),
        field(38, "schedulingGates", Repeated, Msg(&POD_SCHEDULING_GATE)),
        field(39, "resourceClaims", Repeated, Msg(&POD_RESOURCE_CLAIM)),
        field(40, "resources", Keep, Msg(&core_objects::RESOURCE_REQUIREMENTS)),
        field(41, "hostnameOverride", Keep, Str),
        field(42, "workloadRef", Keep, Msg(&WORKLOAD_REFERENCE)),
    ],
};

pub(super) static POD_TEMPLATE_SPEC: Message = Message {
    name: "k8s.io.api.core.v1.PodTemplateSpec",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&POD_SPEC)),
    ],
};

pub(super) static PREFERRED_SCHEDULING_TERM: Message = Message {
    name: "k8s.io.api.core.v1.PreferredSchedulingTerm",
    fields: &[
        field(1, "weight", Keep, I32),
        field(2, "preference", Keep, Msg(&core_objects::NODE_SELECTOR_TERM)),
    ],
};

pub(super) static PROBE: Message = Message {
    name: "k8s.io.api.core.v1.Probe",
    fields: &[
        field(1, "", Inline, Msg(&PROBE_HANDLER)),
        field(2, "initialDelaySeconds", OmitEmpty, I32),
        field(3, "timeoutSeconds", OmitEmpty, I32),
        field(4, "periodSeconds", OmitEmpty, I32),
        field(5, "successThreshold", OmitEmpty, I32),
        field(6, "failureThreshold", OmitEmpty, I32),
        field(7, "terminationGracePeriodSeconds", Keep, I64),
    ],
};

pub(super) static PROBE_HANDLER: Message = Message {
    name: "k8s.io.api.core.v1.ProbeHandler",
    fields: &[
        field(1, "exec", Keep, Msg(&EXEC_ACTION)),
        field(2, "httpGet", Keep, Msg(&HTTP_GET_ACTION)),
        field(3, "tcpSocket", Keep, Msg(&TCP_SOCKET_ACTION)),
        field(4, "grpc", Keep, Msg(&GRPC_ACTION)),
    ],
};

pub(super) static SE_LINUX_OPTIONS: Message = Message {
    name: "k8s.io.api.core.v1.SELinuxOptions",
    fields: &[
        field(1, "user", OmitEmpty, Str),
        field(2, "role", OmitEmpty, Str),
        field(3, "type", OmitEmpty, Str),
        field(4, "level", OmitEmpty, Str),
    ],
};

pub(super) static SECCOMP_PROFILE: Message = Message {
    name: "k8s.io.api.core.v1.SeccompProfile",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "localhostProfile", Keep, Str),
    ],
};

pub(super) static SECRET_ENV_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.SecretEnvSource",
    fields: &[
        field(1, "", Inline, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(2, "optional", Keep, Bool),
    ],
};

pub(super) static SECRET_KEY_SELECTOR: Message = Message {
    name: "k8s.io.api.core.v1.SecretKeySelector",
    fields: &[
        field(1, "", Inline, Msg(&core_objects::LOCAL_OBJECT_REFERENCE)),
        field(2, "key", Keep, Str),
        field(3, "optional", Keep, Bool),
    ],
};

pub(super) static SECURITY_CONTEXT: Message = Message {
    name: "k8s.io.api.core.v1.SecurityContext",
    fields: &[
        field(1, "capabilities", Keep, Msg(&CAPABILITIES)),
        field(2, "privileged", Keep, Bool),
        field(3, "seLinuxOptions", Keep, Msg(&SE_LINUX_OPTIONS)),
        field(4, "runAsUser", Keep, I64),
        field(5, "runAsNonRoot", Keep, Bool),
        field(6, "readOnlyRootFilesystem", Keep, Bool),
        field(7, "allowPrivilegeEscalation", Keep, Bool),
        field(8, "runAsGroup", Keep, I64),
        field(9, "procMount", Keep, Str),
        field(10, "windowsOptions", Keep, Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
        field(11, "seccompProfile", Keep, Msg(&SECCOMP_PROFILE)),
        field(12, "appArmorProfile", Keep, Msg(&APP_ARMOR_PROFILE)),
    ],
};

pub(super) static SLEEP_ACTION: Message = Message {
    name: "k8s.io.api.core.v1.SleepAction",
    fields: &[
        field(1, "seconds", Keep, I64),
    ],
};

pub(super) static SYSCTL: Message = Message {
    name: "k8s.io.api.core.v1.Sysctl",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "value", Keep, Str),
    ],
};

pub(super) static TCP_SOCKET_ACTION: Message = Message {
    name: "k8s.io.api.core.v1.TCPSocketAction",
    fields: &[
        field(1, "port", Keep, IntOrString),
        field(2, "host", OmitEmpty, Str),
    ],
};

pub(super) static TOLERATION: Message = Message {
    name: "k8s.io.api.core.v1.Toleration",
    fields: &[
        field(1, "key", OmitEmpty, Str),
        field(2, "operator", OmitEmpty, Str),
        field(3, "value", OmitEmpty, Str),
        field(4, "effect", OmitEmpty, Str),
        field(5, "tolerationSeconds", Keep, I64),
    ],
};

pub(super) static TOPOLOGY_SPREAD_CONSTRAINT: Message = Message {
    name: "k8s.io.api.core.v1.TopologySpreadConstraint",
    fields: &[
        field(1, "maxSkew", Keep, I32),
        field(2, "topologyKey", Keep, Str),
        field(3, "whenUnsatisfiable", Keep, Str),
        field(4, "labelSelector", Keep, Msg(&meta::LABEL_SELECTOR)),
        field(5, "minDomains", Keep, I32),
        field(6, "nodeAffinityPolicy", Keep, Str),
        field(7, "nodeTaintsPolicy", Keep, Str),
        field(8, "matchLabelKeys", Repeated, Str),
    ],
};

pub(super) static VOLUME_DEVICE: Message = Message {
    name: "k8s.io.api.core.v1.VolumeDevice",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "devicePath", Keep, Str),
    ],
};

pub(super) static VOLUME_MOUNT: Message = Message {
    name: "k8s.io.api.core.v1.VolumeMount",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "readOnly", OmitEmpty, Bool),
        field(3, "mountPath", Keep, Str),
        field(4, "subPath", OmitEmpty, Str),
        field(5, "mountPropagation", Keep, Str),
        field(6, "subPathExpr", OmitEmpty, Str),
        field(7, "recursiveReadOnly", Keep, Str),
    ],
};

pub(super) static WEIGHTED_POD_AFFINITY_TERM: Message = Message {
    name: "k8s.io.api.core.v1.WeightedPodAffinityTerm",
    fields: &[
        field(1, "weight", Keep, I32),
        field(2, "podAffinityTerm", Keep, Msg(&POD_AFFINITY_TERM)),
    ],
};

pub(super) static WINDOWS_SECURITY_CONTEXT_OPTIONS: Message = Message {
    name: "k8s.io.api.core.v1.WindowsSecurityContextOptions",
    fields: &[
        field(1, "gmsaCredentialSpecName", Keep, Str),
        field(2, "gmsaCredentialSpec", Keep, Str),
        field(3, "runAsUserName", Keep, Str),
        field(4, "hostProcess", Keep, Bool),
    ],
};

pub(super) static WORKLOAD_REFERENCE: Message = Message {
    name: "k8s.io.api.core.v1.WorkloadReference",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "podGroup", Keep, Str),
        field(3, "podGroupReplicaKey", OmitEmpty, Str),
    ],
};
