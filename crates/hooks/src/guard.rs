//! The optional private-target guard (`webhooks.block_private`): a webhook
//! may not reach loopback, private, link-local, unique-local, CGNAT,
//! unspecified, broadcast or multicast addresses. Checked on the literal
//! host of the URL and of every redirect, and on every DNS answer (a
//! resolver that drops such addresses), so neither a redirect nor a DNS
//! name that points inside gets through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 of anything
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18/15
}

/// Whether the literal host of `url` is refused (names are checked at DNS).
pub fn forbidden_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => forbidden(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => forbidden(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => false,
        None => true,
    }
}

/// The system resolver, minus refused addresses; a name with nothing left
/// fails to resolve (the delivery fails with that reason).
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| !forbidden(a.ip())).collect();
            if allowed.is_empty() {
                return Err(format!(
                    "{host} resolves only to private or local addresses (webhooks.block_private)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_inside_addresses_and_allows_public_ones() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(forbidden(ip.parse().expect("ip")), "{ip} must be refused");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!forbidden(ip.parse().expect("ip")), "{ip} must be allowed");
        }
        let u = url::Url::parse("http://127.0.0.1:8080/x").expect("url");
        assert!(forbidden_host(&u));
        let u = url::Url::parse("http://[::1]/x").expect("url");
        assert!(forbidden_host(&u));
        let u = url::Url::parse("https://example.com/x").expect("url");
        assert!(!forbidden_host(&u));
    }

    #[tokio::test]
    async fn localhost_does_not_resolve_through_the_guard() {
        let name: Name = "localhost".parse().expect("name");
        assert!(GuardedResolver.resolve(name).await.is_err());
    }
}
