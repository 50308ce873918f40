//! Bodies captured from kubectl 1.32, each checked against the JSON the
//! same kubectl prints for the object with `--dry-run=client -o json`
//! (less `creationTimestamp: null`, which the decoder leaves out).

use serde_json::{json, Value};

use super::decode;

/// kubectl's command, its protobuf body, and its JSON for the object.
fn cases() -> Vec<(&'static str, &'static [u8], Value)> {
    vec![
        (
            "kubectl create deployment z --image=nginx:1.27 --replicas=0 --port=8080 -n default",
            b"k8s\x00\n\x15\n\x07apps/v1\x12\nDeployment\x12\xbd\x01\n\"\n\x01z\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00Z\x08\n\x03app\x12\x01z\x12\x88\x01\x08\x00\x12\n\n\x08\n\x03app\x12\x01z\x1ap\n\x1a\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00Z\x08\n\x03app\x12\x01z\x12R\x124\n\x05nginx\x12\nnginx:1.27*\x002\x0b\n\x00\x10\x00\x18\x90?\"\x00*\x00B\x00j\x00r\x00\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\x01\x00\x1a\x002\x00B\x00J\x00R\x00X\x00`\x00h\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\"\x02\n\x00(\x008\x00\x1a\x0c\x08\x00\x10\x00\x18\x00 \x00(\x008\x00\x1a\x00\"\x00",
            json!({"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "z", "namespace": "default", "labels": {"app": "z"}}, "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "z"}}, "template": {"metadata": {"labels": {"app": "z"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 8080}], "resources": {}}]}}, "strategy": {}}, "status": {}}),
        ),
        (
            "kubectl create configmap c --from-literal=a=b --from-literal=k=v -n default",
            b"k8s\x00\n\x0f\n\x02v1\x12\tConfigMap\x12*\n\x18\n\x01c\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00\x12\x06\n\x01a\x12\x01b\x12\x06\n\x01k\x12\x01v\x1a\x00\"\x00",
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c", "namespace": "default"}, "data": {"a": "b", "k": "v"}}),
        ),
        (
            "kubectl create secret generic s --from-literal=password=s3cr3t --type=Opaque -n default",
            b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x126\n\x18\n\x01s\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00\x12\x12\n\x08password\x12\x06s3cr3t\x1a\x06Opaque\x1a\x00\"\x00",
            json!({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s", "namespace": "default"}, "data": {"password": "czNjcjN0"}, "type": "Opaque"}),
        ),
        (
            "kubectl create secret docker-registry reg --docker-server=r.io --docker-username=u --docker-password=p -n default",
            b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12\x93\x01\n\x1a\n\x03reg\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00\x12U\n\x11.dockerconfigjson\x12@{\"auths\":{\"r.io\":{\"username\":\"u\",\"password\":\"p\",\"auth\":\"dTpw\"}}}\x1a\x1ekubernetes.io/dockerconfigjson\x1a\x00\"\x00",
            json!({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "reg", "namespace": "default"}, "data": {".dockerconfigjson": "eyJhdXRocyI6eyJyLmlvIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgiOiJkVHB3In19fQ=="}, "type": "kubernetes.io/dockerconfigjson"}),
        ),
        (
            "kubectl create service clusterip web --tcp=80:8080 -n default",
            b"k8s\x00\n\x0d\n\x02v1\x12\x07Service\x12p\n&\n\x03web\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00Z\n\n\x03app\x12\x03web\x12B\n\x1b\n\x0780-8080\x12\x03TCP\x18P\"\x07\x08\x00\x10\x90?\x1a\x00(\x00\x12\n\n\x03app\x12\x03web\x1a\x00\"\tClusterIP:\x00B\x00R\x00Z\x00`\x00h\x00\x1a\x02\n\x00\x1a\x00\"\x00",
            json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}}, "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}], "selector": {"app": "web"}, "type": "ClusterIP"}, "status": {"loadBalancer": {}}}),
        ),
        (
            "kubectl create service nodeport np --tcp=5678:8080 --node-port=30080 -n default",
            b"k8s\x00\n\x0d\n\x02v1\x12\x07Service\x12q\n$\n\x02np\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00Z\t\n\x03app\x12\x02np\x12E\n \n\t5678-8080\x12\x03TCP\x18\xae,\"\x07\x08\x00\x10\x90?\x1a\x00(\x80\xeb\x01\x12\t\n\x03app\x12\x02np\x1a\x00\"\x08NodePort:\x00B\x00R\x00Z\x00`\x00h\x00\x1a\x02\n\x00\x1a\x00\"\x00",
            json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": "np", "namespace": "default", "labels": {"app": "np"}}, "spec": {"ports": [{"name": "5678-8080", "protocol": "TCP", "port": 5678, "targetPort": 8080, "nodePort": 30080}], "selector": {"app": "np"}, "type": "NodePort"}, "status": {"loadBalancer": {}}}),
        ),
        (
            "kubectl create ingress i --rule=\"foo.com/bar*=svc1:8080,tls=secret1\" --class=nginx -n default",
            b"k8s\x00\n\x1f\n\x14networking.k8s.io/v1\x12\x07Ingress\x12k\n\x18\n\x01i\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00\x12K\x12\x12\n\x07foo.com\x12\x07secret1\x1a.\n\x07foo.com\x12#\n!\n\x1f\n\x04/bar\x12\x0f\"\x0d\n\x04svc1\x12\x05\n\x00\x10\x90?\x1a\x06Prefix\"\x05nginx\x1a\x02\n\x00\x1a\x00\"\x00",
            json!({"kind": "Ingress", "apiVersion": "networking.k8s.io/v1", "metadata": {"name": "i", "namespace": "default"}, "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["foo.com"], "secretName": "secret1"}], "rules": [{"host": "foo.com", "http": {"paths": [{"path": "/bar", "pathType": "Prefix", "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}]}}]}, "status": {"loadBalancer": {}}}),
        ),
        (
            "kubectl autoscale deployment d --min=2 --max=5 --cpu-percent=80 -n default",
            b"k8s\x00\n)\n\x0eautoscaling/v1\x12\x17HorizontalPodAutoscaler\x12;\n\x11\n\x01d\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12 \n\x18\n\nDeployment\x12\x01d\x1a\x07apps/v1\x10\x02\x18\x05 P\x1a\x04\x18\x00 \x00\x1a\x00\"\x00",
            json!({"kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v1", "metadata": {"name": "d"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"}, "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80}, "status": {"currentReplicas": 0, "desiredReplicas": 0}}),
        ),
    ]
}

#[test]
fn kubectl_typed_commands_match_kubectl_json() {
    for (command, body, want) in cases() {
        let got = decode(body).unwrap_or_else(|e| panic!("{command}: {e}"));
        assert_eq!(got, want, "{command}");
    }
}
