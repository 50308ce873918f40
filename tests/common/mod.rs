//! What the process-level tests share.

use std::net::TcpListener;

/// `n` distinct free ports: every listener is held until all are picked, so
/// the OS cannot hand out the same port twice.
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}
