//! Redaction for the request/response log: by field name and header name, never by searching
//! for the typed text (SPEC §6).

use serde_json::Value;
use zeroize::Zeroize;

/// What a redacted value is shown as.
pub const MASK: &str = "•••";

/// Body fields (JSON keys, form names, query names) whose values are secrets. Names match
/// case-insensitively and ignoring `_` and `-`: `new_password`, `newPassword` and
/// `NEW-PASSWORD` are the same field.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "new_password",
    "old_password",
    "original_password",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "signature",
    "token",
    "security_token",
    "session_token",
    "secret",
    "secret_key",
    "tmp_secret_key",
    "api_key",
];

/// Fields shown as a short prefix only (enough to tell keys apart); matched like
/// [`SECRET_FIELDS`].
pub const PREFIX_ONLY_FIELDS: &[&str] = &["SecretId"];

/// Headers whose values are secrets; matched like [`SECRET_FIELDS`].
pub const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-auth-token",
    "x-subject-token",
    "x-tc-token",
    "x-security-token",
    "cookie",
    "set-cookie",
];

/// Whether `name` equals `listed`, case-insensitively and ignoring `_` and `-`.
fn same_name(name: &str, listed: &str) -> bool {
    let key = |s: &str| {
        s.bytes()
            .filter(|b| *b != b'_' && *b != b'-')
            .map(|b| b.to_ascii_lowercase())
            .collect::<Vec<u8>>()
    };
    key(name) == key(listed)
}

fn listed(name: &str, list: &[&str]) -> bool {
    list.iter().any(|l| same_name(name, l))
}

/// Whether a body field, form or query name holds a secret.
pub fn is_secret_field(name: &str) -> bool {
    listed(name, SECRET_FIELDS)
}

/// Whether a field is shown as a prefix only.
pub fn is_prefix_only(name: &str) -> bool {
    listed(name, PREFIX_ONLY_FIELDS)
}

/// Whether a header holds a secret.
pub fn is_secret_header(name: &str) -> bool {
    listed(name, SECRET_HEADERS)
}

/// The first few characters of an identifier, then an ellipsis.
pub fn prefix_only(value: &str) -> String {
    let shown: String = value.chars().take(6).collect();
    format!("{shown}…")
}

/// A header value as the log shows it. `Authorization` keeps its scheme word.
pub fn header(name: &str, value: &str) -> String {
    if !is_secret_header(name) {
        return value.to_string();
    }
    if (same_name(name, "authorization") || same_name(name, "proxy-authorization"))
        && let Some((scheme, _)) = value.split_once(' ')
        && scheme.len() < 32
        && !scheme.contains('=')
    {
        return format!("{scheme} {MASK}");
    }
    MASK.to_string()
}

/// Overwrites every string inside `value` (keys excepted) with zeros before it is dropped or
/// replaced: parsed answers hold tokens.
pub fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.values_mut().for_each(wipe),
        _ => {}
    }
}

/// Replaces secret values in a JSON document, in place. A secret key's value is masked whole
/// (scalars and arrays alike), except that objects under a secret key are walked, not masked
/// (IAM's `identity.password` is an object holding `user.password`).
pub fn json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::Object(_) => json(v),
                    Value::Null => {}
                    _ if is_secret_field(key) => {
                        wipe(v);
                        *v = Value::String(MASK.into());
                    }
                    Value::Array(_) => json(v),
                    Value::String(s) if is_prefix_only(key) => {
                        let shown = prefix_only(s);
                        s.zeroize();
                        *s = shown;
                    }
                    _ => {}
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        _ => {}
    }
}

/// Form pairs as the log shows them (`name=value&...`, unencoded for reading).
pub fn form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        if is_secret_field(name) {
            out.push_str(MASK);
        } else if is_prefix_only(name) {
            out.push_str(&prefix_only(value));
        } else {
            out.push_str(value);
        }
    }
    out
}

