//! Who the client is: the address that connection caps and rate limits count by.
//!
//! It is the socket's peer, unless that peer is a reverse proxy the operator named
//! (`--trusted-proxy CIDR`): then it is the nearest address in the proxy's `X-Forwarded-For`
//! (else `Forwarded: for=`) that is not itself a trusted proxy, read from the right, since
//! everything left of the first untrusted hop was written by the client and proves nothing.
//! A header from an untrusted peer is ignored, so a client cannot choose the address it is
//! counted under.

use http::HeaderMap;
use std::net::IpAddr;

/// An IPv4 address mapped into IPv6 is the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// What a client is counted under by the per-address limits (open connections, pending
/// tokens): an IPv4 address, or the /64 of an IPv6 one (one host usually holds a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    /// An IPv4 address (IPv4-mapped IPv6 included).
    V4(u32),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
}

impl AddressKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> AddressKey {
        match canonical(ip) {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => AddressKey::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

/// `192.0.2.1`, or `2001:db8:1:2::/64`: how a key is stored (pending tokens' `registered_from`).
impl std::fmt::Display for AddressKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            AddressKey::V4(v4) => write!(f, "{}", std::net::Ipv4Addr::from(v4)),
            AddressKey::V6(prefix) => {
                write!(
                    f,
                    "{}/64",
                    std::net::Ipv6Addr::from(u128::from(prefix) << 64)
                )
            }
        }
    }
}

/// Whether `ip` is in one of `proxies`.
pub fn is_trusted_proxy(proxies: &[ipnet::IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    proxies.iter().any(|net| net.contains(&ip))
}

/// A request's client address, once found: the credential throttle, the outermost layer that
/// needs it, puts it in the request's extensions, and everything after reads it from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client address of a request: the [`ClientIp`] its extensions hold, else found from its
/// socket's peer (`ConnectInfo`) and headers; unspecified for a request served without a
/// socket (in-process calls).
pub fn of_request(
    extensions: &http::Extensions,
    headers: &HeaderMap,
    proxies: &[ipnet::IpNet],
) -> IpAddr {
    if let Some(ClientIp(ip)) = extensions.get::<ClientIp>() {
        return *ip;
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| client_ip(c.0.ip(), headers, proxies))
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// The client's address for a request that came from `peer` with `headers`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[ipnet::IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted_proxy(proxies, peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = forwarded_for(headers);
    if hops.is_empty() {
        return peer;
    }
    // Nearest first: the last hop was added by the proxy that connected to us.
    while let Some(hop) = hops.pop() {
        if !is_trusted_proxy(proxies, hop) || hops.is_empty() {
            return canonical(hop);
        }
    }
    peer
}

/// The addresses of `X-Forwarded-For` (every such header, in order), else those of
/// `Forwarded: for=…`; entries that are no address (`unknown`, obfuscated names) are skipped.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let xff: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(parse_node)
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_node(value))?
            })
        })
        .collect()
}

/// One node: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `"[2001:db8::1]:4711"`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let t = text.trim().trim_matches('"');
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = t.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    // IPv4 with a port.
    let (host, port) = t.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The client of a request from `peer` with one header, the proxies being 10.0.0.0/8.
    fn behind_10_8(peer: &str, header: (&'static str, &str)) -> IpAddr {
        client_ip(ip(peer), &headers(&[header]), &nets(&["10.0.0.0/8"]))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let claim = ("x-forwarded-for", "198.51.100.7");
        assert_eq!(
            client_ip(ip("192.0.2.1"), &headers(&[claim]), &[]),
            ip("192.0.2.1")
        );
        assert_eq!(behind_10_8("192.0.2.1", claim), ip("192.0.2.1"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() {
        for (header, client) in [
            // The client wrote a fake first hop; the proxy appended the real one.
            (
                ("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.2"),
                "198.51.100.7",
            ),
            (
                (
                    "forwarded",
                    "for=1.2.3.4, for=\"[2001:db8::7]:4711\";proto=https",
                ),
                "2001:db8::7",
            ),
            (("x-forwarded-for", "198.51.100.7:5555"), "198.51.100.7"),
        ] {
            assert_eq!(behind_10_8("10.0.0.1", header), ip(client), "{header:?}");
        }
    }

    #[test]
    fn a_trusted_proxy_without_a_usable_header_is_the_client() {
        let garbage = ("x-forwarded-for", "unknown, garbage");
        assert_eq!(behind_10_8("10.0.0.1", garbage), ip("10.0.0.1"));
        assert_eq!(
            client_ip(
                ip("::ffff:10.0.0.1"),
                &HeaderMap::new(),
                &nets(&["10.0.0.0/8"])
            ),
            ip("10.0.0.1")
        );
    }

    proptest! {
        /// Whatever a client puts in the headers, an untrusted peer is counted as itself, and
        /// behind a trusted proxy the answer is one of the header's addresses or the proxy.
        #[test]
        fn the_answer_is_the_peer_or_a_listed_address(
            fake in proptest::collection::vec(any::<[u8; 4]>(), 0..5),
            junk in "[ -~]{0,40}",
        ) {
            let listed: Vec<String> = fake.iter().map(|b| std::net::Ipv4Addr::from(*b).to_string()).collect();
            let value = format!("{}, {junk}", listed.join(", "));
            let mut h = HeaderMap::new();
            if let Ok(v) = value.parse() {
                h.insert("x-forwarded-for", v);
            }
            let proxies = nets(&["10.0.0.0/8"]);
            prop_assert_eq!(client_ip(ip("192.0.2.1"), &h, &proxies), ip("192.0.2.1"));
            let got = client_ip(ip("10.0.0.1"), &h, &proxies);
            let allowed = got == ip("10.0.0.1")
                || forwarded_for(&h).contains(&got);
            prop_assert!(allowed, "{got} from {value:?}");
        }
    }
}
