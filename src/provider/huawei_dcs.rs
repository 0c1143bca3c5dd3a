//! Huawei Cloud / OTC DCS (Redis) instance password:
//! `PUT /v2/{project_id}/instances/{instance_id}/password`, signed with AK/SK or sent with a
//! project-scoped IAM token. Wrong passwords and locks come back inside HTTP 200.

use url::Url;

use super::http::{Request, Response, Session, host_of};
use super::huawei_token::{self, REQUEST_ID, Scope, TokenAnswer, error_of, refusal_of_2xx};
use super::job::{
    Change, MAX_LOCK_MINUTES, OldNew, lenient_u32, lock_end, no_answer, report_from, request_id,
    text_of,
};
use super::outcome::{Outcome, Report};
use super::sign::{self, huawei};
use crate::config::{AkskVariant, DcsAuth, HuaweiDcs};

/// The change request, as messages name it.
const CHANGE: &str = "DCS password change";

/// The default endpoint for a region (`None` if the region makes no host name).
pub fn default_endpoint(region: &str) -> Option<Url> {
    Url::parse(&format!("https://dcs.{region}.myhuaweicloud.com")).ok()
}

/// Changes the instance password.
pub async fn change(s: &Session, c: &Change<'_>, cfg: &HuaweiDcs) -> Report {
    let Some(base) = super::endpoint_of(c.profile) else {
        return Report::new(
            Outcome::BadRequest,
            "region makes no valid host name; set endpoint",
        );
    };
    let segments = [
        "v2",
        &cfg.project_id,
        "instances",
        &cfg.instance_id,
        "password",
    ];
    let url = match super::endpoint::join(&base, &segments) {
        Ok(u) => u,
        Err(why) => {
            return Report::new(
                Outcome::BadRequest,
                format!("project_id/instance_id: {why}"),
            );
        }
    };
    let current = c.current.unwrap_or_default();
    let (body, log) = OldNew::encode(current, c.new);
    let content_type = "application/json;charset=UTF-8";
    let mut request =
        Request::new(reqwest::Method::PUT, url.clone()).header("Content-Type", content_type);
    match &cfg.auth {
        DcsAuth::Aksk { variant, .. } => {
            let (ak, sk) = match (c.key("auth.access_key"), c.key("auth.secret_key")) {
                (Ok(ak), Ok(sk)) => (ak, sk),
                (Err(r), _) | (_, Err(r)) => return r,
            };
            let date = sign::sdk_date(c.unix_now());
            let host = host_of(&url);
            // The OTC SDK adds X-Project-Id after signing; Huawei's signs it.
            let signed: Vec<(&str, &str)> = match variant {
                AkskVariant::Huawei => vec![
                    ("Content-Type", content_type),
                    ("X-Project-Id", &cfg.project_id),
                    ("X-Sdk-Date", &date),
                ],
                AkskVariant::Otc => vec![("Content-Type", content_type), ("X-Sdk-Date", &date)],
            };
            let authorization = huawei::authorization(
                ak,
                sk,
                &huawei::AkskInput {
                    method: "PUT",
                    host: &host,
                    path: url.path(),
                    query: &[],
                    headers: &signed,
                    payload: &body,
                },
                *variant,
            );
            request = request
                .header("X-Project-Id", cfg.project_id.clone())
                .header("X-Sdk-Date", date)
                .header("Authorization", authorization);
        }
        DcsAuth::Token {
            iam_endpoint,
            domain,
            user,
            ..
        } => {
            let password = match c.key("auth.password") {
                Ok(p) => p,
                Err(r) => return r,
            };
            let answer = huawei_token::request(
                s,
                iam_endpoint,
                domain,
                user,
                password,
                Scope::Project(&cfg.project_id),
            )
            .await;
            let token = match answer {
                Ok(TokenAnswer::Issued(t)) => t,
                Ok(TokenAnswer::Refused(r)) => return token_refused(&r),
                Err(f) => return no_answer(f, "IAM token request", false),
            };
            request = request.header("X-Auth-Token", token.value.as_str());
        }
    }
    let request = request.body(body, log).change();
    match s.send(request, dcs_code).await {
        Ok(r) => report(&r),
        Err(f) => no_answer(f, CHANGE, true),
    }
}

