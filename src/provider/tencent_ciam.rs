//! Tencent CIAM end-user password: the OAuth password grant (`POST /oauth2/token`) with the
//! current password, or a configured access token, then `POST /change_user_password` with
//! `Authorization: Bearer`.

use url::Url;
use zeroize::Zeroizing;

use super::http::{Request, Response, Session};
use super::job::{Change, OldNew, no_answer, report_from, text_of};
use super::outcome::{Outcome, Report};
use super::redact;
use super::sign::tencent_v2::form_encode;
use crate::config::TencentCiam;

/// The change request, as messages name it.
const CHANGE: &str = "CIAM password change";

fn url_for(endpoint: &Url, segments: &[&str]) -> Result<Url, Report> {
    super::endpoint::join(endpoint, segments)
        .map_err(|e| Report::new(Outcome::BadRequest, format!("endpoint: {e}")))
}

/// `error` and `error_description` of a JSON body, or the `WWW-Authenticate` Bearer error.
fn oauth_error(r: &Response) -> Option<(String, String)> {
    if let Some(v) = r.json()
        && let Some(code) = text_of(v.get("error"))
    {
        return Some((
            code,
            text_of(v.get("error_description")).unwrap_or_default(),
        ));
    }
    let header = r.header("www-authenticate")?;
    let field = |name: &str| {
        let start = header.find(&format!("{name}=\""))? + name.len() + 2;
        let end = header[start..].find('"')? + start;
        Some(header[start..end].to_string())
    };
    Some((
        field("error")?,
        field("error_description").unwrap_or_default(),
    ))
}

/// The code the log shows.
fn code_of(r: &Response) -> Option<String> {
    oauth_error(r).map(|(c, _)| c)
}

/// Token endpoint error → outcome (SPEC §3). Unlisted errors fall back as before a change
/// (nothing was changed): never `changed` or `unknown`.
pub fn map_token(status: u16, error: &str, description: &str) -> Outcome {
    match error {
        "invalid_grant" if description.contains("Abnormal user status") => Outcome::Locked,
        "invalid_grant" if description.contains("Wrong username or password") => {
            Outcome::WrongOldPassword
        }
        "invalid_auth_source" | "invalid_client" => Outcome::AuthFailed,
        _ => Outcome::from_http_status_before_change(status),
    }
}

/// Change endpoint error → outcome (SPEC §3). Never `changed`; an unlisted error inside a 2xx
/// is `unknown` (see [`Outcome::from_http_status`]).
pub fn map_change(status: u16, error: &str, description: &str) -> Outcome {
    match error {
        "wrong_old_password" => Outcome::WrongOldPassword,
        "duplicate_password" | "recurrent_password" => Outcome::ReusedPassword,
        "invalid_new_password" => Outcome::PolicyRejected,
        "user_not_found" => Outcome::NotFound,
        "abnormal_user_status" if description.contains("frozen") => Outcome::Frozen,
        "abnormal_user_status" => Outcome::Locked,
        "invalid_request" | "invalid_token" => Outcome::AuthFailed,
        "insufficient_scope" => Outcome::Denied,
        _ => Outcome::from_http_status(status),
    }
}

/// The password grant with `password`: the access token, or the report that ends the attempt.
pub async fn token_for(
    s: &Session,
    c: &Change<'_>,
    cfg: &TencentCiam,
    endpoint: &Url,
    password: &str,
) -> Result<Zeroizing<String>, Report> {
    let url = url_for(endpoint, &["oauth2", "token"])?;
    let mut pairs: Vec<(&str, &str)> =
        vec![("grant_type", "password"), ("client_id", &cfg.client_id)];
    if let Some(secret) = c.keys.get("client_secret") {
        pairs.push(("client_secret", secret));
    }
    pairs.extend([
        ("auth_source_id", cfg.auth_source_id.as_str()),
        ("username", cfg.username.as_str()),
        ("password", password),
        ("scope", "openid"),
    ]);
    let log = redact::form(pairs.iter().copied());
    let request = Request::new(reqwest::Method::POST, url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_encode(&pairs), log);
    match s.send(request, code_of).await {
        Ok(r) => token_answer(&r),
        Err(f) => Err(no_answer(f, "CIAM token request", false)),
    }
}

