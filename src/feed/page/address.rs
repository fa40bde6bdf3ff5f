//! Which addresses an article page may be fetched from.
//!
//! Owns [`is_private`], [`url_is_private`], [`resolves_private`], [`feed_is_private`] and
//! [`PublicOnly`], the DNS resolver that refuses to connect to private addresses (for article
//! pages, and for a public feed's redirects and linked feeds on other hosts). An item's link is
//! written by whoever writes the feed: without this, a public feed could make the daemon fetch
//! `http://169.254.169.254/` or a router's admin page from inside the operator's network. A
//! feed that is itself on a private address (an intranet, a test farm on loopback) may link to
//! pages beside it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Loopback, private, link-local, shared (CGNAT), unspecified, broadcast, multicast,
/// documentation and unique-local addresses: anything that is not the public internet. An IPv6
/// address that carries an IPv4 one (mapped, compatible, NAT64, 6to4) is judged by that one: a
/// NAT64 gateway turns `64:ff9b::a9fe:a9fe` into a connection to 169.254.169.254.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_private(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => v4_private(v4),
            None => v6_private(v6),
        },
    }
}

/// The IPv4 address an IPv6 one carries: `::ffff:a.b.c.d` (mapped), `::a.b.c.d` (compatible),
/// `64:ff9b::a.b.c.d` (NAT64, RFC 6052) or `2002:aabb:ccdd::/48` (6to4).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    if let Some(v4) = ip.to_ipv4() {
        return Some(v4);
    }
    match s {
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => v4(hi, lo),
        [0x2002, hi, lo, ..] => v4(hi, lo),
        _ => None,
    }
}

fn v4_private(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT.
        || (a == 100 && (64..128).contains(&b))
        // 198.18.0.0/15, benchmarking.
        || (a == 198 && (b == 18 || b == 19))
        // 192.0.0.0/24, protocol assignments (NAT64 discovery, DS-Lite).
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        // 240.0.0.0/4, reserved.
        || a >= 240
}

fn v6_private(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 the old site-local (still
        // routed inside some networks), 2001:db8::/32 documentation, 64:ff9b:1::/48 NAT64 for
        // local use (its IPv4 part has no fixed place).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || (first == 0x64 && ip.segments()[1] == 0xff9b && ip.segments()[2] == 1)
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
}

/// Whether a URL's host is private, when that can be told without DNS: an IP literal, or
/// `localhost` and its subdomains (RFC 6761). `None` for other host names.
pub fn url_is_private(url: &Url) -> Option<bool> {
    match url.host()? {
        Host::Ipv4(v4) => Some(is_private(IpAddr::V4(v4))),
        Host::Ipv6(v6) => Some(is_private(IpAddr::V6(v6))),
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            (d == "localhost" || d.ends_with(".localhost")).then_some(true)
        }
    }
}

/// How long [`feed_is_private`] waits for its DNS answer; without one the feed counts as
/// public (its pages are fetched from public addresses only).
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether the feed an item came from is on a private network, so its items may link to pages
/// beside it. `None` (a local file, standard input) is private; a URL whose host is a private
/// IP literal or `localhost` is too. Otherwise both must hold: the feed was read from a private
/// address (`remote`, where the fetch connected), and its host name resolves to private
/// addresses only. The first alone would trust a name that answered a public address and a
/// private one, or a DNS answer changed after the fetch (rebinding); the second alone, a
/// private proxy a public feed came through. The one rule for the daemon and `try`.
pub async fn feed_is_private(feed_url: Option<&Url>, remote: Option<IpAddr>) -> bool {
    let Some(feed_url) = feed_url else {
        return true;
    };
    if let Some(known) = url_is_private(feed_url) {
        return known;
    }
    // Without an answer it counts as public, the side that refuses more.
    remote.is_some_and(is_private) && resolves_private(feed_url).await == Some(true)
}