/// A refused IAM token request (the IAM user's own credentials): `auth_failed`. A 2xx that
/// issued no token is a `server_error`: nothing was changed.
fn token_refused(r: &Response) -> Report {
    let err = r.json().and_then(error_of);
    let (outcome, why) = match refusal_of_2xx(r) {
        Some(why) => (Outcome::ServerError, why),
        None => {
            let outcome = match r.status {
                400 | 401 => Outcome::AuthFailed,
                s => Outcome::from_http_status_before_change(s),
            };
            let why = err
                .as_ref()
                .map_or_else(|| format!("HTTP {}", r.status), |(_, m)| m.clone());
            (outcome, why)
        }
    };
    let code = err
        .map(|(c, _)| c)
        .or_else(|| (!r.is_2xx()).then(|| r.status.to_string()));
    let mut rep = report_from(
        r,
        outcome,
        code,
        format!("the IAM token for DCS was refused ({why}); the password change was not sent"),
    );
    rep.request_id = request_id(r, REQUEST_ID);
    rep
}

/// The code the log shows for a DCS answer: `result` inside a 200, else the error code.
fn dcs_code(r: &Response) -> Option<String> {
    let v = r.json()?;
    text_of(v.get("result")).or_else(|| error_of(v).map(|(c, _)| c))
}

/// DCS error code (HTTP 4xx/5xx body) → outcome (SPEC §3). Never `changed`.
pub fn map_error(status: u16, code: &str) -> Outcome {
    match code {
        "DCS.4019" => Outcome::PolicyRejected,
        "DCS.4080" => Outcome::WrongOldPassword,
        "DCS.4850" | "DCS.4026" | "DCS.4049" | "DCS.4115" | "DCS.4116" | "DCS.4017" => {
            Outcome::BadRequest
        }
        "DCS.1001" | "DCS.1002" | "DCS.1003" | "DCS.1004" | "APIGW.0301" => Outcome::AuthFailed,
        "DCS.3022" => Outcome::NotFound,
        _ if status == 403 => Outcome::Denied,
        _ => Outcome::from_http_status(status),
    }
}

/// `result` inside HTTP 200 → outcome.
pub fn map_result(result: &str) -> Outcome {
    match result {
        "success" => Outcome::Changed,
        "passwordFailed" => Outcome::WrongOldPassword,
        "locked" => Outcome::Locked,
        "failed" => Outcome::Failed,
        _ => Outcome::Unknown,
    }
}