/// The token answer: the access token, or the report that ends the attempt. Nothing was
/// changed yet, so a failure is never `changed` or `unknown`.
fn token_answer(r: &Response) -> Result<Zeroizing<String>, Report> {
    if r.status == 200
        && let Some(token) = r
            .json()
            .and_then(|v| v.get("access_token"))
            .and_then(|t| t.as_str())
    {
        let mut out = Zeroizing::new(String::with_capacity(token.len()));
        out.push_str(token);
        return Ok(out);
    }
    Err(match oauth_error(r) {
        Some((code, desc)) => report_from(r, map_token(r.status, &code, &desc), Some(code), desc),
        None if r.status == 200 => report_from(
            r,
            Outcome::ServerError,
            None,
            "the token answer had no access_token; the password change was not sent".into(),
        ),
        None if r.is_2xx() => report_from(
            r,
            Outcome::ServerError,
            None,
            format!(
                "unexpected HTTP {} to the token request instead of 200; the password change was not sent",
                r.status
            ),
        ),
        None => report_from(
            r,
            Outcome::from_http_status_before_change(r.status),
            None,
            format!("HTTP {}", r.status),
        ),
    })
}

/// Changes the end user's password.
pub async fn change(s: &Session, c: &Change<'_>, cfg: &TencentCiam) -> Report {
    let Some(endpoint) = c.profile.endpoint.as_ref() else {
        return Report::new(Outcome::BadRequest, "tencent-ciam needs an endpoint");
    };
    let current = c.current.unwrap_or_default();
    let token = match c.keys.get("access_token") {
        Some(t) => {
            let mut out = Zeroizing::new(String::with_capacity(t.len()));
            out.push_str(t);
            out
        }
        None => match token_for(s, c, cfg, endpoint, current).await {
            Ok(t) => t,
            Err(r) => return r,
        },
    };
    let url = match url_for(endpoint, &["change_user_password"]) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let (body, log) = OldNew::encode(current, c.new);
    let mut bearer = Zeroizing::new(String::with_capacity(7 + token.len()));
    bearer.push_str("Bearer ");
    bearer.push_str(&token);
    let request = Request::new(reqwest::Method::POST, url)
        .header("Content-Type", "application/json")
        .header("Authorization", bearer.as_str())
        .body(body, log)
        .change();
    match s.send(request, code_of).await {
        Ok(r) => change_report(&r),
        Err(f) => no_answer(f, CHANGE, true),
    }
}

/// Checks whether the new password is now the user's, without changing anything: the
/// password grant with it (used after an `unknown` outcome).
pub async fn verify(s: &Session, c: &Change<'_>, cfg: &TencentCiam) -> Report {
    let Some(endpoint) = c.profile.endpoint.as_ref() else {
        return Report::new(Outcome::BadRequest, "tencent-ciam needs an endpoint");
    };
    match token_for(s, c, cfg, endpoint, c.new).await {
        Ok(_) => Report::new(Outcome::Changed, "a token was issued for the new password"),
        Err(r) => r,
    }
}

