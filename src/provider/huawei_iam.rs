//! Huawei Cloud / OTC IAM user's own password: a domain-scoped token from the user name and the
//! current password, the account password policy when readable, then
//! `POST /v3/users/{user_id}/password` → 204.

use serde::{Deserialize, Serialize};

use super::http::{Response, Session};
use super::huawei_token::{
    self, REQUEST_ID, Scope, Token, TokenAnswer, code_of, error_of, refusal_of_2xx,
};
use super::job::{Change, json_body, json_log, no_answer, report_from, request_id};
use super::outcome::{Outcome, Report};
use super::redact::MASK;
use crate::config::HuaweiIam;
use crate::policy::{self, AccountPolicy, Candidate, Policy};

#[derive(Serialize)]
struct Passwords<'a> {
    password: &'a str,
    original_password: &'a str,
}
#[derive(Serialize)]
struct Body<'a> {
    user: Passwords<'a>,
}

/// The change request, as messages name it.
const CHANGE: &str = "IAM password change";

/// The token for `password`: `Ok(token)`, or the report that ends the attempt.
pub async fn token_for(s: &Session, cfg: &HuaweiIam, password: &str) -> Result<Token, Report> {
    match huawei_token::request(
        s,
        &cfg.iam_endpoint,
        &cfg.domain,
        &cfg.user,
        password,
        Scope::Domain(&cfg.domain),
    )
    .await
    {
        Ok(TokenAnswer::Issued(t)) => Ok(t),
        Ok(TokenAnswer::Refused(r)) => Err(token_refused(&r)),
        Err(f) => Err(no_answer(f, "IAM token request", false)),
    }
}

/// The token request with the current password was refused (SPEC §3: 401 means the current
/// password is wrong; `IAM.0061` means the account is locked). A 2xx that issued no token is a
/// `server_error`: nothing was changed.
pub fn token_refused(r: &Response) -> Report {
    if let Some(why) = refusal_of_2xx(r) {
        let mut rep = report_from(
            r,
            Outcome::ServerError,
            code_of(r),
            format!("{why}; the password change was not sent"),
        );
        rep.request_id = request_id(r, REQUEST_ID);
        return rep;
    }
    let err = r.json().and_then(error_of);
    let code = err.as_ref().map(|(c, _)| c.clone());
    let message = err
        .map(|(_, m)| m)
        .unwrap_or_else(|| format!("HTTP {}", r.status));
    let outcome = match (r.status, code.as_deref()) {
        (_, Some("IAM.0061")) => Outcome::Locked,
        (401, _) => Outcome::WrongOldPassword,
        (s, Some(c)) => map_token(s, c),
        (s, None) => Outcome::from_http_status_before_change(s),
    };
    let mut rep = report_from(r, outcome, code, message);
    rep.request_id = request_id(r, REQUEST_ID);
    rep
}

/// IAM error code of the token request → outcome: as [`map_change`], but unlisted codes fall
/// back as before a change (nothing was changed).
fn map_token(status: u16, code: &str) -> Outcome {
    match map_change(status, code) {
        Outcome::Unknown => Outcome::from_http_status_before_change(status),
        outcome => outcome,
    }
}

/// IAM error code of the change request → outcome (SPEC §3).
pub fn map_change(status: u16, code: &str) -> Outcome {
    match code {
        "1103" | "IAM.0062" => Outcome::WrongOldPassword,
        "1108" => Outcome::ReusedPassword,
        "1118" => Outcome::PolicyRejected,
        "IAM.0061" => Outcome::Locked,
        "IAM.0001" | "IAM.0066" | "IAM.0067" => Outcome::AuthFailed,
        "IAM.0002" | "IAM.0003" => Outcome::Denied,
        _ => Outcome::from_http_status(status),
    }
}

/// The report for the change answer.
pub fn change_report(r: &Response) -> Report {
    let mut rep = if r.status == 204 {
        report_from(r, Outcome::Changed, None, String::new())
    } else if (200..300).contains(&r.status) {
        // Success is documented as 204; another 2xx is not a definite answer.
        report_from(
            r,
            Outcome::Unknown,
            None,
            format!(
                "unexpected HTTP {} instead of 204; the change may have been applied",
                r.status
            ),
        )
    } else {
        match r.json().and_then(error_of) {
            Some((code, msg)) => Report::gateway_answer(r.status, &code, CHANGE)
                .unwrap_or_else(|| report_from(r, map_change(r.status, &code), Some(code), msg)),
            // Not an IAM error body: a gateway's page, or an empty or foreign body.
            None => Report::foreign_answer(r.status, CHANGE, true),
        }
    };
    rep.request_id = request_id(r, REQUEST_ID);
    rep
}

