//! The SSRF guard (SPEC §2.2): a webhook may only reach public addresses, unless the operator
//! started the hub with `webhook_allow_private_targets` (local development).
//!
//! The check runs where the connection is made, on the address actually dialled: literal IPs
//! before connecting, names through [`GuardedResolver`], which hands the connector only the
//! public addresses a name resolves to. A name that resolves to a public address when the
//! tenant configures it and to `127.0.0.1` when the webhook fires (DNS rebinding) is refused
//! at that moment. The HTTP client never follows redirects, so a `302` to an internal address
//! cannot lead anywhere either. Test payloads and deliveries share this path.

use hyper::Uri;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpStream;

/// Errors of the connector stack, boxed as hyper-util expects them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Whether an address is private, loopback, link-local, multicast, reserved or otherwise not a
/// public unicast target.
///
/// IPv6 forms that carry an IPv4 address are judged by it: IPv4-mapped (`::ffff:a.b.c.d`),
/// NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`). Everything outside global unicast
/// (`2000::/3`) is refused, which covers loopback, unspecified, the deprecated IPv4-compatible
/// form (`::a.b.c.d`), unique-local, link-local, site-local, multicast, discard-only and the
/// local-use NAT64 prefix `64:ff9b:1::/48` (not globally reachable by its registration). Inside
/// `2000::/3`, the IETF protocol block `2001::/23` (Teredo `2001::/32`, benchmarking, ORCHID;
/// no real network is numbered there, and a Teredo address hides a client behind its NAT) and
/// the documentation prefixes are refused.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_non_public(v4),
        IpAddr::V6(v6) => v6_non_public(v6),
    }
}

fn v4_non_public(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 169 && b == 254) // link-local, cloud metadata services
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast
}

fn v6_non_public(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let low32 = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    if let Some(v4) = v6.to_ipv4_mapped() {
        return v4_non_public(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_non_public(low32); // NAT64, well-known prefix
    }
    if s[0] == 0x2002 {
        return v4_non_public(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])));
    }
    (s[0] & 0xe000) != 0x2000 // outside global unicast
        || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments, Teredo
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation (RFC 9637)
}

/// Why a target was refused; its text is what the attempt log shows.
#[derive(Debug, Clone, thiserror::Error)]
#[error("target-refused: {0}")]
pub struct TargetRefused(pub String);

/// Finds a [`TargetRefused`] in an error's source chain.
pub fn refusal_in<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e TargetRefused> {
    let mut cur: Option<&'e (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<TargetRefused>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

/// Resolves names with the system resolver and keeps only public addresses (all of them when
/// private targets are allowed).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str();
            // The connector sets the port; 0 is a placeholder for the lookup.
            let found = tokio::net::lookup_host((host, 0)).await;
            if allow_private {
                return Ok(found?.collect::<Vec<_>>().into_iter());
            }
            // A name that does not resolve and one that resolves only to private addresses get
            // the same words: otherwise a tenant could map the hub's internal names by trying
            // them as webhook targets and reading the attempt log.
            let kept: Vec<SocketAddr> = found
                .map(|addrs| addrs.filter(|a| !is_non_public(a.ip())).collect())
                .unwrap_or_default();
            if kept.is_empty() {
                return Err(
                    TargetRefused(format!("{host} does not resolve to a public address")).into(),
                );
            }
            Ok(kept.into_iter())
        })
    }
}

/// hyper-util's TCP connector behind the guard: literal IPs are checked here, names by
/// [`GuardedResolver`], so every connection goes to an address that passed.
#[derive(Debug, Clone)]
pub struct GuardedConnector {
    http: HttpConnector<GuardedResolver>,
    allow_private: bool,
}

impl GuardedConnector {
    /// A connector for `http` and `https` URLs (TLS is layered on top by the caller).
    pub fn new(allow_private: bool, connect_timeout: std::time::Duration) -> GuardedConnector {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver { allow_private });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        GuardedConnector {
            http,
            allow_private,
        }
    }
}

impl tower_service::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        if !self.allow_private {
            let literal = uri
                .host()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
                .and_then(|h| h.parse::<IpAddr>().ok());
            if let Some(ip) = literal.filter(|ip| is_non_public(*ip)) {
                let refused = TargetRefused(format!("{ip} is not a public address"));
                return Box::pin(async move { Err(refused.into()) });
            }
        }
        let connecting = self.http.call(uri);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::is_non_public;

    fn refused(ip: &str) -> bool {
        is_non_public(ip.parse().unwrap())
    }

    #[test]
    fn ipv4_private_and_special_ranges_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.8",
            "198.18.0.1",
            "255.255.255.255",
            "240.0.0.1",
        ] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv4_multicast_is_refused() {
        for ip in ["224.0.0.1", "239.255.255.250", "233.252.0.1"] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv4_documentation_ranges_are_refused() {
        for ip in ["192.0.2.1", "198.51.100.7", "203.0.113.200"] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.3.1",
            "223.255.255.1",
            "2606:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:200::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_loopback_unspecified_ula_and_link_local_are_refused() {
        for ip in ["::1", "::", "fd00::1", "fc00::1", "fe80::1", "febf::1"] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_site_local_is_refused() {
        for ip in ["fec0::1", "feff:ffff::1"] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_multicast_is_refused() {
        for ip in ["ff02::1", "ff05::2", "ff0e::101"] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv4_mapped_forms_are_judged_by_the_ipv4_address() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:7f00:1",
            "::ffff:172.16.0.1",
            "::ffff:192.168.1.1",
            "::ffff:100.64.0.1",
            "::ffff:224.0.0.1",
            "::ffff:0.0.0.0",
        ] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv4_compatible_forms_are_refused() {
        for ip in [
            "::127.0.0.1",
            "::10.0.0.1",
            "::8.8.8.8",
            "::169.254.169.254",
        ] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn nat64_is_judged_by_the_embedded_ipv4_address() {
        for ip in [
            "64:ff9b::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::169.254.169.254",
        ] {
            assert!(refused(ip), "{ip}");
        }
        assert!(!refused("64:ff9b::1.1.1.1"));
    }

    #[test]
    fn local_use_nat64_is_refused() {
        for ip in ["64:ff9b:1::a00:1", "64:ff9b:1::808:808"] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn sixtofour_is_judged_by_the_embedded_ipv4_address() {
        for ip in [
            "2002:7f00:1::1",
            "2002:a00:1::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::5",
        ] {
            assert!(refused(ip), "{ip}");
        }
        assert!(!refused("2002:101:101::1"));
    }

    #[test]
    fn teredo_and_ietf_protocol_assignments_are_refused() {
        for ip in [
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
            "2001:1ff::1",
        ] {
            assert!(refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_documentation_prefixes_are_refused() {
        for ip in ["2001:db8::1", "2001:db8:ffff::1", "3fff::1", "3fff:fff::1"] {
            assert!(refused(ip), "{ip}");
        }
        assert!(!refused("3fff:1000::1"));
    }

    #[test]
    fn discard_only_is_refused() {
        assert!(refused("100::1"));
    }
}