/// Whether `url`'s host is private: a private IP literal or `localhost`, or a name that
/// resolves to private addresses only. `None`: no answer within [`LOOKUP_TIMEOUT`].
pub async fn resolves_private(url: &Url) -> Option<bool> {
    if let Some(known) = url_is_private(url) {
        return Some(known);
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default().unwrap_or(443);
    match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addrs)) => {
            let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            (!ips.is_empty()).then(|| ips.into_iter().all(is_private))
        }
        _ => None,
    }
}

/// A resolver that answers only with public addresses, for the page client and a public
/// feed's hops to other hosts. IP literals never reach a resolver: the fetcher checks those
/// itself on every hop.
#[derive(Debug, Default)]
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_private(a.ip()))
                .collect();
            if found.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> = format!(
                    "{host} has no public address (a public feed's pages, redirects and \
                     linked feeds never lead to private ones)"
                )
                .into();
                return Err(e);
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_told_from_public_ones() {
        for p in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "198.19.255.1",
            "192.0.2.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::",
            "fec0::1",
            "192.0.0.8",
        ] {
            assert!(is_private(ip(p)), "{p} should be private");
        }
        for p in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "172.15.255.255",
            "100.63.255.255",
            "100.128.0.1",
            "198.20.0.1",
            "192.169.0.1",
            "2606:4700::1111",
            "2001:db9::1",
            "::ffff:8.8.8.8",
            "fbff::1",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "192.0.1.1",
        ] {
            assert!(!is_private(ip(p)), "{p} should be public");
        }
    }

    #[test]
    fn hosts_known_without_dns() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(url_is_private(&u("http://127.0.0.1:8080/a")), Some(true));
        assert_eq!(url_is_private(&u("http://[::1]/a")), Some(true));
        assert_eq!(url_is_private(&u("http://LOCALHOST./a")), Some(true));
        assert_eq!(url_is_private(&u("http://app.localhost/a")), Some(true));
        assert_eq!(url_is_private(&u("http://93.184.216.34/a")), Some(false));
        assert_eq!(url_is_private(&u("https://example.com/a")), None);
        assert_eq!(url_is_private(&u("https://notlocalhost/a")), None);
    }

    #[tokio::test]
    async fn the_public_resolver_refuses_names_of_private_addresses() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let err = match PublicOnly.resolve(name).await {
            Ok(addrs) => panic!("resolved: {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("no public address"), "{err}");
        let url = |u: &str| Url::parse(u).unwrap();
        let public = Some(ip("93.184.216.34"));
        assert!(feed_is_private(Some(&url("http://localhost:1/feed")), public).await);
        assert!(
            feed_is_private(None, None).await,
            "a local file is on this machine"
        );
        assert!(!feed_is_private(Some(&url("http://93.184.216.34/feed")), None).await);
    }

    /// Regression: a feed whose host name resolved to any private address unlocked its
    /// items' links to private addresses, judged by a DNS lookup made after the fetch (a name
    /// answering a public and a private address, or rebinding between the two lookups). Now
    /// the address the feed was read from must be private too.
    #[tokio::test]
    async fn a_name_is_private_only_when_the_feed_was_read_from_a_private_address() {
        // A name (not caught by the `localhost` rule) that resolves to loopback only, when
        // this machine's hosts file has it.
        let feed = Url::parse("http://ip6-localhost:1/feed").unwrap();
        let lookup: Vec<IpAddr> = match tokio::net::lookup_host(("ip6-localhost", 1)).await {
            Ok(a) => a.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        };
        // Read from a public address: public, whatever the name resolves to now.
        assert!(!feed_is_private(Some(&feed), Some(ip("93.184.216.34"))).await);
        assert!(!feed_is_private(Some(&feed), None).await);
        if !lookup.is_empty() && lookup.iter().all(|a| is_private(*a)) {
            assert!(feed_is_private(Some(&feed), Some(ip("::1"))).await);
        }
        // A name with no answer is public, even read from a private address.
        let unknown = Url::parse("http://no-such-host.invalid/feed").unwrap();
        assert!(!feed_is_private(Some(&unknown), Some(ip("10.0.0.1"))).await);
    }
}
