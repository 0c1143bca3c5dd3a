//! The transport rule for endpoint URLs (SPEC §5): `https://` always; `http://` only for
//! loopback hosts (127.0.0.0/8, `::1`, `localhost`).

use std::net::{Ipv4Addr, Ipv6Addr};

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

/// The scheme and host of an acceptable URL.
struct Parts<'a> {
    https: bool,
    host: Host<'a>,
}

enum Host<'a> {
    Name(&'a str),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host<'_> {
    fn is_loopback(&self) -> bool {
        match self {
            Host::Name(name) => name.eq_ignore_ascii_case("localhost"),
            Host::V4(ip) => ip.is_loopback(),
            Host::V6(ip) => ip.is_loopback(),
        }
    }
}

/// Checks `url` against the transport rule.
pub(crate) fn check_url(url: &str) -> Result<(), UrlProblem> {
    let parts = split(url)?;
    if !parts.https && !parts.host.is_loopback() {
        let host = match parts.host {
            Host::Name(name) => name.to_string(),
            Host::V4(ip) => ip.to_string(),
            Host::V6(ip) => format!("[{ip}]"),
        };
        return Err(UrlProblem {
            what: format!("uses http:// with host `{host}`, which is not a loopback host"),
            fix: format!("use https://; {LOOPBACK_HINT}"),
        });
    }
    Ok(())
}

/// Whether `url` is a well-formed URL whose host is loopback (127.0.0.0/8, `::1`, `localhost`).
pub fn is_loopback_url(url: &str) -> bool {
    split(url).is_ok_and(|p| p.host.is_loopback())
}

fn problem(what: impl Into<String>, fix: impl Into<String>) -> UrlProblem {
    UrlProblem {
        what: what.into(),
        fix: fix.into(),
    }
}

fn split(url: &str) -> Result<Parts<'_>, UrlProblem> {
    let example = "write it like \"https://host.example.com\" or \"https://host:8443/path\"";
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem(
            "contains whitespace or a control character",
            "remove the spaces; a URL has none",
        ));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(problem(
            "must start with `https://`",
            format!("{example}; {LOOPBACK_HINT}"),
        ));
    };
    let https = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else {
        return Err(problem(
            "must start with `https://`",
            format!("{example}; {LOOPBACK_HINT}"),
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(problem(
            "must not contain a user name or password (`user@`)",
            "remove everything up to and including `@`; credentials come from the profile's \
             secret sources",
        ));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((inside, after)) = bracketed.split_once(']') else {
            return Err(problem("has an unclosed `[` in its host", example));
        };
        let Ok(ip) = inside.parse::<Ipv6Addr>() else {
            return Err(problem("has an invalid IPv6 address in `[...]`", example));
        };
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(problem("has text after `]` that is not a port", example)),
            },
        };
        (Host::V6(ip), port)
    } else {
        let (name, port) = match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        if name.is_empty() {
            return Err(problem("has no host", example));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(problem(
                "has a host with characters other than letters, digits, '-', '.' and '_'",
                format!("{example}; put an IPv6 address in brackets: \"https://[::1]:8443\""),
            ));
        }
        match name.parse::<Ipv4Addr>() {
            Ok(ip) => (Host::V4(ip), port),
            Err(_) => (Host::Name(name), port),
        }
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p != 0);
        if !valid {
            return Err(problem(
                "has an invalid port (expected a number from 1 to 65535)",
                example,
            ));
        }
    }
    Ok(Parts { https, host })
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
        ] {
            assert_eq!(check_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn refused() {
        for (url, fragment) in [
            ("bm.tencentcloudapi.com", "https://"),
            ("ftp://example.com", "https://"),
            ("http://example.com", "not a loopback host"),
            ("http://128.0.0.1", "not a loopback host"),
            ("http://[::2]", "not a loopback host"),
            ("http://localhost.example.com", "not a loopback host"),
            ("https://", "no host"),
            ("https://:443", "no host"),
            ("https://user:pw@example.com", "user name or password"),
            ("https://example.com:0", "invalid port"),
            ("https://example.com:70000", "invalid port"),
            ("https://example.com:", "invalid port"),
            ("https://[::1", "unclosed"),
            ("https://[zz]", "IPv6"),
            ("https://exa mple.com", "whitespace"),
            ("https://exa%mple.com", "characters"),
        ] {
            let err = check_url(url).expect_err(url);
            assert!(err.what.contains(fragment), "{url}: {}", err.what);
        }
    }

    #[test]
    fn loopback() {
        assert!(is_loopback_url("http://127.0.0.1:8707"));
        assert!(is_loopback_url("https://localhost"));
        assert!(is_loopback_url("http://[::1]"));
        assert!(!is_loopback_url("https://example.com"));
        assert!(!is_loopback_url("not a url"));
    }
}
