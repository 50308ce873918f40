//! Where a `berth up` cluster keeps everything, which ports it uses, and
//! how each of its processes is started: fixed when the cluster is first
//! created (`DIR/cluster.json`), so `berth up` resumes it the same way.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The control-plane members' names.
pub const MEMBERS: [&str; 3] = ["m0", "m1", "m2"];

/// Which runtime the node's agent runs pods on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeChoice {
    /// containerd when running as root with containerd up, else `process`.
    Auto,
    /// containerd through CRI: real, isolated containers.
    Cri,
    /// Host processes without isolation (no root needed).
    Process,
}

/// Every port of the cluster, all on 127.0.0.1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ports {
    /// The cluster's API address: `berth up`'s balancer over the members.
    pub api: u16,
    /// Each member's own API (REST and gRPC).
    pub member_api: [u16; 3],
    /// Each member's store client port (etcd v3 gRPC).
    pub client: [u16; 3],
    /// Each member's store peer port (Raft).
    pub peer: [u16; 3],
    /// Each member's /livez, /readyz and /metrics.
    pub metrics: [u16; 3],
    /// The agent's port (logs, exec): the kubelet's 10250.
    pub agent: u16,
}

impl Ports {
    /// Kubernetes' and etcd's usual ports: the API on 6443 and the members
    /// beside it on 6444-6446; the store on 2379, 22379 and 32379 as etcd's
    /// own three-member Procfile; the agent on 10250.
    pub fn standard() -> Ports {
        Ports {
            api: 6443,
            member_api: [6444, 6445, 6446],
            client: [2379, 22379, 32379],
            peer: [2380, 22380, 32380],
            metrics: [2381, 22381, 32381],
            agent: 10250,
        }
    }

    /// Fourteen consecutive ports from `base`, for a second cluster on the
    /// same host.
    pub fn from_base(base: u16) -> Result<Ports> {
        if base.checked_add(13).is_none() || base == 0 {
            bail!("--port-base {base}: the cluster needs 14 ports from it, up to 65535");
        }
        let at = |i: u16| base + i;
        Ok(Ports {
            api: base,
            member_api: [at(1), at(2), at(3)],
            client: [at(4), at(7), at(10)],
            peer: [at(5), at(8), at(11)],
            metrics: [at(6), at(9), at(12)],
            agent: at(13),
        })
    }

    /// Every port with what it is for, as errors name them.
    pub fn all(&self) -> Vec<(u16, String)> {
        let mut all = vec![(self.api, "the cluster's API address".to_string())];
        for (i, name) in MEMBERS.iter().enumerate() {
            all.push((self.member_api[i], format!("{name}'s API")));
            all.push((self.client[i], format!("{name}'s store clients")));
            all.push((self.peer[i], format!("{name}'s store peers")));
            all.push((self.metrics[i], format!("{name}'s metrics")));
        }
        all.push((self.agent, "the agent's port".to_string()));
        all
    }
}

/// What `DIR/cluster.json` records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Layout {
    pub ports: Ports,
    /// The runtime asked for when the cluster was created.
    pub runtime: RuntimeChoice,
    /// The node's name.
    pub node_name: String,
}

/// A cluster's directory and its layout.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub dir: PathBuf,
    pub layout: Layout,
}