/// Reads the account password policy; `None` when not allowed (403 for most users) or absent.
async fn account_policy(s: &Session, cfg: &HuaweiIam, token: &Token) -> Option<AccountPolicy> {
    let domain_id = token.domain_id.as_deref()?;
    let url = huawei_token::iam_url(
        &cfg.iam_endpoint,
        &[
            "v3.0",
            "OS-SECURITYPOLICY",
            "domains",
            domain_id,
            "password-policy",
        ],
    )
    .ok()?;
    let request = super::http::Request::new(reqwest::Method::GET, url)
        .header("X-Auth-Token", token.value.as_str());
    let r = s.send(request, code_of).await.ok()?;
    if r.status != 200 {
        return None;
    }
    AccountPolicy::deserialize(r.json()?.get("password_policy")?).ok()
}

/// Changes the user's own password.
pub async fn change(s: &Session, c: &Change<'_>, cfg: &HuaweiIam) -> Report {
    let current = c.current.unwrap_or_default();
    let token = match token_for(s, cfg, current).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(user_id) = token.user_id.clone() else {
        return Report::new(
            Outcome::ServerError,
            "the token answer did not name the user (token.user.id); the password change was not sent",
        );
    };
    let fetched = account_policy(s, cfg, &token).await;
    let with_policy = |mut rep: Report| {
        rep.password_expires_at = token.password_expires_at.clone();
        rep.account_policy = fetched.clone();
        rep
    };
    if let Some(account) = &fetched
        && !c.force
    {
        let mut policy = Policy::for_profile(c.profile);
        policy.apply_account_policy(account);
        let list = policy::check(
            &policy,
            &Candidate {
                new: c.new,
                confirm: c.new,
                current: c.current,
            },
        );
        if let Some(failed) = list.failures().next() {
            return with_policy(Report::new(
                Outcome::PolicyRejected,
                format!(
                    "the account's password policy refuses it: {}; nothing was sent",
                    failed.label
                ),
            ));
        }
    }
    let url = match huawei_token::iam_url(&cfg.iam_endpoint, &["v3", "users", &user_id, "password"])
    {
        Ok(u) => u,
        Err(_) => {
            return with_policy(Report::new(
                Outcome::ServerError,
                "the token answer named a user id that cannot be part of a request path \
                 (empty, `.` or `..`); the password change was not sent",
            ));
        }
    };
    let body = json_body(&Body {
        user: Passwords {
            password: c.new,
            original_password: current,
        },
    });
    let log = json_log(&Body {
        user: Passwords {
            password: MASK,
            original_password: MASK,
        },
    });
    let request = super::http::Request::new(reqwest::Method::POST, url)
        .header("Content-Type", "application/json;charset=utf8")
        .header("X-Auth-Token", token.value.as_str())
        .body(body, log)
        .change();
    let rep = match s.send(request, code_of).await {
        Ok(r) => change_report(&r),
        Err(f) => no_answer(f, CHANGE, true),
    };
    // The token is dropped (zeroized) here; after a change it is invalid anyway.
    with_policy(rep)
}

