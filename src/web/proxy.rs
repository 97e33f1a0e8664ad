//! Client addresses behind a reverse proxy: `X-Forwarded-For` is believed only when the socket
//! peer is one of the proxies the configuration names, so nobody can pick their own address
//! to slip past the per-IP limits.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// An address or a network ("10.0.0.0/8", "fd00::/8", "127.0.0.1"), as written in
/// `server.trusted_proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl TryFrom<String> for Net {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let bad = || format!("{s:?} is not an IP address or network such as 10.0.0.0/8");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Net { addr, prefix })
    }
}

impl From<Net> for String {
    fn from(n: Net) -> String {
        format!("{}/{}", n.addr, n.prefix)
    }
}

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The client's address: the socket peer; or, when the peer is a trusted proxy, the nearest
/// address in `X-Forwarded-For` that is not a trusted proxy itself (the ones further left
/// were written by whoever sent the request and prove nothing).
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[Net]) -> IpAddr {
    let is_proxy = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_proxy(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip.to_canonical();
                if !is_proxy(client) {
                    break;
                }
            }
            // Garbage in the chain: stop at the last address we could trust.
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<Net> {
        list.iter()
            .map(|s| Net::try_from(s.to_string()).unwrap())
            .collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let n = nets(&["10.0.0.0/8", "fd00::/8", "192.168.1.7"]);
        assert!(n[0].contains(ip("10.200.3.4")) && !n[0].contains(ip("11.0.0.1")));
        assert!(
            n[0].contains(ip("::ffff:10.1.1.1")),
            "v4-mapped addresses count"
        );
        assert!(n[1].contains(ip("fd12::1")) && !n[1].contains(ip("fe80::1")));
        assert!(n[2].contains(ip("192.168.1.7")) && !n[2].contains(ip("192.168.1.8")));
        assert!(Net::try_from("0.0.0.0/0".to_string())
            .unwrap()
            .contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "example.com", "10.0.0/8", "::/129", ""] {
            assert!(Net::try_from(bad.to_string()).is_err(), "{bad}");
        }
        assert_eq!(String::from(n[2]), "192.168.1.7/32");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = nets(&["10.0.0.0/8"]);
        let xff = Some("6.6.6.6, 203.0.113.9, 10.0.0.2");
        // A stranger cannot choose their address.
        assert_eq!(
            client_ip(ip("198.51.100.1"), xff, &trusted),
            ip("198.51.100.1")
        );
        // Through our proxies: the first address they did not write themselves.
        assert_eq!(client_ip(ip("10.0.0.1"), xff, &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("10.0.0.1"), None, &trusted), ip("10.0.0.1"));
        assert_eq!(
            client_ip(ip("10.0.0.1"), Some("junk, 10.0.0.3"), &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(client_ip(ip("10.0.0.1"), xff, &[]), ip("10.0.0.1"));
    }
}
