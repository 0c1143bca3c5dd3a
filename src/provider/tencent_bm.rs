//! Tencent Cloud Bare Metal out-of-band VPN password: API 3.0 `SetOutBandVpnAuthPassword`
//! (TC3-HMAC-SHA256, the default) and legacy API 2.0 `GetOutBandVPNAuthInfo` +
//! `SetOutBandVPNAuthPwd` (HmacSHA256/HmacSHA1 form signature).

use serde::Serialize;
use url::Url;

use super::http::{Request, Response, Session, host_of};
use super::job::{Change, json_body, json_log, no_answer, report_from, text_of};
use super::outcome::{FollowUp, Outcome, Report};
use super::redact::MASK;
use super::sign::{tc3, tencent_v2};
use crate::config::{Operate, SignatureMethod, TencentApi, TencentBmVpn};

/// API 3.0 endpoint.
pub const V3_ENDPOINT: &str = "https://bm.tencentcloudapi.com";
/// API 2.0 endpoint.
pub const V2_ENDPOINT: &str = "https://bm.api.qcloud.com/v2/index.php";
/// API 3.0 version of `bm`.
pub const V3_VERSION: &str = "2018-04-23";
/// API 3.0 action.
pub const V3_ACTION: &str = "SetOutBandVpnAuthPassword";
/// API 2.0 action that reads the VPN account (nothing is changed).
const V2_QUERY_ACTION: &str = "GetOutBandVPNAuthInfo";
/// API 2.0 action that sets the VPN password (the change).
const V2_CHANGE_ACTION: &str = "SetOutBandVPNAuthPwd";

/// Changes the VPN password.
pub async fn change(s: &Session, c: &Change<'_>, cfg: &TencentBmVpn) -> Report {
    match cfg.api {
        TencentApi::V3 => change_v3(s, c, cfg).await,
        TencentApi::V2 => change_v2(s, c, cfg).await,
    }
}

/// The profile's endpoint, or the default of its API generation.
fn endpoint(c: &Change<'_>) -> Result<Url, Report> {
    super::endpoint_of(c.profile)
        .ok_or_else(|| Report::new(Outcome::BadRequest, "the profile has no usable endpoint"))
}

#[derive(Serialize)]
struct V3Body<'a> {
    #[serde(rename = "Password")]
    password: &'a str,
    #[serde(rename = "Operate")]
    operate: &'a str,
}

