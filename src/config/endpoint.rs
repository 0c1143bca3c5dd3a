//! Endpoint URLs: parsed once, at load, into [`Url`] — the type and parser reqwest connects
//! with — and held typed from then on. The transport rule (SPEC §5) is judged on that parsed
//! URL, never on the text: `https://` always; `http://` only when the host the connection goes
//! to is loopback (127.0.0.0/8, `::1`, `localhost`).

use url::{Host, Url};

/// Why a URL was refused: what is wrong with it and how to fix it. Neither echoes the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlProblem {
    /// Completes "`endpoint` in profile `x` ...".
    pub what: String,
    /// What to do.
    pub fix: String,
}

const LOOPBACK_HINT: &str =
    "http:// is accepted only for loopback hosts (127.0.0.0/8, ::1, localhost)";

const EXAMPLE: &str = "write it like \"https://host.example.com\" or \"https://host:8443/path\"";

fn problem(what: impl Into<String>, fix: impl Into<String>) -> UrlProblem {
    UrlProblem {
        what: what.into(),
        fix: fix.into(),
    }
}

/// Parses `text` as an endpoint and checks it against the transport rule.
pub(crate) fn parse_endpoint(text: &str) -> Result<Url, UrlProblem> {
    // The URL standard silently drops tabs and newlines and trims spaces; in a config file
    // they are a mistake, not something to repair.
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem(
            "contains whitespace or a control character",
            "remove the spaces; a URL has none",
        ));
    }
    let url = Url::parse(text).map_err(|e| {
        use url::ParseError as E;
        let what = match e {
            E::RelativeUrlWithoutBase => "must start with `https://`",
            E::EmptyHost => "has no host",
            E::InvalidPort => "has an invalid port (expected a number from 1 to 65535)",
            E::InvalidIpv4Address => "has an invalid IPv4 address",
            E::InvalidIpv6Address => "has an invalid IPv6 address in `[...]`",
            E::InvalidDomainCharacter | E::IdnaError => {
                "has a host with characters that are not allowed in a host name"
            }
            _ => "is not a valid URL",
        };
        let fix = if matches!(e, E::InvalidDomainCharacter | E::IdnaError) {
            format!("{EXAMPLE}; put an IPv6 address in brackets: \"https://[::1]:8443\"")
        } else {
            format!("{EXAMPLE}; {LOOPBACK_HINT}")
        };
        problem(what, fix)
    })?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => {
            return Err(problem(
                "must start with `https://`",
                format!("{EXAMPLE}; {LOOPBACK_HINT}"),
            ));
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(problem(
            "must not contain a user name or password (`user@`)",
            "remove everything up to and including `@`; credentials come from the profile's \
             secret sources",
        ));
    }
    if url.port() == Some(0) || has_empty_port(text) {
        return Err(problem(
            "has an invalid port (expected a number from 1 to 65535)",
            EXAMPLE,
        ));
    }
    if !https && !is_loopback(&url) {
        let host = url.host_str().unwrap_or_default();
        return Err(problem(
            format!("uses http:// with host `{host}`, which is not a loopback host"),
            format!("use https://; {LOOPBACK_HINT}"),
        ));
    }
    Ok(url)
}

/// A `:` with no port after it (`https://host:/`): the URL standard reads it as the default
/// port, but it is more likely a port that was forgotten.
fn has_empty_port(text: &str) -> bool {
    let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    authority.ends_with(':')
}