impl Cluster {
    /// The cluster in `dir`, if one was created there.
    pub fn load(dir: &Path) -> Result<Option<Cluster>> {
        let path = dir.join("cluster.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let layout = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a berth cluster's layout", path.display()))?;
        Ok(Some(Cluster {
            dir: dir.to_path_buf(),
            layout,
        }))
    }

    /// Records the layout in `DIR/cluster.json`.
    pub fn save(&self) -> Result<()> {
        std::fs::create_dir_all(self.run_dir())
            .with_context(|| format!("creating {}", self.run_dir().display()))?;
        std::fs::create_dir_all(self.log_dir())
            .with_context(|| format!("creating {}", self.log_dir().display()))?;
        let text = serde_json::to_string_pretty(&self.layout)?;
        write_atomically(&self.dir.join("cluster.json"), text.as_bytes())
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Each process's log file.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    pub fn log_of(&self, process: &str) -> PathBuf {
        self.log_dir().join(format!("{process}.log"))
    }

    /// The supervisor's pid file and state.
    pub fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// The API server's tokens (`--token-auth-file`).
    pub fn tokens_file(&self) -> PathBuf {
        self.dir.join("tokens.csv")
    }

    /// The agent's token (`--token-file`).
    pub fn agent_token_file(&self) -> PathBuf {
        self.dir.join("agent.token")
    }

    /// Makes the cluster's credentials once: a token for the
    /// administrator (group `system:masters`, in the kubeconfig) and one
    /// for the node's agent (`system:node:<name>`, group `system:nodes`),
    /// readable by the owner alone.
    pub fn ensure_credentials(&self) -> Result<()> {
        if self.tokens_file().exists() && self.agent_token_file().exists() {
            return Ok(());
        }
        let token = || {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        };
        let (admin, node) = (token(), token());
        let name = &self.layout.node_name;
        let csv = format!(
            "{admin},admin,admin,system:masters\n{node},system:node:{name},node-{name},system:nodes\n"
        );
        write_private(&self.tokens_file(), csv.as_bytes())?;
        write_private(&self.agent_token_file(), node.as_bytes())
    }

    /// The administrator's token, from the tokens file.
    pub fn admin_token(&self) -> Result<String> {
        let path = self.tokens_file();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        text.lines()
            .find_map(|line| {
                let mut columns = line.split(',');
                let token = columns.next()?;
                (columns.next()? == "admin").then(|| token.to_string())
            })
            .with_context(|| format!("{} has no admin token", path.display()))
    }

    /// A client of the cluster's API address as the administrator.
    pub fn client(&self) -> Result<berth_client::Client> {
        Ok(berth_client::Client::new(&self.api_url())?.with_token(&self.admin_token()?)?)
    }

    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.layout.ports.api)
    }

    pub fn member_api_url(&self, member: usize) -> String {
        format!("http://127.0.0.1:{}", self.layout.ports.member_api[member])
    }

    pub fn member_client_url(&self, member: usize) -> String {
        format!("http://127.0.0.1:{}", self.layout.ports.client[member])
    }

    /// `berth server`'s arguments for one member.
    pub fn member_args(&self, member: usize) -> Vec<OsString> {
        let ports = &self.layout.ports;
        let initial = (0..MEMBERS.len())
            .map(|i| format!("{}=http://127.0.0.1:{}", MEMBERS[i], ports.peer[i]))
            .collect::<Vec<_>>()
            .join(",");
        let mut args: Vec<OsString> =
            vec!["server".into(), "--name".into(), MEMBERS[member].into()];
        args.push("--data-dir".into());
        args.push(self.dir.join(MEMBERS[member]).into());
        for (flag, value) in [
            ("--listen-client-urls", self.member_client_url(member)),
            (
                "--listen-peer-urls",
                format!("http://127.0.0.1:{}", ports.peer[member]),
            ),
            (
                "--listen-metrics-urls",
                format!("http://127.0.0.1:{}", ports.metrics[member]),
            ),
            ("--initial-cluster", initial.clone()),
            (
                "--api-listen",
                format!("127.0.0.1:{}", ports.member_api[member]),
            ),
        ] {
            args.push(flag.into());
            args.push(value.into());
        }
        args.push("--token-auth-file".into());
        args.push(self.tokens_file().into());
        let pki = super::pki::Pki::of(self);
        args.push("--tls-cert-file".into());
        args.push(pki.api_cert.into());
        args.push("--tls-private-key-file".into());
        args.push(pki.api_key.into());
        args
    }

    /// `berth agent`'s arguments, on the cluster's API address so that it
    /// reaches whichever members are up.
    pub fn agent_args(&self, runtime: RuntimeChoice) -> Vec<OsString> {
        let runtime = match runtime {
            RuntimeChoice::Cri => "cri",
            _ => "process",
        };
        let mut args: Vec<OsString> = vec!["agent".into()];
        for (flag, value) in [
            ("--api", self.api_url()),
            ("--node-name", self.layout.node_name.clone()),
            ("--node-ip", "127.0.0.1".to_string()),
            ("--runtime", runtime.to_string()),
            ("--port", self.layout.ports.agent.to_string()),
        ] {
            args.push(flag.into());
            args.push(value.into());
        }
        args.push("--root-dir".into());
        args.push(self.dir.join("agent").into());
        args.push("--log-dir".into());
        args.push(self.dir.join("pods").into());
        args.push("--token-file".into());
        args.push(self.agent_token_file().into());
        args
    }

    /// The address kubectl uses: HTTPS, as kubectl sends its token only
    /// over TLS (berth's components use plain HTTP on loopback).
    pub fn kube_url(&self, port: u16) -> String {
        format!("https://127.0.0.1:{port}")
    }

    /// A kubeconfig whose current context is the cluster's API address,
    /// with one more context per member (`berth-m0`...) for reaching a
    /// member directly; it trusts the cluster's CA and carries the
    /// administrator's token.
    pub fn write_kubeconfig(&self) -> Result<()> {
        use base64::Engine;
        let token = self.admin_token()?;
        let ca_path = super::pki::Pki::of(self).ca_cert;
        let ca =
            std::fs::read(&ca_path).with_context(|| format!("reading {}", ca_path.display()))?;
        let ca = base64::engine::general_purpose::STANDARD.encode(ca);
        let mut servers = vec![("berth".to_string(), self.kube_url(self.layout.ports.api))];
        for (i, name) in MEMBERS.iter().enumerate() {
            servers.push((
                format!("berth-{name}"),
                self.kube_url(self.layout.ports.member_api[i]),
            ));
        }
        let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
        for (name, server) in &servers {
            text += &format!(
                "- name: {name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n"
            );
        }
        text += &format!("users:\n- name: berth\n  user:\n    token: {token}\ncontexts:\n");
        for (name, _) in &servers {
            text += &format!(
                "- name: {name}\n  context:\n    cluster: {name}\n    user: berth\n    namespace: default\n"
            );
        }
        text += "current-context: berth\n";
        write_private(&self.kubeconfig(), text.as_bytes())
    }
}

