//! Where a profile's requests go: its endpoint (or the provider's default), and the one way a
//! request URL is built from an endpoint and a path.

use url::Url;

use super::{huawei_dcs, tencent_bm};
use crate::config::{Profile, ProviderConfig, TencentApi};

/// The endpoint a profile's change goes to: its override, or the provider's default. `None`
/// only for a profile the loader would have refused (a CIAM profile without an endpoint).
pub fn endpoint_of(profile: &Profile) -> Option<Url> {
    match &profile.provider {
        ProviderConfig::TencentBmVpn(t) => profile.endpoint.clone().or_else(|| {
            Url::parse(match t.api {
                TencentApi::V3 => tencent_bm::V3_ENDPOINT,
                TencentApi::V2 => tencent_bm::V2_ENDPOINT,
            })
            .ok()
        }),
        ProviderConfig::HuaweiDcs(d) => profile
            .endpoint
            .clone()
            .or_else(|| huawei_dcs::default_endpoint(&d.region)),
        ProviderConfig::HuaweiIam(i) => Some(i.iam_endpoint.clone()),
        ProviderConfig::TencentCiam(_) => profile.endpoint.clone(),
    }
}

/// The endpoint as shown in the details and in `rekey profiles --json` (empty when none).
pub fn shown_endpoint_of(profile: &Profile) -> String {
    endpoint_of(profile)
        .map(|url| crate::config::shown_endpoint(&url).to_string())
        .unwrap_or_default()
}

/// `base` with `segments` appended to its path, each one percent-encoded as a single segment
/// (a `/`, `?` or `%` inside one cannot change where the request goes). The base keeps its own
/// path: `https://h/prefix/` + `["v2", "x"]` is `https://h/prefix/v2/x`; trailing slashes of
/// the base do not double. Its query is kept. An empty, `.` or `..` segment is refused: the
/// URL standard would drop it silently and the request would go somewhere else.
pub fn join(base: &Url, segments: &[&str]) -> Result<Url, String> {
    if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
        return Err(format!(
            "`{bad}` cannot be part of a request path (an empty, `.` or `..` path segment)"
        ));
    }
    let trailing_empty = base
        .path_segments()
        .map_or(0, |s| s.rev().take_while(|s| s.is_empty()).count());
    let mut url = base.clone();
    match url.path_segments_mut() {
        Ok(mut path) => {
            for _ in 0..trailing_empty {
                path.pop();
            }
            path.extend(segments);
        }
        Err(()) => return Err("the endpoint cannot have a path (it is not an http URL)".into()),
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(base: &str, segments: &[&str]) -> String {
        let base = Url::parse(base).expect(base);
        join(&base, segments).expect("joined").to_string()
    }

    #[test]
    fn slashes_between_base_and_path_never_double_or_vanish() {
        for base in [
            "https://h.example.com",
            "https://h.example.com/",
            "https://h.example.com//",
        ] {
            assert_eq!(
                joined(base, &["v2", "p", "password"]),
                "https://h.example.com/v2/p/password",
                "{base}"
            );
        }
    }

    #[test]
    fn the_base_path_is_kept() {
        for base in [
            "https://h.example.com/gw/dcs",
            "https://h.example.com/gw/dcs/",
            "https://h.example.com/gw/dcs///",
        ] {
            assert_eq!(
                joined(base, &["oauth2", "token"]),
                "https://h.example.com/gw/dcs/oauth2/token",
                "{base}"
            );
        }
        assert_eq!(
            joined("http://127.0.0.1:8707/a%20b/", &["c"]),
            "http://127.0.0.1:8707/a%20b/c",
            "an encoded base path is not encoded twice"
        );
        assert_eq!(
            joined("https://h.example.com/x?tenant=1", &["y"]),
            "https://h.example.com/x/y?tenant=1",
            "the query stays a query"
        );
    }

    #[test]
    fn a_segment_cannot_leave_its_place() {
        assert_eq!(
            joined(
                "https://h.example.com/v3",
                &["users", "a/../b?c#d%2F", "password"]
            ),
            "https://h.example.com/v3/users/a%2F..%2Fb%3Fc%23d%252F/password"
        );
        assert_eq!(
            joined("https://h.example.com", &["a\\b"]),
            "https://h.example.com/a%5Cb"
        );
        let base = Url::parse("https://h.example.com/v3").expect("url");
        for bad in ["", ".", ".."] {
            let err = join(&base, &["users", bad, "password"]).expect_err(bad);
            assert!(err.contains("path segment"), "{err}");
        }
    }

    #[test]
    fn no_segments_is_the_base_without_its_trailing_slashes() {
        assert_eq!(
            joined("https://h.example.com/a//", &[]),
            "https://h.example.com/a"
        );
        assert_eq!(
            joined("https://h.example.com/", &[]),
            "https://h.example.com/"
        );
    }
}