/// Whether the host `url` connects to is loopback: an IPv4 address in 127.0.0.0/8, `::1`, or
/// the name `localhost` (the parser has already lower-cased it and decoded any `%XX`).
/// `localhost.` and `127.0.0.1.example.com` are names like any other.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// How an endpoint is shown: as parsed, without the lone `/` the parser adds to a bare host
/// (`https://iam.example.com`, not `https://iam.example.com/`).
pub fn shown(url: &Url) -> &str {
    let text = url.as_str();
    if url.path() == "/" && url.query().is_none() && url.fragment().is_none() {
        text.strip_suffix('/').unwrap_or(text)
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        for url in [
            "https://bm.tencentcloudapi.com",
            "https://dcs.cn-north-4.myhuaweicloud.com/v2/",
            "HTTPS://example.com:8443/x?y#z",
            "http://127.0.0.1:8707",
            "http://127.9.8.7",
            "http://localhost:1/",
            "http://LOCALHOST",
            "http://[::1]:8707/path",
            "https://[2001:db8::1]",
            // Spellings of 127.0.0.1 the URL standard (and so reqwest) reads as that address.
            "http://127.1",
            "http://0x7f000001",
            "http://2130706433",
            "http://%6Cocalhost",
            "http://127.0.0.1.",
            // An `@` after the host is part of the path: the host is still 127.0.0.1.
            "http://127.0.0.1/@evil.com",
            "http://127.0.0.1\\@evil.com",
        ] {
            assert!(
                parse_endpoint(url).is_ok(),
                "{url}: {:?}",
                parse_endpoint(url)
            );
        }
    }

    #[test]
    fn refused() {
        for (url, fragment) in [
            ("bm.tencentcloudapi.com", "https://"),
            ("localhost:8707", "https://"),
            ("ftp://example.com", "https://"),
            ("http://example.com", "not a loopback host"),
            ("http://128.0.0.1", "not a loopback host"),
            ("http://[::2]", "not a loopback host"),
            ("http://[::ffff:127.0.0.1]", "not a loopback host"),
            ("http://localhost.example.com", "not a loopback host"),
            ("http://127.0.0.1.evil.com", "not a loopback host"),
            ("http://localhost.", "not a loopback host"),
            ("http://127.0.0.1@evil.com", "user name or password"),
            ("http://localhost:8707@evil.com", "user name or password"),
            ("https://user:pw@example.com", "user name or password"),
            ("https://", "no host"),
            ("https://:443", "no host"),
            ("https://example.com:0", "invalid port"),
            ("https://example.com:70000", "invalid port"),
            ("https://example.com:", "invalid port"),
            ("https://example.com:/x", "invalid port"),
            ("https://[::1", "IPv6"),
            ("https://[zz]", "IPv6"),
            ("http://127.0.0.256", "IPv4"),
            ("https://exa mple.com", "whitespace"),
            ("https://exa\tmple.com", "whitespace"),
            ("https://exa%mple.com", "characters"),
            ("https://exa<mple.com", "characters"),
        ] {
            let err = parse_endpoint(url).expect_err(url);
            assert!(err.what.contains(fragment), "{url}: {}", err.what);
            // The message never echoes the text (too short to tell for `https://`).
            if url.len() > "https://".len() {
                assert!(!err.what.contains(url) && !err.fix.contains(url), "{url}");
            }
        }
    }

    #[test]
    fn the_refused_host_is_the_one_connected_to() {
        // A name that starts like an address is a name: it goes to DNS.
        let err = parse_endpoint("http://127.0.0.1.evil.com/x").expect_err("refused");
        assert!(err.what.contains("`127.0.0.1.evil.com`"), "{}", err.what);
    }

    #[test]
    fn loopback() {
        let url = |s: &str| Url::parse(s).expect(s);
        assert!(is_loopback(&url("http://127.0.0.1:8707")));
        assert!(is_loopback(&url("https://localhost")));
        assert!(is_loopback(&url("http://[::1]")));
        assert!(is_loopback(&url("http://LocalHost")));
        assert!(!is_loopback(&url("https://example.com")));
        assert!(!is_loopback(&url("http://127.0.0.1@evil.com")));
        assert!(!is_loopback(&url("http://localhost.")));
        assert!(!is_loopback(&url("http://127.0.0.1.evil.com")));
    }

    #[test]
    fn shown_without_the_added_slash() {
        let shown_of = |s: &str| shown(&parse_endpoint(s).expect(s)).to_string();
        assert_eq!(
            shown_of("https://iam.example.com"),
            "https://iam.example.com"
        );
        assert_eq!(shown_of("http://[::1]:8707/"), "http://[::1]:8707");
        assert_eq!(
            shown_of("https://h.example.com/v3"),
            "https://h.example.com/v3"
        );
        assert_eq!(
            shown_of("https://h.example.com/?a=b"),
            "https://h.example.com/?a=b"
        );
        assert_eq!(shown_of("HTTPS://H.Example.COM"), "https://h.example.com");
    }
}