/// Writes a file only its owner may read (it holds a credential).
pub(super) fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    write_with_mode(path, contents, 0o600)
}

/// Writes `path` through a temporary file and a rename, so a reader sees
/// the old content or the new, never part of it.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    write_with_mode(path, contents, 0o644)
}

fn write_with_mode(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_from_a_base_are_fourteen_distinct_consecutive_ones() {
        let ports = Ports::from_base(30000).unwrap();
        let mut all: Vec<u16> = ports.all().into_iter().map(|(p, _)| p).collect();
        all.sort();
        assert_eq!(all, (30000..30014).collect::<Vec<_>>());
        assert!(Ports::from_base(65530).is_err());
        assert!(Ports::from_base(0).is_err());
    }

    #[test]
    fn standard_ports_are_distinct() {
        let mut all: Vec<u16> = Ports::standard()
            .all()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 14);
    }

    #[test]
    fn member_args_name_every_peer_and_its_own_ports() {
        let cluster = Cluster {
            dir: PathBuf::from("/d"),
            layout: Layout {
                ports: Ports::standard(),
                runtime: RuntimeChoice::Auto,
                node_name: "n".into(),
            },
        };
        let args: Vec<String> = cluster
            .member_args(1)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        let joined = args.join(" ");
        assert!(joined.contains("--name m1 --data-dir /d/m1"), "{joined}");
        assert!(joined.contains(
            "m0=http://127.0.0.1:2380,m1=http://127.0.0.1:22380,m2=http://127.0.0.1:32380"
        ));
        assert!(joined.contains("--api-listen 127.0.0.1:6445"), "{joined}");
        let agent: Vec<String> = cluster
            .agent_args(RuntimeChoice::Cri)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert!(agent.join(" ").contains("--api http://127.0.0.1:6443"));
        assert!(agent.join(" ").contains("--runtime cri"));
    }

    #[test]
    fn a_layout_survives_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Cluster::load(dir.path()).unwrap().is_none());
        let cluster = Cluster {
            dir: dir.path().to_path_buf(),
            layout: Layout {
                ports: Ports::from_base(40000).unwrap(),
                runtime: RuntimeChoice::Process,
                node_name: "n1".into(),
            },
        };
        cluster.save().unwrap();
        cluster.ensure_credentials().unwrap();
        let admin = cluster.admin_token().unwrap();
        assert_eq!(admin.len(), 64);
        cluster.ensure_credentials().unwrap();
        assert_eq!(cluster.admin_token().unwrap(), admin, "made once");
        let agent = std::fs::read_to_string(cluster.agent_token_file()).unwrap();
        assert_ne!(agent, admin);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cluster.tokens_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        super::super::pki::Pki::of(&cluster).ensure().unwrap();
        cluster.write_kubeconfig().unwrap();
        let kubeconfig = std::fs::read_to_string(cluster.kubeconfig()).unwrap();
        assert!(kubeconfig.contains(&format!("token: {admin}")));
        let loaded = Cluster::load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded.layout.ports, cluster.layout.ports);
        assert_eq!(loaded.layout.runtime, RuntimeChoice::Process);
        std::fs::write(dir.path().join("cluster.json"), "{").unwrap();
        assert!(Cluster::load(dir.path()).is_err());
    }
}