/// The report for a DCS answer. Success is documented as 200 with `result`; any other 2xx
/// is no definite answer (`unknown`).
pub fn report(r: &Response) -> Report {
    let json = r.json();
    let mut rep = match json {
        Some(v) if r.status == 200 => match text_of(v.get("result")) {
            Some(result) => {
                let outcome = map_result(&result);
                let message = text_of(v.get("message")).unwrap_or_default();
                let message = if outcome == Outcome::Unknown {
                    format!(
                        "unexpected result `{result}`; the change may have been applied ({message})"
                    )
                } else {
                    message
                };
                let mut rep = report_from(r, outcome, Some(result), message);
                rep.retries_left = lenient_u32(v.get("retry_times_left"));
                if outcome == Outcome::Locked {
                    rep.lock_minutes_left =
                        lenient_u32(v.get("lock_time_left")).map(|m| m.min(MAX_LOCK_MINUTES));
                    rep.locked_until = rep.lock_minutes_left.map(lock_end);
                }
                if outcome.is_success() {
                    // A success carries the full retry budget, not a warning.
                    rep.retries_left = None;
                }
                rep
            }
            None => report_from(
                r,
                Outcome::Unknown,
                None,
                "the answer had no result; the change may have been applied".into(),
            ),
        },
        _ if r.is_2xx() && r.status != 200 => report_from(
            r,
            Outcome::Unknown,
            json.and_then(error_of).map(|(c, _)| c),
            format!(
                "unexpected HTTP {} instead of 200; the change may have been applied",
                r.status
            ),
        ),
        Some(v) => match error_of(v) {
            Some((code, msg)) => Report::gateway_answer(r.status, &code, CHANGE)
                .unwrap_or_else(|| report_from(r, map_error(r.status, &code), Some(code), msg)),
            // JSON, but not a DCS error body.
            None => Report::foreign_answer(r.status, CHANGE, true),
        },
        None if r.status == 200 => report_from(
            r,
            Outcome::Unknown,
            None,
            "the answer could not be read; the change may have been applied".into(),
        ),
        // Not JSON: a gateway's page, or an empty or foreign body.
        None => Report::foreign_answer(r.status, CHANGE, true),
    };
    rep.request_id = request_id(r, REQUEST_ID);
    rep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_inside_200_map_with_counters() {
        let r = Response::from_parts(
            200,
            &[("X-Request-Id", "req-9")],
            r#"{"lock_time":"0","result":"success","lock_time_left":"0","retry_times_left":"5","message":"Modify DCSInstance password success."}"#,
        );
        let rep = report(&r);
        assert_eq!(rep.outcome, Outcome::Changed);
        assert_eq!(rep.request_id.as_deref(), Some("req-9"));
        let r = Response::from_parts(
            200,
            &[],
            r#"{"lock_time":null,"result":"passwordFailed","lock_time_left":null,"retry_times_left":"4","message":"x"}"#,
        );
        let rep = report(&r);
        assert_eq!(
            (rep.outcome, rep.retries_left),
            (Outcome::WrongOldPassword, Some(4))
        );
        assert_eq!(
            rep.summary(),
            "Wrong current password — 4 attempts left before a 5-minute lock: x"
        );
        let r = Response::from_parts(
            200,
            &[],
            r#"{"lock_time":"5","result":"locked","lock_time_left":"3","retry_times_left":"0","message":"locked"}"#,
        );
        let rep = report(&r);
        assert_eq!(
            (rep.outcome, rep.lock_minutes_left),
            (Outcome::Locked, Some(3))
        );
        assert!(rep.locked_until.is_some());
        let r = Response::from_parts(200, &[], r#"{"result":"failed","message":"no"}"#);
        assert_eq!(report(&r).outcome, Outcome::Failed);
    }

    #[test]
    fn error_codes_map_as_the_spec_lists() {
        let table = [
            (400, "DCS.4019", Outcome::PolicyRejected),
            (400, "DCS.4080", Outcome::WrongOldPassword),
            (400, "DCS.4850", Outcome::BadRequest),
            (400, "DCS.4026", Outcome::BadRequest),
            (400, "DCS.4049", Outcome::BadRequest),
            (400, "DCS.4115", Outcome::BadRequest),
            (400, "DCS.4116", Outcome::BadRequest),
            (400, "DCS.4017", Outcome::BadRequest),
            (401, "DCS.1001", Outcome::AuthFailed),
            (401, "DCS.1002", Outcome::AuthFailed),
            (401, "DCS.1003", Outcome::AuthFailed),
            (401, "DCS.1004", Outcome::AuthFailed),
            (401, "APIGW.0301", Outcome::AuthFailed),
            (403, "DCS.2003", Outcome::Denied),
            (403, "DCS.3003", Outcome::Denied),
            (404, "DCS.3022", Outcome::NotFound),
            (400, "DCS.4999", Outcome::BadRequest),
            (429, "APIGW.0308", Outcome::RateLimited),
            (500, "DCS.5000", Outcome::ServerError),
        ];
        for (status, code, outcome) in table {
            assert_eq!(map_error(status, code), outcome, "{status} {code}");
        }
    }

    #[test]
    fn error_bodies_in_every_shape_and_non_json() {
        let r = Response::from_parts(400, &[], r#"{"error_code":"DCS.4019","error_msg":"weak"}"#);
        assert_eq!(report(&r).outcome, Outcome::PolicyRejected);
        let r = Response::from_parts(401, &[], r#"{"errorCode":"APIGW.0301","errorMsg":"sig"}"#);
        assert_eq!(report(&r).outcome, Outcome::AuthFailed);
        let r = Response::from_parts(404, &[], r#"{"code":"DCS.3022","message":"gone"}"#);
        assert_eq!(report(&r).outcome, Outcome::NotFound);
        let r = Response::from_parts(500, &[], r#"{"error_code":"DCS.5000","error_msg":"x"}"#);
        assert_eq!(
            report(&r).outcome,
            Outcome::ServerError,
            "the provider's own 5xx"
        );
        // The API gateway's own 5xx (backend timeout): the service may have applied it.
        let r = Response::from_parts(
            504,
            &[],
            r#"{"error_code":"APIGW.0203","error_msg":"timeout"}"#,
        );
        let rep = report(&r);
        assert_eq!(
            (rep.outcome, rep.provider_code.as_deref()),
            (Outcome::Unknown, Some("APIGW.0203"))
        );
        // Not the provider's body in a 5xx: a gateway's word, the change may have been applied.
        for (status, body) in [
            (503, "<html>busy</html>"),
            (502, "<html>bad gateway</html>"),
            (504, ""),
            (500, r#"{"message":"upstream timed out"}"#),
        ] {
            let rep = report(&Response::from_parts(
                status,
                &[("X-Request-Id", "g")],
                body,
            ));
            assert_eq!(rep.outcome, Outcome::Unknown, "{status} {body}");
            assert_eq!(rep.http_status, Some(status));
            assert_eq!(rep.request_id.as_deref(), Some("g"));
            assert!(
                rep.message.contains("may have been applied"),
                "{}",
                rep.message
            );
        }
        let r = Response::from_parts(404, &[], "<html>no</html>");
        assert_eq!(report(&r).outcome, Outcome::NotFound);
        let r = Response::from_parts(200, &[], "{\"result\":");
        assert_eq!(report(&r).outcome, Outcome::Unknown);
    }

    #[test]
    fn a_2xx_other_than_200_is_unknown() {
        for (status, body) in [
            (202, r#"{"result":"success"}"#),
            (202, r#"{"error_code":"DCS.5000","error_msg":"x"}"#),
            (202, r#"{"error_code":"DCS.4019","error_msg":"weak"}"#),
            (204, ""),
            (201, "<html>"),
        ] {
            let r = Response::from_parts(status, &[], body);
            assert_eq!(report(&r).outcome, Outcome::Unknown, "{status} {body}");
        }
        // A 200 with an error body but no result: no definite answer either.
        let r = Response::from_parts(200, &[], r#"{"error_code":"DCS.5000"}"#);
        assert_eq!(report(&r).outcome, Outcome::Unknown);
    }

    #[test]
    fn a_huge_lock_time_is_clamped_to_a_day() {
        let now = std::time::SystemTime::now();
        for left in ["4294967295", "100000", "1441"] {
            let body = format!(
                r#"{{"result":"locked","lock_time_left":"{left}","retry_times_left":"0"}}"#
            );
            let rep = report(&Response::from_parts(200, &[], &body));
            assert_eq!(rep.outcome, Outcome::Locked);
            assert_eq!(rep.lock_minutes_left, Some(MAX_LOCK_MINUTES), "{left}");
            let until = rep.locked_until.expect("locked_until");
            let most = now + std::time::Duration::from_secs(u64::from(MAX_LOCK_MINUTES) * 60 + 60);
            assert!(until <= most, "{left}");
            let _ = crate::timefmt::rfc3339_utc(until);
            let _ = crate::timefmt::local_minute(until);
        }
        // Not a u32 at all: no lock time rather than a wrong one.
        let body = r#"{"result":"locked","lock_time_left":"99999999999999"}"#;
        let rep = report(&Response::from_parts(200, &[], body));
        assert_eq!((rep.lock_minutes_left, rep.locked_until), (None, None));
    }

    #[test]
    fn token_refusals_are_never_changed() {
        for (status, headers, body, outcome) in [
            // 201 without X-Subject-Token.
            (201, &[][..], r#"{"token":{}}"#, Outcome::ServerError),
            (
                200,
                &[][..],
                r#"{"error_code":"IAM.0006","error_msg":"x"}"#,
                Outcome::ServerError,
            ),
            (202, &[][..], "", Outcome::ServerError),
            (
                401,
                &[][..],
                r#"{"error_code":"IAM.0001","error_msg":"x"}"#,
                Outcome::AuthFailed,
            ),
            (400, &[][..], "", Outcome::AuthFailed),
            (403, &[][..], "", Outcome::Denied),
            (
                503,
                &[("X-Request-Id", "r")][..],
                "busy",
                Outcome::ServerError,
            ),
        ] {
            let r = Response::from_parts(status, headers, body);
            let rep = token_refused(&r);
            assert_eq!(rep.outcome, outcome, "{status} {body}");
            assert!(rep.message.contains("was not sent"), "{}", rep.message);
        }
    }
}