/// The report for the change answer. Success is documented as 200 (empty body); any other
/// 2xx, or a 200 that cannot be read, is no definite answer (`unknown`).
pub fn change_report(r: &Response) -> Report {
    if r.is_2xx() && r.status != 200 {
        return report_from(
            r,
            Outcome::Unknown,
            code_of(r),
            format!(
                "unexpected HTTP {} instead of 200; the change may have been applied",
                r.status
            ),
        );
    }
    if r.status == 200 {
        // Success is a 200 with an empty body; a body that is not JSON (cut off, say) is no
        // definite answer.
        let readable = r.body.iter().all(u8::is_ascii_whitespace) || r.json().is_some();
        if !readable {
            return report_from(
                r,
                Outcome::Unknown,
                None,
                "the answer could not be read; the change may have been applied".into(),
            );
        }
    }
    match oauth_error(r) {
        Some((code, desc)) => report_from(r, map_change(r.status, &code, &desc), Some(code), desc),
        None if r.status == 200 => report_from(r, Outcome::Changed, None, String::new()),
        // No OAuth error: a gateway's page, or an empty or foreign body.
        None => Report::foreign_answer(r.status, CHANGE, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_map_as_the_spec_lists() {
        for (status, error, desc, outcome) in [
            (
                400,
                "invalid_grant",
                "Wrong username or password",
                Outcome::WrongOldPassword,
            ),
            (
                400,
                "invalid_grant",
                "Abnormal user status",
                Outcome::Locked,
            ),
            (
                400,
                "invalid_auth_source",
                "Auth source and application not associated",
                Outcome::AuthFailed,
            ),
            (401, "invalid_client", "", Outcome::AuthFailed),
            (
                400,
                "invalid_grant",
                "Unsupported username identifier",
                Outcome::BadRequest,
            ),
            (500, "server_error", "", Outcome::ServerError),
        ] {
            assert_eq!(map_token(status, error, desc), outcome, "{error} {desc}");
        }
    }

    #[test]
    fn change_errors_map_as_the_spec_lists() {
        for (status, error, desc, outcome) in [
            (400, "wrong_old_password", "", Outcome::WrongOldPassword),
            (400, "duplicate_password", "", Outcome::ReusedPassword),
            (400, "recurrent_password", "", Outcome::ReusedPassword),
            (400, "invalid_new_password", "", Outcome::PolicyRejected),
            (400, "user_not_found", "", Outcome::NotFound),
            (
                400,
                "abnormal_user_status",
                "User is frozen.",
                Outcome::Frozen,
            ),
            (
                400,
                "abnormal_user_status",
                "User is locked.",
                Outcome::Locked,
            ),
            (
                400,
                "invalid_request",
                "Bearer token not found in the request",
                Outcome::AuthFailed,
            ),
            (
                401,
                "invalid_token",
                "Error decoding JWT",
                Outcome::AuthFailed,
            ),
            (403, "insufficient_scope", "", Outcome::Denied),
            (429, "slow_down", "", Outcome::RateLimited),
        ] {
            assert_eq!(map_change(status, error, desc), outcome, "{error}");
        }
    }

    #[test]
    fn bearer_errors_come_from_www_authenticate() {
        let r = Response::from_parts(
            401,
            &[(
                "WWW-Authenticate",
                r#"Bearer error="invalid_token", error_description="Error decoding JWT""#,
            )],
            "",
        );
        let rep = change_report(&r);
        assert_eq!(rep.outcome, Outcome::AuthFailed);
        assert_eq!(rep.provider_code.as_deref(), Some("invalid_token"));
        let r = Response::from_parts(
            403,
            &[("www-authenticate", r#"Bearer error="insufficient_scope""#)],
            "",
        );
        assert_eq!(change_report(&r).outcome, Outcome::Denied);
        assert_eq!(
            change_report(&Response::from_parts(200, &[], "")).outcome,
            Outcome::Changed
        );
        for (status, body) in [(502, "<html>"), (504, ""), (503, "upstream connect error")] {
            let rep = change_report(&Response::from_parts(status, &[], body));
            assert_eq!(rep.outcome, Outcome::Unknown, "{status} {body}");
            assert!(
                rep.message.contains("may have been applied"),
                "{}",
                rep.message
            );
        }
        // The provider's own error body in a 5xx keeps its mapping.
        let r = Response::from_parts(500, &[], r#"{"error":"server_error"}"#);
        assert_eq!(change_report(&r).outcome, Outcome::ServerError);
        // Before the change (the token request) a gateway's 502 changed nothing.
        let r = Response::from_parts(502, &[], "<html>");
        assert_eq!(
            token_answer(&r).expect_err("refused").outcome,
            Outcome::ServerError
        );
    }

    #[test]
    fn a_change_answer_in_2xx_other_than_200_is_unknown() {
        for (status, body) in [
            (201, ""),
            (202, "{}"),
            (204, ""),
            (202, r#"{"error":"invalid_new_password"}"#),
        ] {
            let r = Response::from_parts(status, &[], body);
            assert_eq!(
                change_report(&r).outcome,
                Outcome::Unknown,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn token_answers_are_never_changed_or_unknown() {
        let ok = Response::from_parts(200, &[], r#"{"access_token":"t","token_type":"Bearer"}"#);
        assert_eq!(
            token_answer(&ok).ok().as_deref().map(|t| t.as_str()),
            Some("t")
        );
        for (status, body, outcome) in [
            (200, r#"{"token_type":"Bearer"}"#, Outcome::ServerError),
            (201, r#"{"access_token":"t"}"#, Outcome::ServerError),
            (204, "", Outcome::ServerError),
            (200, r#"{"error":"something_new"}"#, Outcome::ServerError),
            (202, r#"{"error":"something_new"}"#, Outcome::ServerError),
            (200, "<html>", Outcome::ServerError),
            (
                400,
                r#"{"error":"invalid_grant","error_description":"Wrong username or password"}"#,
                Outcome::WrongOldPassword,
            ),
            (503, "", Outcome::ServerError),
        ] {
            let rep = token_answer(&Response::from_parts(status, &[], body)).expect_err("refused");
            assert_eq!(rep.outcome, outcome, "{status} {body}");
        }
        assert_eq!(map_token(200, "x", ""), Outcome::ServerError);
    }
}
