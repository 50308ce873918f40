//! Stock `kubectl` against three `berth server` processes (each a store
//! member and an API server), through different members.
//!
//! What this shows today: discovery, version, namespaces created at start,
//! apply (create), get (name, jsonpath, chunked lists), watch, merge and
//! JSON patches, replace with a stale resourceVersion (409), delete, and
//! Kubernetes' error texts; the guide's manifests applied unchanged, then
//! edited and applied again (strategic merge patch), and a manifest with an
//! unknown field refused (kubectl validates through the server, having read
//! the API's OpenAPI documents).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::plane::ControlPlane;

fn configmap(name: &str, namespace: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n  a: b\n")
}

#[test]
fn kubectl_against_three_berth_servers() {
    let plane = ControlPlane::start();

    let version = plane.ok(0, &["version"]);
    assert!(
        version.contains("Server Version: v1.33.0+berth"),
        "{version}"
    );
    let resources = plane.ok(1, &["api-resources"]);
    let deployments = resources
        .lines()
        .find(|l| l.starts_with("deployments"))
        .unwrap_or_default();
    assert_eq!(
        deployments.split_whitespace().collect::<Vec<_>>(),
        ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    );

    // Create through one member, read through the others.
    let created = plane.apply(
        0,
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n---\n{}",
            configmap("c1", "demo")
        ),
    );
    assert_eq!(created, "namespace/demo created\nconfigmap/c1 created\n");
    assert_eq!(
        plane.ok(
            1,
            &[
                "-n",
                "demo",
                "get",
                "configmap",
                "c1",
                "-o",
                "jsonpath={.data.a}"
            ]
        ),
        "b"
    );
    assert_eq!(
        plane.ok(2, &["-n", "demo", "get", "cm", "-o", "name"]),
        "configmap/c1\n"
    );
    let again = plane.apply(2, &configmap("c1", "demo"));
    assert_eq!(again, "configmap/c1 unchanged\n");

    // Lists in pages of two still return everything.
    for n in 2..=5 {
        plane.apply(0, &configmap(&format!("c{n}"), "demo"));
    }
    let chunked = plane.ok(
        1,
        &["-n", "demo", "get", "cm", "--chunk-size=2", "-o", "name"],
    );
    assert_eq!(chunked.lines().count(), 5, "{chunked}");

    // A watch started through one member sees a change made through another.
    let mut watch = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(plane.kubeconfig(2))
        .args(["-n", "demo", "get", "cm", "--watch-only", "-o", "name"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    sleep(Duration::from_secs(1));
    plane.apply(0, &configmap("watched", "demo"));
    let mut line = String::new();
    BufReader::new(watch.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(line, "configmap/watched\n");

    // Patches of both JSON kinds.
    let merged = plane.ok(
        0,
        &[
            "-n",
            "demo",
            "patch",
            "cm",
            "c2",
            "--type=merge",
            "-p",
            r#"{"data":{"x":"y"}}"#,
        ],
    );
    assert_eq!(merged, "configmap/c2 patched\n");
    let json = plane.ok(
        1,
        &[
            "-n",
            "demo",
            "patch",
            "cm",
            "c2",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/data/z","value":"w"}]"#,
        ],
    );
    assert_eq!(json, "configmap/c2 patched\n");
    // kubectl's default patch type is a strategic merge patch.
    let strategic = plane.ok(
        2,
        &[
            "-n",
            "demo",
            "patch",
            "cm",
            "c2",
            "-p",
            r#"{"data":{"s":"t"}}"#,
        ],
    );
    assert_eq!(strategic, "configmap/c2 patched\n");
    let yaml = plane.ok(2, &["-n", "demo", "get", "cm", "c2", "-o", "yaml"]);
    let expected_start =
        "apiVersion: v1\ndata:\n  a: b\n  s: t\n  x: \"y\"\n  z: w\nkind: ConfigMap\nmetadata:\n";
    assert!(yaml.starts_with(expected_start), "{yaml}");
    for line in [
        "  name: c2\n",
        "  namespace: demo\n",
        "  uid: ",
        "  resourceVersion: \"",
        "  creationTimestamp: \"",
    ] {
        assert!(yaml.contains(line), "{line:?} in {yaml}");
    }

    // Replacing with a stale resourceVersion is a conflict.
    let stale = plane.ok(0, &["-n", "demo", "get", "cm", "c3", "-o", "json"]);
    let path = plane.dir.path().join("c3.json");
    std::fs::write(&path, &stale).unwrap();
    plane.ok(0, &["replace", "-f", path.to_str().unwrap()]);
    let conflict = plane.err(1, &["replace", "-f", path.to_str().unwrap()]);
    assert!(
        conflict.contains(
            "Operation cannot be fulfilled on configmaps \"c3\": the object has been modified"
        ),
        "{conflict}"
    );

    // Typed commands send protobuf bodies.
    assert_eq!(
        plane.ok(1, &["create", "namespace", "typed"]),
        "namespace/typed created\n"
    );
    for (args, expected) in [
        (
            vec![
                "create",
                "deployment",
                "web",
                "--image=nginx:1.25",
                "--replicas=2",
                "--port=80",
            ],
            "deployment.apps/web created\n",
        ),
        (
            vec!["create", "configmap", "c", "--from-literal=a=b"],
            "configmap/c created\n",
        ),
        (
            vec!["create", "secret", "generic", "s", "--from-literal=p=q"],
            "secret/s created\n",
        ),
        (
            vec!["create", "service", "nodeport", "web", "--tcp=80:8080"],
            "service/web created\n",
        ),
        (
            vec![
                "autoscale",
                "deployment",
                "web",
                "--min=2",
                "--max=5",
                "--cpu-percent=80",
            ],
            "horizontalpodautoscaler.autoscaling/web autoscaled\n",
        ),
    ] {
        let mut full = vec!["-n", "typed"];
        full.extend(args);
        assert_eq!(plane.ok(2, &full), expected);
    }
    assert_eq!(
        plane.ok(0, &["-n", "typed", "get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.strategy.type}"]),
        "2 80 RollingUpdate"
    );
    assert_eq!(
        plane.ok(
            0,
            &[
                "-n",
                "typed",
                "get",
                "secret",
                "s",
                "-o",
                "jsonpath={.data.p}"
            ]
        ),
        "cQ=="
    );

    // Deletes, and Kubernetes' errors.
    assert_eq!(
        plane.ok(2, &["-n", "demo", "delete", "cm", "c1"]),
        "configmap \"c1\" deleted\n"
    );
    let gone = plane.err(0, &["-n", "demo", "get", "cm", "c1"]);
    assert_eq!(
        gone,
        "Error from server (NotFound): configmaps \"c1\" not found\n"
    );
    let missing_ns = plane.apply(1, &configmap("x", "nope"));
    assert!(
        missing_ns.contains("namespaces \"nope\" not found"),
        "{missing_ns}"
    );
    let bad_name = plane.apply(1, &configmap("Bad_Name", "demo"));
    assert!(
        bad_name.contains("is invalid: metadata.name: Invalid value: \"Bad_Name\""),
        "{bad_name}"
    );
}

fn manifest(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/manifests")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_guides_manifests_apply_unchanged_and_reapply_as_strategic_merge_patches() {
    let plane = ControlPlane::start();
    for (file, expected) in [
        ("deployment.yaml", "deployment.apps/api-server created\n"),
        (
            "hpa.yaml",
            "horizontalpodautoscaler.autoscaling/api-server-hpa created\n",
        ),
        (
            "ingress.yaml",
            "ingress.networking.k8s.io/api-ingress created\n",
        ),
    ] {
        assert_eq!(plane.apply(0, &manifest(file)), expected, "{file}");
    }
    assert_eq!(
        plane.apply(1, &manifest("deployment.yaml")),
        "deployment.apps/api-server unchanged\n"
    );

    // The same deployment with probes and resources, then a new image: each
    // apply is a strategic merge patch that keeps what it does not name.
    assert_eq!(
        plane.apply(1, &manifest("deployment-probes-resources.yaml")),
        "deployment.apps/api-server configured\n"
    );
    let probes = plane.ok(
        2,
        &[
            "get",
            "deploy",
            "api-server",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].readinessProbe.httpGet.path}",
        ],
    );
    assert!(!probes.is_empty(), "readiness probe kept: {probes:?}");
    let edited = manifest("deployment-probes-resources.yaml")
        .replace("api-server:1.2.0", "api-server:1.3.0");
    assert!(edited.contains("api-server:1.3.0"));
    assert_eq!(
        plane.apply(2, &edited),
        "deployment.apps/api-server configured\n"
    );
    let image = plane.ok(
        0,
        &[
            "get",
            "deploy",
            "api-server",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}",
        ],
    );
    assert_eq!(image, "api-server:1.3.0 3");

    // kubectl's columns come from the server's Tables.
    let table = plane.ok(1, &["get", "deploy"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[..4], ["api-server", "0/3", "0", "0"]);
    assert_eq!(
        plane.ok(0, &["label", "deploy", "api-server", "tier=web"]),
        "deployment.apps/api-server labeled\n"
    );
    let wide = plane.ok(2, &["get", "deploy", "-o", "wide", "-l", "tier=web"]);
    assert!(
        wide.lines()
            .next()
            .unwrap()
            .ends_with("CONTAINERS   IMAGES             SELECTOR"),
        "{wide}"
    );
    let wide_row: Vec<&str> = wide.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(wide_row[5..], ["api", "api-server:1.3.0", "app=api-server"]);
    assert_eq!(plane.ok(0, &["get", "deploy", "-l", "app=other"]), "");
    let all = plane.ok(0, &["get", "hpa,ing", "-A"]);
    assert!(all.contains("default     horizontalpodautoscaler.autoscaling/api-server-hpa   Deployment/api-server"), "{all}");
    assert!(all.contains("api.example.com"), "{all}");

    // scale goes through the scale subresource; a watch prints the change.
    let mut watch = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(plane.kubeconfig(2))
        .args(["get", "deploy", "api-server", "--watch-only"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    sleep(Duration::from_secs(1));
    assert_eq!(
        plane.ok(0, &["scale", "deployment", "api-server", "--replicas=5"]),
        "deployment.apps/api-server scaled\n"
    );
    // The header comes first, then the changed row.
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let header = lines.next().unwrap().unwrap();
    let line = lines.next().unwrap().unwrap();
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(header.starts_with("NAME "), "{header:?}");
    assert!(line.starts_with("api-server   0/5 "), "{line:?}");
    let describe = plane.ok(1, &["describe", "deployment", "api-server"]);
    for expected in [
        "Replicas:               5 desired",
        "StrategyType:           RollingUpdate",
        "RollingUpdateStrategy:  25% max unavailable, 25% max surge",
        "Image:      api-server:1.3.0",
        "Readiness:     http-get http://:8080/health/ready delay=0s timeout=1s period=5s #success=1 #failure=3",
    ] {
        assert!(describe.contains(expected), "{expected:?} in {describe}");
    }

    // A field the kind does not have is refused by the server.
    let typo = manifest("deployment.yaml").replace("replicas:", "replicaz:");
    let refused = plane.apply(0, &typo);
    assert!(
        refused.contains("strict decoding error: unknown field \"spec.replicaz\""),
        "{refused}"
    );
    // Kubernetes' validation, every problem at once, with field paths.
    let mismatched = manifest("deployment.yaml")
        .replacen("app: api-server", "app: other", 2)
        .replace("image: api-server:1.2.0", "image: \"\"");
    let refused = plane.apply(1, &mismatched);
    for line in [
        "The Deployment \"api-server\" is invalid: ",
        "* spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"other\"}}: field is immutable",
        "* spec.template.spec.containers[0].image: Required value",
    ] {
        assert!(refused.lines().any(|l| l == line), "{line:?} in {refused}");
    }

    // With validation off, kubectl sends it anyway and the field is dropped.
    let mut command = Command::new("kubectl");
    command.arg("--kubeconfig").arg(plane.kubeconfig(0)).args([
        "apply",
        "--validate=false",
        "-f",
        "-",
    ]);
    let out = common::run_with_input(command, &typo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Events: `get events` columns, and `describe` finds a pod's events by
    // field selector on the involved object.
    plane.apply(
        0,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: web:1\n",
    );
    let uid = plane.ok(0, &["get", "pod", "web", "-o", "jsonpath={.metadata.uid}"]);
    let event = format!(
        "apiVersion: v1\nkind: Event\nmetadata:\n  name: web.1\ninvolvedObject:\n  kind: Pod\n  name: web\n  namespace: default\n  uid: {uid}\nreason: FailedScheduling\nmessage: '0/3 nodes are available: 3 Insufficient cpu.'\ntype: Warning\ncount: 1\nsource:\n  component: default-scheduler\n"
    );
    assert_eq!(plane.apply(1, &event), "event/web.1 created\n");
    let events = plane.ok(2, &["get", "events"]);
    let header: Vec<&str> = events
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .filter(|c| !c.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(header, ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
    assert!(
        events.contains(
            "Warning   FailedScheduling   pod/web   0/3 nodes are available: 3 Insufficient cpu."
        ),
        "{events}"
    );
    let describe = plane.ok(0, &["describe", "pod", "web"]);
    assert!(
        describe.contains("Warning  FailedScheduling")
            && describe.contains("default-scheduler  0/3 nodes are available: 3 Insufficient cpu."),
        "{describe}"
    );
}

#[test]
fn two_members_keep_serving_when_one_is_killed() {
    let mut plane = ControlPlane::start();
    plane.apply(0, &configmap("before", "default"));
    plane.kill(0);
    // Whichever member led, the other two elect a leader and serve writes.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = plane.apply(1, &configmap("after", "default"));
        if out == "configmap/after created\n" {
            break;
        }
        assert!(Instant::now() < deadline, "no write after the kill: {out}");
        sleep(Duration::from_millis(500));
    }
    assert_eq!(
        plane
            .ok(2, &["get", "cm", "-o", "name", "--sort-by=.metadata.name"])
            .lines()
            .filter(|l| !l.contains("kube-root-ca"))
            .collect::<Vec<_>>(),
        ["configmap/after", "configmap/before"]
    );
    let gone = plane.kubectl(0, &["get", "cm"]);
    assert!(!gone.status.success(), "the killed member does not answer");
}