/// Checks whether `password` is now the user's password, without spending a change: asks for
/// a token with it (used after an `unknown` outcome).
pub async fn verify(s: &Session, cfg: &HuaweiIam, password: &str) -> Report {
    match token_for(s, cfg, password).await {
        Ok(_) => Report::new(
            Outcome::Changed,
            "a token was issued for the new password: the change was applied",
        ),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_codes_map_as_the_spec_lists() {
        let table = [
            (400, "1103", Outcome::WrongOldPassword),
            (401, "IAM.0062", Outcome::WrongOldPassword),
            (400, "1108", Outcome::ReusedPassword),
            (400, "1118", Outcome::PolicyRejected),
            (401, "IAM.0061", Outcome::Locked),
            (401, "IAM.0001", Outcome::AuthFailed),
            (401, "IAM.0066", Outcome::AuthFailed),
            (401, "IAM.0067", Outcome::AuthFailed),
            (403, "IAM.0002", Outcome::Denied),
            (403, "IAM.0003", Outcome::Denied),
            (400, "IAM.0007", Outcome::BadRequest),
            (404, "IAM.0004", Outcome::NotFound),
            (500, "IAM.0006", Outcome::ServerError),
        ];
        for (status, code, outcome) in table {
            assert_eq!(map_change(status, code), outcome, "{code}");
        }
    }

    #[test]
    fn token_refusals() {
        let r = Response::from_parts(
            401,
            &[],
            r#"{"error_msg":"Incorrect password","error_code":"IAM.0062"}"#,
        );
        assert_eq!(token_refused(&r).outcome, Outcome::WrongOldPassword);
        let r = Response::from_parts(
            401,
            &[],
            r#"{"error_msg":"locked","error_code":"IAM.0061"}"#,
        );
        assert_eq!(token_refused(&r).outcome, Outcome::Locked);
        let r = Response::from_parts(
            401,
            &[],
            r#"{"error":{"code":401,"message":"The request you have made requires authentication."}}"#,
        );
        assert_eq!(token_refused(&r).outcome, Outcome::WrongOldPassword);
        let r = Response::from_parts(503, &[], "busy");
        assert_eq!(token_refused(&r).outcome, Outcome::ServerError);
    }

    #[test]
    fn a_token_answer_in_2xx_without_a_token_is_a_server_error() {
        for (status, body) in [
            (201, r#"{"token":{"user":{"id":"u"}}}"#),
            (201, ""),
            (200, r#"{"token":{"user":{"id":"u"}}}"#),
            (200, r#"{"error_code":"IAM.0099","error_msg":"x"}"#),
            (200, r#"{"error_code":"IAM.0061","error_msg":"x"}"#),
            (202, "<html>"),
            (204, ""),
        ] {
            let rep = token_refused(&Response::from_parts(status, &[], body));
            assert_eq!(rep.outcome, Outcome::ServerError, "{status} {body}");
            assert!(rep.message.contains("not sent"), "{}", rep.message);
        }
        // Unlisted codes in other statuses fall back by status, never `unknown`.
        let r = Response::from_parts(409, &[], r#"{"error_code":"IAM.0099","error_msg":"x"}"#);
        assert_eq!(token_refused(&r).outcome, Outcome::BadRequest);
    }

    #[test]
    fn a_change_answer_in_2xx_other_than_204_is_unknown() {
        for status in [200, 201, 202, 206] {
            let r = Response::from_parts(status, &[], "");
            assert_eq!(change_report(&r).outcome, Outcome::Unknown, "{status}");
        }
    }

    #[test]
    fn change_answers() {
        assert_eq!(
            change_report(&Response::from_parts(204, &[], "")).outcome,
            Outcome::Changed
        );
        let r = Response::from_parts(
            400,
            &[],
            r#"{"error":{"code":"1108","message":"The new password must be different"}}"#,
        );
        assert_eq!(change_report(&r).outcome, Outcome::ReusedPassword);
        let r = Response::from_parts(500, &[], r#"{"error_code":"IAM.0006","error_msg":"x"}"#);
        assert_eq!(change_report(&r).outcome, Outcome::ServerError);
        // The API gateway's own 5xx (backend timeout): the service may have applied it.
        let r = Response::from_parts(
            504,
            &[],
            r#"{"error_code":"APIGW.0203","error_msg":"timeout"}"#,
        );
        let rep = change_report(&r);
        assert_eq!(
            (rep.outcome, rep.provider_code.as_deref()),
            (Outcome::Unknown, Some("APIGW.0203"))
        );
        for (status, body) in [
            (500, "<html>"),
            (502, "<html>bad gateway</html>"),
            (504, ""),
        ] {
            let rep = change_report(&Response::from_parts(status, &[], body));
            assert_eq!(rep.outcome, Outcome::Unknown, "{status} {body}");
            assert!(rep.message.contains("not retried"), "{}", rep.message);
        }
        // Before the change (the token request) a gateway's 502 changed nothing.
        let r = Response::from_parts(502, &[], "<html>bad gateway</html>");
        assert_eq!(token_refused(&r).outcome, Outcome::ServerError);
    }
}
