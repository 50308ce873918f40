//! etcd-style URL flags (`http://host:port`, comma-separated) to socket
//! addresses.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{bail, Context, Result};

/// Splits a comma-separated URL list.
pub fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The address to bind for an `http://host:port` URL.
pub fn bind_addr(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url}: only http:// URLs are supported"))?;
    let host_port = rest.trim_end_matches('/');
    let mut addrs = host_port
        .to_socket_addrs()
        .with_context(|| format!("{url}: not a host:port"))?;
    match addrs.next() {
        Some(addr) => Ok(addr),
        None => bail!("{url}: resolves to no address"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_addresses() {
        assert_eq!(
            split("http://a:1, http://b:2"),
            vec!["http://a:1", "http://b:2"]
        );
        assert_eq!(bind_addr("http://127.0.0.1:2379").unwrap().port(), 2379);
        assert!(bind_addr("https://127.0.0.1:2379").is_err());
        assert!(bind_addr("http://127.0.0.1").is_err());
    }
}
