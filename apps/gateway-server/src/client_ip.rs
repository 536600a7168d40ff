//! Who is on the other end, for per-client rate limiting: the TCP peer, or a forwarded
//! header (`X-Forwarded-For`, `X-Real-IP`) only when the peer is a trusted proxy. A
//! header from anyone else is ignored, so a client cannot pick its own bucket.

use crate::config::{ClientIpConfig, ClientIpSource};
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Debug, Clone)]
pub struct ClientIp {
    source: ClientIpSource,
    trusted: Vec<IpNet>,
}

impl ClientIp {
    /// From a validated config (unparsable CIDRs were refused by `check`).
    pub fn new(config: &ClientIpConfig) -> Self {
        let trusted = config.trusted_proxy_cidrs.iter().filter_map(|c| c.parse().ok()).collect();
        Self { source: config.source, trusted }
    }

    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.source == ClientIpSource::Peer || !self.trusted.iter().any(|net| net.contains(&peer)) {
            return peer;
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let claimed = match self.source {
            ClientIpSource::Peer => None,
            // The proxy appends the address it saw: the right-most entry is its word.
            ClientIpSource::XForwardedFor => header("x-forwarded-for").and_then(|v| v.rsplit(',').next()),
            ClientIpSource::XRealIp => header("x-real-ip"),
        };
        claimed.and_then(|v| v.trim().parse().ok()).unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let c = ClientIp::new(&ClientIpConfig {
            source: ClientIpSource::XForwardedFor,
            trusted_proxy_cidrs: vec!["10.0.0.0/8".into()],
        });
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.7")]);
        assert_eq!(c.resolve("10.1.2.3".parse().unwrap(), &h), "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(
            c.resolve("192.0.2.1".parse().unwrap(), &h),
            "192.0.2.1".parse::<IpAddr>().unwrap(),
            "untrusted peer: header ignored"
        );
        let bad = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(c.resolve("10.1.2.3".parse().unwrap(), &bad), "10.1.2.3".parse::<IpAddr>().unwrap());
        let peer = ClientIp::new(&ClientIpConfig {
            source: ClientIpSource::Peer,
            trusted_proxy_cidrs: vec!["0.0.0.0/0".into()],
        });
        assert_eq!(peer.resolve("10.1.2.3".parse().unwrap(), &h), "10.1.2.3".parse::<IpAddr>().unwrap());
        let real = ClientIp::new(&ClientIpConfig {
            source: ClientIpSource::XRealIp,
            trusted_proxy_cidrs: vec!["127.0.0.1/32".into()],
        });
        assert_eq!(
            real.resolve("127.0.0.1".parse().unwrap(), &headers(&[("x-real-ip", "2001:db8::1")])),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }
}
