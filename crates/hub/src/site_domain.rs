//! A website's domain names as tenants hold them: normalising what a user or plugin typed to a
//! bare lower-case host, which names any number of tenants may hold, and ownership of
//! subdomains. Pure; everything above may use it.

/// Whether a (normalised) domain names no public site, so that any number of tenants may hold
/// it (issue 20 §5; the webhook guide tells every developer to add `localhost`): `localhost`,
/// IP literals, and the special-use names of RFC 6761 `*.localhost`, `*.test`, `*.invalid`.
/// Every other domain belongs to the one tenant that claimed it first.
pub fn is_shared_domain(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    d == "localhost"
        || d.parse::<std::net::IpAddr>().is_ok()
        || ["localhost", "test", "invalid"]
            .iter()
            .any(|tld| d == *tld || d.ends_with(&format!(".{tld}")))
}

/// Whether a normalised domain is one of `owned` or a subdomain of one (`blog.example.com` is
/// owned by a tenant owning `example.com`: the owner of a name controls its subdomains).
pub fn domain_is_owned(owned: &[String], domain: &str) -> bool {
    owned.iter().any(|o| {
        domain == o
            || domain
                .strip_suffix(o.as_str())
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// The bare lower-case host of a domain or URL (`https://Example.com:8080/x` → `example.com`),
/// `*` for the wildcard, or `None` when it is not a host name.
pub fn normalize_domain(input: &str) -> Option<String> {
    let t = input.trim();
    if t == "*" {
        return Some("*".into());
    }
    let no_scheme = t.split_once("://").map(|(_, rest)| rest).unwrap_or(t);
    let host_port = no_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = host_port
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(host_port);
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host_port,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !host.starts_with('.')
        && !host.contains("..");
    ok.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::{is_shared_domain, normalize_domain};

    #[test]
    fn domains_normalise() {
        assert_eq!(
            normalize_domain("https://Example.com:8080/x?y").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            normalize_domain("example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            normalize_domain("localhost:3000").as_deref(),
            Some("localhost")
        );
        assert_eq!(normalize_domain("*").as_deref(), Some("*"));
        assert_eq!(normalize_domain("bad domain"), None);
        assert_eq!(normalize_domain(""), None);
        assert_eq!(normalize_domain("a..b"), None);
    }

    #[test]
    fn only_names_of_no_public_site_are_shared() {
        for shared in [
            "localhost",
            "app.localhost",
            "blog.test",
            "x.invalid",
            "127.0.0.1",
            "10.1.2.3",
        ] {
            assert!(is_shared_domain(shared), "{shared}");
        }
        for public in [
            "example.com",
            "localhost.example.com",
            "test.com",
            "mytest",
            "invalid.org",
        ] {
            assert!(!is_shared_domain(public), "{public}");
        }
    }
}