/// A URL without secrets in its query (the query is rebuilt with secret values masked).
pub fn url(url: &url::Url) -> String {
    let mut shown = url.clone();
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_field(&k) {
                    MASK.to_string()
                } else if is_prefix_only(&k) {
                    prefix_only(&v)
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.set_username("").ok();
    shown.set_password(None).ok();
    shown.to_string()
}

/// The most of a body the log keeps.
pub const MAX_BODY_SHOWN: usize = 8 * 1024;

/// A response body as the log shows it: JSON with secret fields masked, a form with secret
/// names masked, or the text itself, cut to [`MAX_BODY_SHOWN`].
pub fn body(content_type: Option<&str>, bytes: &[u8]) -> String {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut value) => {
            let shown = masked(&mut value);
            wipe(&mut value);
            shown
        }
        Err(_) => text_body(content_type, bytes),
    }
}

/// An already parsed JSON body as the log shows it (see [`body`]).
pub fn json_shown(value: &Value) -> String {
    let mut copy = value.clone();
    let shown = masked(&mut copy);
    wipe(&mut copy);
    shown
}

fn masked(value: &mut Value) -> String {
    json(value);
    cut(serde_json::to_string(value).unwrap_or_default())
}

/// A body that is not JSON as the log shows it: a form with secret names masked, or the text
/// itself, cut to [`MAX_BODY_SHOWN`].
pub fn text_body(content_type: Option<&str>, bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return String::new();
    }
    let is_form =
        content_type.is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let shown = cut(form(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        for (_, v) in &mut pairs {
            v.zeroize();
        }
        return shown;
    }
    cut(String::from_utf8_lossy(bytes).into_owned())
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_BODY_SHOWN {
        let mut end = MAX_BODY_SHOWN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" …(cut)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "Cq9!zKanary#71";

    #[test]
    fn json_secrets_are_masked_by_field_at_any_depth() {
        let mut v = serde_json::json!({
            "auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "alice", "password": CANARY, "domain": {"name": "acct"}}}}},
            "user": {"password": CANARY, "original_password": CANARY},
            "old_password": CANARY, "new_password": CANARY, "Password": CANARY,
            "access_token": CANARY, "refresh_token": CANARY, "id_token": CANARY,
            "client_secret": CANARY, "SecretId": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Operate": "Update"
        });
        json(&mut v);
        let text = v.to_string();
        assert!(!text.contains(CANARY), "{text}");
        assert!(text.contains("alice") && text.contains("Update"));
        assert!(text.contains("AKIDz8…"));
        assert!(!text.contains("EXAMPLE"));
    }

    #[test]
    fn headers_keep_only_the_scheme() {
        assert_eq!(
            header(
                "Authorization",
                "TC3-HMAC-SHA256 Credential=AKID/2019/bm/tc3_request, Signature=abc"
            ),
            "TC3-HMAC-SHA256 •••"
        );
        assert_eq!(header("authorization", "Bearer eyJhbGciOi"), "Bearer •••");
        assert_eq!(header("X-Auth-Token", CANARY), MASK);
        assert_eq!(header("X-Subject-Token", CANARY), MASK);
        assert_eq!(header("X-TC-Token", CANARY), MASK);
        assert_eq!(header("X-Security-Token", CANARY), MASK);
        assert_eq!(
            header("Content-Type", "application/json"),
            "application/json"
        );
    }

    #[test]
    fn forms_and_urls_mask_secret_names() {
        let shown = form([
            ("Action", "SetOutBandVPNAuthPwd"),
            ("password", CANARY),
            ("Signature", "abc="),
            ("SecretId", "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"),
            ("Token", CANARY),
        ]);
        assert!(!shown.contains(CANARY) && !shown.contains("abc="));
        assert!(shown.contains("Action=SetOutBandVPNAuthPwd"));
        let u = url::Url::parse("https://h/v2/index.php?password=Abc%23&SecretId=AKIDz8krbsJ5&x=1")
            .expect("url");
        let shown = url(&u);
        assert!(!shown.contains("Abc"), "{shown}");
        assert!(shown.contains("x=1"));
    }

    #[test]
    fn bodies_are_parsed_then_masked_and_cut() {
        let b = format!(r#"{{"access_token":"{CANARY}","token_type":"Bearer"}}"#);
        let shown = body(Some("application/json"), b.as_bytes());
        assert!(!shown.contains(CANARY) && shown.contains("Bearer"));
        let f = format!("grant_type=password&password={CANARY}&client_secret={CANARY}");
        let shown = body(Some("application/x-www-form-urlencoded"), f.as_bytes());
        assert!(!shown.contains(CANARY) && shown.contains("grant_type=password"));
        let html = "<html>".repeat(5000);
        let shown = body(Some("text/html"), html.as_bytes());
        assert!(shown.len() < MAX_BODY_SHOWN + 16 && shown.ends_with("(cut)"));
    }

    #[test]
    fn names_match_ignoring_case_underscores_and_dashes() {
        for name in [
            "password",
            "PASSWORD",
            "newPassword",
            "new_password",
            "NewPassword",
            "old-password",
            "originalPassword",
            "accessToken",
            "access_token",
            "refreshToken",
            "idToken",
            "SecretKey",
            "secret_key",
            "TmpSecretKey",
            "tmpSecretKey",
            "sessionToken",
            "SessionToken",
            "securityToken",
            "security_token",
            "client_secret",
            "clientSecret",
            "apiKey",
            "api_key",
            "Signature",
            "Token",
        ] {
            let mut v = serde_json::json!({ name: CANARY });
            json(&mut v);
            assert_eq!(v[name], MASK, "{name}");
            assert!(is_secret_field(name), "{name}");
            let shown = form([(name, CANARY)]);
            assert!(!shown.contains(CANARY), "{name}: {shown}");
        }
        for name in [
            "SignatureMethod",
            "password_expires_at",
            "user",
            "Operate",
            "methods",
        ] {
            assert!(!is_secret_field(name), "{name}");
        }
        for name in ["SecretId", "secret_id", "secretId"] {
            let mut v = serde_json::json!({ name: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE" });
            json(&mut v);
            assert_eq!(v[name], "AKIDz8…", "{name}");
        }
    }

    #[test]
    fn secret_arrays_are_masked_whole_and_objects_walked() {
        let mut v = serde_json::json!({
            "passwords": ["not-a-listed-name"],
            "password": [CANARY, {"x": CANARY}],
            "tokens": [{"token": CANARY}, {"name": "ok"}],
            "identity": {"methods": ["password"], "password": {"user": {"password": CANARY}}},
            "Credentials": {"TmpSecretKey": CANARY, "SessionToken": CANARY, "TmpSecretId": "AKIDabc"}
        });
        json(&mut v);
        let text = v.to_string();
        assert!(!text.contains(CANARY), "{text}");
        assert_eq!(v["password"], MASK);
        assert_eq!(
            v["identity"]["methods"][0], "password",
            "not a secret value"
        );
        assert_eq!(v["tokens"][1]["name"], "ok");
        assert_eq!(v["Credentials"]["TmpSecretId"], "AKIDabc");
    }

    #[test]
    fn cookies_and_header_spellings_are_masked() {
        for name in [
            "Cookie",
            "cookie",
            "Set-Cookie",
            "set-cookie",
            "SET_COOKIE",
            "x-auth-token",
            "X_Auth_Token",
            "X-Subject-Token",
            "Proxy-Authorization",
        ] {
            assert_eq!(header(name, CANARY), MASK, "{name}");
            assert!(is_secret_header(name), "{name}");
        }
        assert_eq!(
            header("authorization", "Bearer abc"),
            format!("Bearer {MASK}")
        );
        assert_eq!(header("X-Request-Id", "r-1"), "r-1");
    }

    #[test]
    fn wipe_zeroes_every_string() {
        let mut v = serde_json::json!({"a": CANARY, "b": [CANARY, {"c": CANARY}], "n": 1});
        wipe(&mut v);
        assert!(!v.to_string().contains("Kanary"), "{v}");
        assert_eq!(
            json_shown(&serde_json::json!({"password": CANARY})),
            r#"{"password":"•••"}"#
        );
    }
}
