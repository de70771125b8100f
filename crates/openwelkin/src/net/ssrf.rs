//! Outbound requests to URLs that tenants configure (designer webhooks, chat webhooks)
//! must not reach the server's own network: a URL whose host is, or resolves to, anything
//! but a public unicast address is refused unless `serve --allow-private-webhooks`.
//!
//! The check is made where the connection is made: [`client`] resolves a name once,
//! through [`GlobalOnly`], and connects to the addresses it checked, so a name that
//! answers a public address to a first lookup and a private one to the next (DNS
//! rebinding) gets nowhere. An IP literal in the URL never reaches a resolver; it is
//! checked by [`check_literal`] before the request is sent. Redirects are not followed
//! and proxies from the environment are not used, so the checked address is the one
//! connected to.

use super::tls::ClientTls;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Why an address is not public (its IANA special-purpose range), or `None` for a
/// public unicast address.
pub fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

pub fn is_public(ip: IpAddr) -> bool {
    special_range(ip).is_none()
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "\"this network\" 0.0.0.0/8",
        (10, _, _) => "private 10.0.0.0/8",
        (100, 64..=127, _) => "shared address space (CGNAT) 100.64.0.0/10",
        (127, _, _) => "loopback 127.0.0.0/8",
        (169, 254, _) => "link-local 169.254.0.0/16",
        (172, 16..=31, _) => "private 172.16.0.0/12",
        (192, 0, 0) => "IETF protocol assignments 192.0.0.0/24",
        (192, 0, 2) => "documentation 192.0.2.0/24",
        (192, 88, 99) => "6to4 relay anycast 192.88.99.0/24",
        (192, 168, _) => "private 192.168.0.0/16",
        (198, 18..=19, _) => "benchmarking 198.18.0.0/15",
        (198, 51, 100) => "documentation 198.51.100.0/24",
        (203, 0, 113) => "documentation 203.0.113.0/24",
        (224..=239, _, _) => "multicast 224.0.0.0/4",
        (240..=255, _, _) => "reserved 240.0.0.0/4 (and broadcast)",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified ::");
    }
    if ip.is_loopback() {
        return Some("loopback ::1");
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        let _ = v4;
        return Some("IPv4-mapped ::ffff:0:0/96");
    }
    if s[..6] == [0; 6] {
        return Some("IPv4-compatible ::/96 (deprecated)");
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 of an IPv4 address: as public as the address it stands for.
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return special_v4(v4).map(|_| "NAT64 64:ff9b::/96 of a non-public IPv4 address");
    }
    Some(match s[0] {
        0x64 if s[1] == 0xff9b && s[2] == 1 => "local-use NAT64 64:ff9b:1::/48",
        0x100 if s[1..4] == [0, 0, 0] => "discard-only 100::/64",
        0x2001 if s[1] == 0xdb8 => "documentation 2001:db8::/32",
        0x2001 if s[1] < 0x200 => "IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID)",
        0x2002 => "6to4 2002::/16",
        0x3fff if s[1] < 0x1000 => "documentation 3fff::/20",
        0x5f00 => "segment routing 5f00::/16",
        x if x & 0xfe00 == 0xfc00 => "unique local fc00::/7",
        x if x & 0xffc0 == 0xfe80 => "link-local fe80::/10",
        x if x & 0xffc0 == 0xfec0 => "site-local fec0::/10 (deprecated)",
        x if x & 0xff00 == 0xff00 => "multicast ff00::/8",
        x if x & 0xe000 != 0x2000 => "not global unicast (outside 2000::/3)",
        _ => return None,
    })
}

fn refusal(what: &str, ip: IpAddr, range: &str) -> String {
    format!(
        "{what} is not a public address ({ip}: {range}); private or loopback destinations are refused \
         unless serve --allow-private-webhooks"
    )
}

/// Checks the scheme and, when the host is an IP literal, the address. Names are checked
/// when they are resolved (by [`client`]'s resolver, or [`check_url`]).
pub fn check_literal(url: &reqwest::Url, allow_private: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https URLs are allowed".into());
    }
    let ip = match url.host() {
        None => return Err("the URL has no host".into()),
        Some(url::Host::Domain(_)) => return Ok(()),
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
    };
    match special_range(ip) {
        Some(range) if !allow_private => Err(refusal("the URL's host", ip, range)),
        _ => Ok(()),
    }
}

/// The whole check, for activation and configuration (an early answer): the scheme, an IP
/// literal, or every address the name resolves to now. The delivery checks again when it
/// connects.
pub async fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    check_literal(&parsed, allow_private)?;
    if allow_private {
        return Ok(());
    }
    if let Some(url::Host::Domain(host)) = parsed.host() {
        resolve_public(host).await?;
    }
    Ok(())
}

/// The addresses of `host`, all of them public, or why not.
async fn resolve_public(host: &str) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((host, 0)).await.map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    for a in &addrs {
        if let Some(range) = special_range(a.ip()) {
            return Err(refusal(host, a.ip(), range));
        }
    }
    Ok(addrs)
}

/// reqwest's resolver for tenant URLs: resolves once and answers only public addresses
/// (refusing the name when any address is not).
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalOnly;

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl reqwest::dns::Resolve for GlobalOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            match resolve_public(&host).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(why) => Err(Box::new(Refused(why)) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

/// An HTTP client for tenant URLs: the outbound TLS trust, the timeout, no redirects, no
/// proxy, and unless `allow_private` the resolver that refuses non-public addresses. Send
/// only to URLs that passed [`check_literal`].
pub fn client(tls: &ClientTls, allow_private: bool, timeout: Duration) -> reqwest::Client {
    let mut builder = tls
        .http_builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if !allow_private {
        builder = builder.dns_resolver(std::sync::Arc::new(GlobalOnly));
    }
    builder.build().expect("an HTTP client with a preconfigured TLS configuration builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_special_range_is_refused_and_public_addresses_pass() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "172.16.5.5",
            "172.31.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "4000::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} must be refused");
        }
        for ip in [
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "64:ff9b::808:808",
            "2001:4860:4860::8888",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} is public: {:?}", special_range(ip));
        }
    }

    #[test]
    fn literals_are_checked_without_resolving() {
        let check = |u: &str, allow| check_literal(&reqwest::Url::parse(u).unwrap(), allow);
        for u in
            ["http://[::1]:8080/hook", "http://2130706433/", "http://0x7f.1/", "http://127.1/", "https://[fd00::1]/"]
        {
            assert!(check(u, false).unwrap_err().contains("not a public address"), "{u}");
            assert!(check(u, true).is_ok(), "{u}");
        }
        assert!(check("ftp://example.org/", true).is_err());
        assert!(check("http://example.org/", false).is_ok(), "names are checked when resolved");
    }
}
