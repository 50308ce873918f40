//! The cluster's certificates, made once by `berth up`: a CA, and the
//! API's serving certificate signed by it for the loopback names, as
//! kubeadm's `certs` phase makes `ca.crt` and `apiserver.crt`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

use super::layout::{write_private, Cluster};

/// Paths of the cluster's certificates and keys.
pub struct Pki {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub api_cert: PathBuf,
    pub api_key: PathBuf,
}

impl Pki {
    pub fn of(cluster: &Cluster) -> Pki {
        let dir = cluster.dir.join("pki");
        Pki {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            api_cert: dir.join("apiserver.crt"),
            api_key: dir.join("apiserver.key"),
        }
    }

    /// Makes the CA and the serving certificate unless they exist.
    pub fn ensure(&self) -> Result<()> {
        if [&self.ca_cert, &self.ca_key, &self.api_cert, &self.api_key]
            .iter()
            .all(|p| p.exists())
        {
            return Ok(());
        }
        if let Some(dir) = self.ca_cert.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let ca_key = KeyPair::generate().context("generating the CA key")?;
        let mut ca = CertificateParams::default();
        ca.distinguished_name = name("berth-ca");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca.not_after = rcgen::date_time_ymd(2036, 1, 1);
        let ca_cert = ca.self_signed(&ca_key).context("signing the CA")?;

        let api_key = KeyPair::generate().context("generating the API's key")?;
        let mut api = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "kubernetes".to_string(),
            "kubernetes.default".to_string(),
            "kubernetes.default.svc".to_string(),
        ])
        .context("the API's names")?;
        api.distinguished_name = name("kube-apiserver");
        api.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        api.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        api.not_after = rcgen::date_time_ymd(2036, 1, 1);
        let api_cert = api
            .signed_by(&api_key, &ca_cert, &ca_key)
            .context("signing the API's certificate")?;

        write_private(&self.ca_key, ca_key.serialize_pem().as_bytes())?;
        write_private(&self.api_key, api_key.serialize_pem().as_bytes())?;
        std::fs::write(&self.ca_cert, ca_cert.pem())
            .with_context(|| format!("writing {}", self.ca_cert.display()))?;
        std::fs::write(&self.api_cert, api_cert.pem())
            .with_context(|| format!("writing {}", self.api_cert.display()))?;
        Ok(())
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::up::layout::{Layout, Ports, RuntimeChoice};

    #[test]
    fn certificates_are_made_once_and_serve_tls() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = Cluster {
            dir: dir.path().to_path_buf(),
            layout: Layout {
                ports: Ports::standard(),
                runtime: RuntimeChoice::Auto,
                node_name: "n".into(),
            },
        };
        let pki = Pki::of(&cluster);
        pki.ensure().unwrap();
        let ca = std::fs::read(&pki.ca_cert).unwrap();
        pki.ensure().unwrap();
        assert_eq!(std::fs::read(&pki.ca_cert).unwrap(), ca, "made once");
        // The API server accepts the pair.
        let config = berth_apiserver::tls::server_config(
            &std::fs::read(&pki.api_cert).unwrap(),
            &std::fs::read(&pki.api_key).unwrap(),
        )
        .unwrap();
        assert_eq!(config.alpn_protocols[0], b"h2");
    }
}