async fn change_v3(s: &Session, c: &Change<'_>, cfg: &TencentBmVpn) -> Report {
    let url = match endpoint(c) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let (secret_id, secret_key) = match (c.key("secret_id"), c.key("secret_key")) {
        (Ok(id), Ok(key)) => (id, key),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    // v3 cannot ask whether the account exists: `auto` sends Update and offers Create when
    // the answer says the account does not exist (SPEC §1).
    let create = matches!(c.operate.unwrap_or(cfg.operate), Operate::Create);
    let operate = if create { "Create" } else { "Update" };
    let body = json_body(&V3Body {
        password: c.new,
        operate,
    });
    let log_body = json_log(&V3Body {
        password: MASK,
        operate,
    });
    let host = host_of(&url);
    let timestamp = c.unix_now();
    let content_type = "application/json";
    let authorization = tc3::authorization(&tc3::Tc3Input {
        secret_id,
        secret_key,
        service: "bm",
        host: &host,
        method: "POST",
        query: "",
        content_type,
        payload: &body,
        timestamp,
    });
    let mut request = Request::new(reqwest::Method::POST, url)
        .header("Content-Type", content_type)
        .header("X-TC-Action", V3_ACTION)
        .header("X-TC-Timestamp", timestamp.to_string())
        .header("X-TC-Version", V3_VERSION)
        .header("X-TC-Region", cfg.region.clone());
    if let Some(token) = c.keys.get("session_token") {
        request = request.header("X-TC-Token", token);
    }
    let request = request
        .header("Authorization", authorization)
        .body(body, log_body)
        .change();
    let response = match s.send(request, v3_code).await {
        Ok(r) => r,
        Err(f) => return no_answer(f, V3_ACTION, true),
    };
    v3_report(&response, create)
}

/// What an API 3.0 answer says.
enum V3Answer {
    /// `Response` is an object with a `RequestId` and no `Error`: the documented success.
    Success,
    /// `Response.Error` is there: its `Code` (if any) and `Message`.
    Error(Option<String>, String),
    /// Anything else (not JSON, no `Response`, an odd shape).
    Unreadable,
}

fn v3_answer(r: &Response) -> V3Answer {
    let Some(response) = r.json().and_then(|v| v.get("Response")) else {
        return V3Answer::Unreadable;
    };
    match response.get("Error") {
        Some(err) => V3Answer::Error(
            text_of(err.get("Code")),
            text_of(err.get("Message")).unwrap_or_default(),
        ),
        None if response.get("RequestId").is_some_and(|id| id.is_string()) => V3Answer::Success,
        None => V3Answer::Unreadable,
    }
}

/// `Response.Error.Code` of an API 3.0 answer (for the log).
fn v3_code(r: &Response) -> Option<String> {
    match v3_answer(r) {
        V3Answer::Error(code, _) => code,
        _ => None,
    }
}

/// The report for an API 3.0 answer. `changed` (`created`) only for the documented success in
/// a 2xx; an error without a `Code` is `bad_request` in a 2xx, else falls back by status.
pub fn v3_report(r: &Response, create: bool) -> Report {
    let request_id = r
        .json()
        .and_then(|v| text_of(v.get("Response")?.get("RequestId")));
    let mut report = match v3_answer(r) {
        V3Answer::Error(Some(code), message) => {
            let outcome = map_v3(r.status, &code);
            let mut message = message;
            if code == "AuthFailure.SignatureExpire" {
                message = format!(
                    "clock skew: the request time is too far from the server's ({message})"
                );
            }
            let mut rep = report_from(r, outcome, Some(code.clone()), message);
            if !create && account_missing(&code, &rep.message) {
                rep.follow_up = Some(FollowUp::OfferCreate);
                rep.message.push_str(
                    " — the VPN account does not exist yet: send with Create (operate = \"create\")",
                );
            }
            rep
        }
        V3Answer::Error(None, message) => {
            let outcome = if r.is_2xx() {
                // The provider refused, without saying how.
                Outcome::BadRequest
            } else {
                Outcome::from_http_status(r.status)
            };
            let message = if message.is_empty() {
                format!("HTTP {}, an error without a code", r.status)
            } else {
                message
            };
            report_from(r, outcome, None, message)
        }
        V3Answer::Success if r.is_2xx() => {
            let outcome = if create {
                Outcome::Created
            } else {
                Outcome::Changed
            };
            report_from(r, outcome, None, String::new())
        }
        _ if r.is_2xx() => report_from(
            r,
            Outcome::Unknown,
            None,
            "the answer could not be read; the change may have been applied".into(),
        ),
        // Not an API 3.0 error body (a gateway's page, an empty or foreign body).
        _ => Report::foreign_answer(r.status, V3_ACTION, true),
    };
    report.request_id = request_id;
    report
}

/// API 3.0 error code → outcome (SPEC §3).
pub fn map_v3(status: u16, code: &str) -> Outcome {
    let starts = |p: &str| code.starts_with(p);
    if code == "AuthFailure.UnauthorizedOperation" || starts("UnauthorizedOperation") {
        Outcome::Denied
    } else if starts("AuthFailure") {
        Outcome::AuthFailed
    } else if starts("RequestLimitExceeded") || starts("LimitExceeded") {
        Outcome::RateLimited
    } else if starts("ResourceNotFound") {
        Outcome::NotFound
    } else if starts("InvalidParameter")
        || starts("MissingParameter")
        || starts("UnsupportedOperation")
    {
        Outcome::BadRequest
    } else if starts("InternalError") || starts("ResourceUnavailable") || starts("FailedOperation")
    {
        Outcome::ServerError
    } else if (200..300).contains(&status) {
        // An error code we do not know, in a 200: the provider refused.
        Outcome::BadRequest
    } else {
        Outcome::from_http_status(status)
    }
}

/// Whether an Update failed because the VPN account was never created.
fn account_missing(code: &str, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    code.starts_with("ResourceNotFound")
        || m.contains("does not exist")
        || m.contains("not exist")
        || message.contains("不存在")
}

/// API 2.0 `code` → outcome (SPEC §3).
pub fn map_v2(code: i64) -> Outcome {
    match code {
        0 => Outcome::Changed,
        4100 | 4104 | 4105 | 4106 | 4110 | 4200 | 4500 => Outcome::AuthFailed,
        4101 | 4102 | 4103 | 4300 | 10004 => Outcome::Denied,
        4000 => Outcome::BadRequest,
        4400 => Outcome::RateLimited,
        5000 | 10105 => Outcome::NotFound,
        5100 | 6000 | 6100 | 6200 | 9001 | 10100 | 10101 => Outcome::ServerError,
        _ => Outcome::Failed,
    }
}

/// `code` of an API 2.0 answer: an int or a string holding one.
fn v2_code(v: &serde_json::Value) -> Option<i64> {
    match v.get("code")? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `be_first` as a JSON bool or the strings "true"/"false".
pub fn be_first(v: &serde_json::Value) -> Option<bool> {
    let b = v.get("data")?.get("authInfo")?.get("be_first")?;
    match b {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The code the log shows for an API 2.0 answer.
fn v2_log_code(r: &Response) -> Option<String> {
    r.json().and_then(v2_code).map(|c| c.to_string())
}

/// The report for an API 2.0 answer that is not a success (`code` 0 in a 2xx): by `code`, else
/// by status. `is_change` says whether the request was the change (`SetOutBandVPNAuthPwd`): a
/// 2xx without a readable `code` is then `unknown`; before the change it is `server_error`
/// ("nothing was changed"). Never `changed`.
fn v2_not_success(r: &Response, is_change: bool) -> Report {
    let json = r.json();
    let message = json
        .and_then(|v| text_of(v.get("message")))
        .unwrap_or_default();
    let what = if is_change {
        V2_CHANGE_ACTION
    } else {
        V2_QUERY_ACTION
    };
    match json.and_then(v2_code) {
        // Code 0 is the success code, not an error body: a status that says otherwise is no
        // definite answer for the change.
        Some(0) => {
            let mut rep = Report::foreign_answer(r.status, what, is_change);
            rep.provider_code = Some("0".into());
            rep.message = format!("{} (code 0: {message})", rep.message);
            rep
        }
        Some(code) => {
            let mut message = message;
            if code == 4200 || code == 4500 {
                message = format!("request expired / clock skew ({message})");
            }
            report_from(r, map_v2(code), Some(code.to_string()), message)
        }
        None if r.is_2xx() && is_change => report_from(
            r,
            Outcome::Unknown,
            None,
            "the answer could not be read; the change may have been applied".into(),
        ),
        None if r.is_2xx() => report_from(
            r,
            Outcome::ServerError,
            None,
            "the answer could not be read; nothing was changed".into(),
        ),
        // No `code`: not an API 2.0 body (a gateway's page, an empty or foreign body).
        None => {
            let mut rep = Report::foreign_answer(r.status, what, is_change);
            if !message.is_empty() {
                rep.message = format!("{} ({message})", rep.message);
            }
            rep
        }
    }
}

/// Whether an API 2.0 answer is the documented success: `code` 0 in a 2xx.
fn v2_success(r: &Response) -> bool {
    r.is_2xx() && r.json().and_then(v2_code) == Some(0)
}

/// The report for the API 2.0 change (`SetOutBandVPNAuthPwd`; errors usually arrive with
/// HTTP 200). `changed` (`created`) only for `code` 0 in a 2xx.
pub fn v2_report(r: &Response, create: bool) -> Report {
    if !v2_success(r) {
        return v2_not_success(r, true);
    }
    let outcome = if create {
        Outcome::Created
    } else {
        Outcome::Changed
    };
    report_from(r, outcome, Some("0".into()), String::new())
}

/// The API 2.0 `GetOutBandVPNAuthInfo` answer: whether the account is yet to be created
/// (`be_first`), or the report that ends the attempt. Nothing was changed, so a failure is
/// never `changed` or `unknown`.
pub fn v2_info(r: &Response) -> Result<bool, Report> {
    if !v2_success(r) {
        let mut rep = v2_not_success(r, false);
        if rep.outcome == Outcome::Unknown {
            rep.outcome = Outcome::ServerError;
        }
        return Err(rep);
    }
    r.json().and_then(be_first).ok_or_else(|| {
        report_from(
            r,
            Outcome::ServerError,
            Some("0".into()),
            "GetOutBandVPNAuthInfo did not say whether the account exists (be_first); nothing was changed".into(),
        )
    })
}

fn v2_url(c: &Change<'_>) -> Result<Url, Report> {
    let url = endpoint(c)?;
    if url.path() == "/" || url.path().is_empty() {
        return super::endpoint::join(&url, &["v2", "index.php"])
            .map_err(|e| Report::new(Outcome::BadRequest, format!("endpoint: {e}")));
    }
    Ok(url)
}

/// Signs `params` (common + action parameters) and returns the form body and its log form.
fn v2_signed(
    c: &Change<'_>,
    cfg: &TencentBmVpn,
    url: &Url,
    action: &str,
    action_params: &[(&str, &str)],
) -> Result<(zeroize::Zeroizing<Vec<u8>>, String), Report> {
    let secret_id = c.key("secret_id")?;
    let secret_key = c.key("secret_key")?;
    let algorithm = match cfg.signature_method {
        SignatureMethod::HmacSha256 => tencent_v2::V2Algorithm::HmacSha256,
        SignatureMethod::HmacSha1 => tencent_v2::V2Algorithm::HmacSha1,
    };
    let timestamp = c.unix_now().to_string();
    let nonce = nonce().to_string();
    let mut params: Vec<(&str, &str)> = vec![
        ("Action", action),
        ("Nonce", &nonce),
        ("Region", &cfg.region),
        ("SecretId", secret_id),
        ("SignatureMethod", algorithm.as_str()),
        ("Timestamp", &timestamp),
    ];
    if let Some(token) = c.keys.get("session_token") {
        params.push(("Token", token));
    }
    params.extend_from_slice(action_params);
    let host = host_of(url);
    let to_sign = tencent_v2::string_to_sign("POST", &host, url.path(), &params);
    let signature = tencent_v2::sign(secret_key, algorithm, &to_sign);
    params.push(("Signature", &signature));
    let log = super::redact::form(params.iter().copied());
    Ok((tencent_v2::form_encode(&params), log))
}

/// A random positive nonce from the OS CSPRNG.
fn nonce() -> u32 {
    getrandom::u32().unwrap_or(1).max(1) & 0x7fff_ffff
}

async fn change_v2(s: &Session, c: &Change<'_>, cfg: &TencentBmVpn) -> Report {
    let url = match v2_url(c) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let form = "application/x-www-form-urlencoded";
    let create = match c.operate.unwrap_or(cfg.operate) {
        Operate::Create => true,
        Operate::Update => false,
        Operate::Auto => {
            let zone = cfg.zone_id.map(|z| z.to_string());
            let app = cfg.app_id.map(|a| a.to_string());
            let mut p: Vec<(&str, &str)> = Vec::new();
            if let Some(z) = &zone {
                p.push(("zoneId", z));
            }
            if let Some(a) = &app {
                p.push(("appId", a));
            }
            let (body, log) = match v2_signed(c, cfg, &url, V2_QUERY_ACTION, &p) {
                Ok(b) => b,
                Err(r) => return r,
            };
            let req = Request::new(reqwest::Method::POST, url.clone())
                .header("Content-Type", form)
                .body(body, log);
            let r = match s.send(req, v2_log_code).await {
                Ok(r) => r,
                Err(f) => return no_answer(f, V2_QUERY_ACTION, false),
            };
            match v2_info(&r) {
                Ok(first) => first,
                Err(report) => return report,
            }
        }
    };
    let app = cfg.app_id.map(|a| a.to_string());
    let mut p: Vec<(&str, &str)> = vec![
        ("password", c.new),
        ("createOrUpdate", if create { "create" } else { "update" }),
    ];
    if let Some(a) = &app {
        p.push(("appId", a));
    }
    let (body, log) = match v2_signed(c, cfg, &url, V2_CHANGE_ACTION, &p) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let req = Request::new(reqwest::Method::POST, url)
        .header("Content-Type", form)
        .body(body, log)
        .change();
    match s.send(req, v2_log_code).await {
        Ok(r) => v2_report(&r, create),
        Err(f) => no_answer(f, V2_CHANGE_ACTION, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_codes_map_as_the_spec_lists() {
        let table = [
            ("AuthFailure.UnauthorizedOperation", Outcome::Denied),
            ("UnauthorizedOperation", Outcome::Denied),
            ("UnauthorizedOperation.NoPermission", Outcome::Denied),
            ("AuthFailure.SignatureFailure", Outcome::AuthFailed),
            ("AuthFailure.SignatureExpire", Outcome::AuthFailed),
            ("AuthFailure.SecretIdNotFound", Outcome::AuthFailed),
            ("AuthFailure.InvalidSecretId", Outcome::AuthFailed),
            ("AuthFailure.TokenFailure", Outcome::AuthFailed),
            ("AuthFailure.MFAFailure", Outcome::AuthFailed),
            ("AuthFailure.InvalidAuthorization", Outcome::AuthFailed),
            ("RequestLimitExceeded", Outcome::RateLimited),
            (
                "RequestLimitExceeded.UinLimitExceeded",
                Outcome::RateLimited,
            ),
            ("LimitExceeded", Outcome::RateLimited),
            ("LimitExceeded.UserCmdCount", Outcome::RateLimited),
            ("ResourceNotFound", Outcome::NotFound),
            ("ResourceNotFound.VpnAccountNotExist", Outcome::NotFound),
            ("InvalidParameter", Outcome::BadRequest),
            (
                "InvalidParameterValue.InvalidParameter",
                Outcome::BadRequest,
            ),
            ("MissingParameter", Outcome::BadRequest),
            ("UnsupportedOperation.InvalidOperation", Outcome::BadRequest),
            ("InternalError", Outcome::ServerError),
            ("ResourceUnavailable", Outcome::ServerError),
            ("FailedOperation", Outcome::ServerError),
            ("FailedOperation.TscAgentOffline", Outcome::ServerError),
        ];
        for (code, outcome) in table {
            assert_eq!(map_v3(200, code), outcome, "{code}");
        }
        // Unlisted codes fall back by HTTP status.
        for (status, outcome) in [
            (400, Outcome::BadRequest),
            (401, Outcome::AuthFailed),
            (403, Outcome::Denied),
            (404, Outcome::NotFound),
            (429, Outcome::RateLimited),
            (502, Outcome::ServerError),
        ] {
            assert_eq!(map_v3(status, "SomethingNew"), outcome, "{status}");
        }
    }

    #[test]
    fn v2_codes_map_as_the_spec_lists() {
        let table: [(&[i64], Outcome); 7] = [
            (&[0], Outcome::Changed),
            (
                &[4100, 4104, 4105, 4106, 4110, 4200, 4500],
                Outcome::AuthFailed,
            ),
            (&[4101, 4102, 4103, 4300, 10004], Outcome::Denied),
            (&[4000], Outcome::BadRequest),
            (&[4400], Outcome::RateLimited),
            (&[5000, 10105], Outcome::NotFound),
            (
                &[5100, 6000, 6100, 6200, 9001, 10100, 10101],
                Outcome::ServerError,
            ),
        ];
        for (codes, outcome) in table {
            for code in codes {
                assert_eq!(map_v2(*code), outcome, "{code}");
            }
        }
    }

    #[test]
    fn v2_code_may_be_a_string_and_errors_arrive_in_200() {
        let r = Response::from_parts(
            200,
            &[],
            r#"{"code":"4100","message":"鉴权失败","codeDesc":"AuthFailure"}"#,
        );
        let rep = v2_report(&r, false);
        assert_eq!(rep.outcome, Outcome::AuthFailed);
        assert_eq!(rep.provider_code.as_deref(), Some("4100"));
        let r = Response::from_parts(200, &[], r#"{"code":4200,"message":"expired"}"#);
        assert!(v2_report(&r, false).message.contains("clock skew"));
        let r = Response::from_parts(200, &[], r#"{"code":0,"message":"","data":null}"#);
        assert_eq!(v2_report(&r, true).outcome, Outcome::Created);
        let r = Response::from_parts(502, &[], "<html>bad gateway</html>");
        assert_eq!(v2_report(&r, false).outcome, Outcome::Unknown);
        let r = Response::from_parts(200, &[], "<html>");
        assert_eq!(v2_report(&r, false).outcome, Outcome::Unknown);
    }

    #[test]
    fn v2_change_is_changed_only_for_code_0_in_a_2xx() {
        // (status, body, change outcome, info outcome)
        let table = [
            (
                200,
                r#"{"message":"ok"}"#,
                Outcome::Unknown,
                Outcome::ServerError,
            ),
            (
                200,
                r#"{"code":null}"#,
                Outcome::Unknown,
                Outcome::ServerError,
            ),
            (200, "<html>", Outcome::Unknown, Outcome::ServerError),
            (202, "", Outcome::Unknown, Outcome::ServerError),
            // Code 0 is no error body: a 5xx with it is a gateway's word on the change.
            (500, r#"{"code":0}"#, Outcome::Unknown, Outcome::ServerError),
            // A gateway's page or an empty body: the change may have been applied.
            (
                502,
                "<html>bad gateway</html>",
                Outcome::Unknown,
                Outcome::ServerError,
            ),
            (504, "", Outcome::Unknown, Outcome::ServerError),
            (
                503,
                r#"{"message":"upstream"}"#,
                Outcome::Unknown,
                Outcome::ServerError,
            ),
            // The provider's own error body in a 5xx keeps its mapping.
            (
                500,
                r#"{"code":6000,"message":"internal"}"#,
                Outcome::ServerError,
                Outcome::ServerError,
            ),
            (404, r#"{"code":"0"}"#, Outcome::NotFound, Outcome::NotFound),
            (
                401,
                r#"{"code":0,"message":""}"#,
                Outcome::AuthFailed,
                Outcome::AuthFailed,
            ),
            // A redirect answering the change: a proxy may have passed it on (issue 8).
            (302, r#"{"code":0}"#, Outcome::Unknown, Outcome::BadRequest),
            (
                200,
                r#"{"code":4100}"#,
                Outcome::AuthFailed,
                Outcome::AuthFailed,
            ),
            (200, r#"{"code":123456}"#, Outcome::Failed, Outcome::Failed),
        ];
        for (status, body, change, info) in table {
            let r = Response::from_parts(status, &[], body);
            let rep = v2_report(&r, false);
            assert_eq!(rep.outcome, change, "change {status} {body}");
            let rep = v2_info(&r).expect_err("not a success");
            assert_eq!(rep.outcome, info, "info {status} {body}");
            assert!(!rep.outcome.is_success());
        }
    }

    #[test]
    fn an_unreadable_info_answer_says_nothing_was_changed() {
        let r = Response::from_parts(200, &[], r#"{"code":0,"message":"","data":{"authIn"#);
        let rep = v2_info(&r).expect_err("unreadable");
        assert_eq!(rep.outcome, Outcome::ServerError);
        assert!(
            rep.message.contains("nothing was changed"),
            "{}",
            rep.message
        );
        let r = Response::from_parts(200, &[], r#"{"code":0,"data":{"authInfo":{}}}"#);
        let rep = v2_info(&r).expect_err("no be_first");
        assert_eq!(rep.outcome, Outcome::ServerError);
        let r = Response::from_parts(
            200,
            &[],
            r#"{"code":"0","data":{"authInfo":{"be_first":"true"}}}"#,
        );
        assert_eq!(v2_info(&r).ok(), Some(true));
    }

    #[test]
    fn v3_is_changed_only_for_the_documented_success() {
        let table = [
            // An error without a Code: refused, with the message.
            (
                200,
                r#"{"Response":{"Error":{"Message":"x"},"RequestId":"r"}}"#,
                Outcome::BadRequest,
            ),
            (
                500,
                r#"{"Response":{"Error":{"Message":"x"}}}"#,
                Outcome::ServerError,
            ),
            (403, r#"{"Response":{"Error":{}}}"#, Outcome::Denied),
            // Not the success shape.
            (200, r#"{"Response":{}}"#, Outcome::Unknown),
            (200, r#"{"Response":null}"#, Outcome::Unknown),
            (200, r#"{"RequestId":"r"}"#, Outcome::Unknown),
            (202, "", Outcome::Unknown),
            // The success shape, but not in a 2xx: no error body, so no definite answer.
            (500, r#"{"Response":{"RequestId":"r"}}"#, Outcome::Unknown),
            // A gateway's page or an empty body in a 5xx: the change may have been applied.
            (502, "<html>bad gateway</html>", Outcome::Unknown),
            (504, "", Outcome::Unknown),
            // The provider's own error body in a 5xx keeps its mapping.
            (
                500,
                r#"{"Response":{"Error":{"Code":"InternalError","Message":"x"},"RequestId":"r"}}"#,
                Outcome::ServerError,
            ),
            (
                503,
                r#"{"Response":{"Error":{"Code":"ResourceUnavailable","Message":"x"},"RequestId":"r"}}"#,
                Outcome::ServerError,
            ),
            // Not a 5xx: by status.
            (404, "<html>not found</html>", Outcome::NotFound),
        ];
        for (status, body, outcome) in table {
            let r = Response::from_parts(status, &[], body);
            let rep = v3_report(&r, false);
            assert_eq!(rep.outcome, outcome, "{status} {body}");
            assert_eq!(
                v3_report(&r, true).outcome,
                outcome,
                "create {status} {body}"
            );
        }
        let r = Response::from_parts(200, &[], r#"{"Response":{"Error":{"Message":"x"}}}"#);
        assert_eq!(v3_report(&r, false).message, "x");
    }

    #[test]
    fn be_first_accepts_bool_or_string() {
        for (text, expected) in [
            (r#"{"data":{"authInfo":{"be_first":true}}}"#, Some(true)),
            (r#"{"data":{"authInfo":{"be_first":false}}}"#, Some(false)),
            (r#"{"data":{"authInfo":{"be_first":"true"}}}"#, Some(true)),
            (r#"{"data":{"authInfo":{"be_first":"false"}}}"#, Some(false)),
            (r#"{"data":{"authInfo":{"be_first":"maybe"}}}"#, None),
            (r#"{"data":{"authInfo":{}}}"#, None),
        ] {
            let v: serde_json::Value = serde_json::from_str(text).expect("json");
            assert_eq!(be_first(&v), expected, "{text}");
        }
    }

    #[test]
    fn v3_reports_success_errors_and_offers_create() {
        let ok = Response::from_parts(200, &[], r#"{"Response":{"RequestId":"r-1"}}"#);
        let rep = v3_report(&ok, false);
        assert_eq!(
            (rep.outcome, rep.request_id.as_deref()),
            (Outcome::Changed, Some("r-1"))
        );
        assert_eq!(v3_report(&ok, true).outcome, Outcome::Created);
        let missing = Response::from_parts(
            200,
            &[],
            r#"{"Response":{"Error":{"Code":"ResourceNotFound","Message":"The VPN account does not exist"},"RequestId":"r-2"}}"#,
        );
        let rep = v3_report(&missing, false);
        assert_eq!(rep.outcome, Outcome::NotFound);
        assert_eq!(rep.follow_up, Some(FollowUp::OfferCreate));
        let expired = Response::from_parts(
            200,
            &[],
            r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureExpire","Message":"expired"},"RequestId":"r"}}"#,
        );
        let rep = v3_report(&expired, false);
        assert_eq!(rep.outcome, Outcome::AuthFailed);
        assert!(rep.message.contains("clock skew"));
        let html = Response::from_parts(502, &[], "<html>oops</html>");
        let rep = v3_report(&html, false);
        assert_eq!(rep.outcome, Outcome::Unknown);
        assert_eq!(rep.http_status, Some(502));
        assert!(
            rep.message.contains("may have been applied") && rep.message.contains("not retried"),
            "{}",
            rep.message
        );
    }
}
