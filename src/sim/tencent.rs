//! Tencent Cloud Bare Metal out-of-band VPN password: API 3.0 `SetOutBandVpnAuthPassword`
//! (TC3-HMAC-SHA256 verified by recomputing it) and legacy API 2.0 `GetOutBandVPNAuthInfo` /
//! `SetOutBandVPNAuthPwd` (HmacSHA256 / HmacSHA1 form signatures, nonce replay check).
//!
//! Both answer HTTP 200 for every API-level error, as Tencent does.

use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::http::{Request, Response};
use super::world::{self, SecretString, TENCENT_SKEW, World, real_unix, secret_eq};
use crate::provider::sign::{constant_time_eq, tc3, tencent_v2, utc_date};

/// The only API 3.0 action simulated.
const V3_ACTION: &str = "SetOutBandVpnAuthPassword";
/// The bm API 3.0 version.
const V3_VERSION: &str = "2018-04-23";
/// Regions the simulated bm API 3.0 serves.
const V3_REGIONS: &[&str] = &["ap-guangzhou", "ap-shanghai", "ap-beijing"];
/// The VPN gateway every simulated account reports.
const VPN_GATEWAY: &str = "203.0.113.10:443";

/// At most `n` characters of client input, for echoing in a message.
fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

// ---------------------------------------------------------------------------------------------
// API 3.0

#[derive(Deserialize)]
struct V3Body {
    #[serde(rename = "Password")]
    password: Option<SecretString>,
    #[serde(rename = "Operate")]
    operate: Option<String>,
}

/// `POST /` (API 3.0).
pub fn v3(w: &mut World, req: &Request) -> Response {
    let request_id = world::uuid();
    // Throttled before anything else, as Tencent's gateway does (nothing is applied).
    if w.throttle(super::Route::TencentV3) {
        return Response::json(
            200,
            &json!({"Response": {"Error": {"Code": "RequestLimitExceeded",
                "Message": "Your current request times equals to `6` in a second, which exceeds the frequency limit `5` for a second. Please reduce the frequency of calls."},
                "RequestId": request_id}}),
        );
    }
    match v3_inner(w, req) {
        Ok(()) => Response::json(200, &json!({"Response": {"RequestId": request_id}})),
        Err((code, message)) => Response::json(
            200,
            &json!({"Response": {"Error": {"Code": code, "Message": message},
                                 "RequestId": request_id}}),
        ),
    }
}

type V3Error = (&'static str, String);

fn missing(name: &str) -> V3Error {
    (
        "MissingParameter",
        format!("The request is missing a required parameter `{name}`."),
    )
}

fn v3_inner(w: &mut World, req: &Request) -> Result<(), V3Error> {
    let action = req
        .header("X-TC-Action")
        .ok_or_else(|| missing("X-TC-Action"))?;
    if action != V3_ACTION {
        return Err((
            "InvalidAction",
            format!(
                "The action `{}` does not exist in this simulator; only {V3_ACTION} does.",
                clip(action)
            ),
        ));
    }
    let version = req
        .header("X-TC-Version")
        .ok_or_else(|| missing("X-TC-Version"))?;
    if version != V3_VERSION {
        return Err((
            "NoSuchVersion",
            format!(
                "The requested version `{}` of service `bm` does not exist; use {V3_VERSION}.",
                clip(version)
            ),
        ));
    }
    let region = req
        .header("X-TC-Region")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("X-TC-Region"))?;
    if !V3_REGIONS.contains(&region) {
        return Err((
            "UnsupportedRegion",
            format!("bm does not support the region `{}`.", clip(region)),
        ));
    }
    let header = req.header("Authorization").ok_or((
        "AuthFailure.InvalidAuthorization",
        "The Authorization header is missing.".to_owned(),
    ))?;
    let auth = tc3::parse_authorization(header).ok_or((
        "AuthFailure.InvalidAuthorization",
        "The Authorization header is not `TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, \
         Signature=…`."
            .to_owned(),
    ))?;
    let timestamp = req
        .header("X-TC-Timestamp")
        .ok_or_else(|| missing("X-TC-Timestamp"))?;
    let timestamp: i64 = timestamp.parse().map_err(|_| {
        (
            "InvalidParameter",
            "X-TC-Timestamp is not a Unix time in seconds.".to_owned(),
        )
    })?;
    let Some(k) = w.tc_key(&auth.secret_id) else {
        return Err((
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.".into(),
        ));
    };
    let now = real_unix();
    if now.abs_diff(timestamp) > TENCENT_SKEW.unsigned_abs() {
        return Err((
            "AuthFailure.SignatureExpire",
            format!(
                "Signature expired. Timestamp {timestamp} is more than 5 minutes from the \
                 server time {now}."
            ),
        ));
    }
    let key = &w.tc_keys[k];
    let failure = || {
        (
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is \
             correct."
                .to_owned(),
        )
    };
    if auth.service != "bm"
        || auth.date != utc_date(timestamp)
        || auth.signed_headers != "content-type;host"
    {
        return Err(failure());
    }
    let content_type = req.header("Content-Type").unwrap_or_default();
    let expected = tc3::signature(&tc3::Tc3Input {
        secret_id: &key.secret_id,
        secret_key: &key.secret_key,
        service: "bm",
        host: req.header("Host").unwrap_or_default(),
        method: &req.method,
        query: &req.query,
        content_type,
        payload: &req.body,
        timestamp,
    });
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(failure());
    }
    let token_ok = match (&key.token, req.header("X-TC-Token")) {
        (Some(required), Some(sent)) => secret_eq(required, sent),
        (None, None) => true,
        _ => false,
    };
    if !token_ok {
        return Err((
            "AuthFailure.TokenFailure",
            "The token (X-TC-Token) is missing, invalid or does not belong to this SecretId."
                .into(),
        ));
    }
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err((
            "InvalidParameter",
            "The simulator accepts API 3.0 POST bodies as application/json only.".into(),
        ));
    }
    let body: V3Body = serde_json::from_slice(&req.body).map_err(|_| {
        (
            "InvalidParameter",
            "The request body is not a JSON object with string Password and Operate.".to_owned(),
        )
    })?;
    let operate = body.operate.ok_or_else(|| missing("Operate"))?;
    let create = match operate.as_str() {
        "Create" => true,
        "Update" => false,
        _ => {
            return Err((
                "InvalidParameterValue",
                "The value of parameter `Operate` must be Create or Update.".into(),
            ));
        }
    };
    let password = body.password.ok_or_else(|| missing("Password"))?;
    let vpn = &mut w.tc_keys[k].vpn;
    match (create, vpn.password.is_some()) {
        (false, false) => {
            return Err((
                "ResourceNotFound",
                "The out-of-band VPN account does not exist; create it first (Operate=Create)."
                    .into(),
            ));
        }
        (true, true) => {
            return Err((
                "FailedOperation",
                "The out-of-band VPN account already exists; change its password with \
                 Operate=Update."
                    .into(),
            ));
        }
        _ => {}
    }
    world::tencent_policy(password.as_str())
        .map_err(|m| ("InvalidParameterValue", format!("Password: {m}.")))?;
    let changed = vpn
        .password
        .as_ref()
        .is_none_or(|old| !secret_eq(old, password.as_str()));
    vpn.password = Some(password.0);
    let account = format!("vpn:{}", w.tc_keys[k].secret_id);
    w.count_change(account, changed);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// API 2.0

/// The parameters of a v2 request: the form body for POST, the query for GET.
fn v2_params(req: &Request) -> Vec<(String, Zeroizing<String>)> {
    if req.method == "POST" {
        tencent_v2::form_decode(&req.body)
    } else {
        tencent_v2::form_decode(req.query.as_bytes())
    }
}

/// The `Action` parameter of a v2 request, if any (used to pick the route).
pub fn v2_action(req: &Request) -> Option<String> {
    v2_params(req)
        .into_iter()
        .find(|(n, _)| n == "Action")
        .map(|(_, v)| v.as_str().to_owned())
}

/// A v2 answer; `code` as a JSON string when the account is configured so.
fn v2_answer(code: i64, message: &str, as_string: bool, data: Option<Value>) -> Response {
    let desc = match code {
        0 => "Success",
        4000 => "InvalidParameter",
        4100 => "AuthFailure",
        4105 => "AuthFailure.TokenFailure",
        4200 => "RequestExpired",
        4500 => "ReplayAttack",
        10004 => "OperationDenied",
        10105 => "InvalidResource.ObAuthNoConfig",
        _ => "Error",
    };
    let code = if as_string {
        json!(code.to_string())
    } else {
        json!(code)
    };
    let mut body = json!({"code": code, "message": message, "codeDesc": desc});
    if let Some(data) = data {
        body["data"] = data;
    }
    Response::json(200, &body)
}

/// A v2 request whose `Action` the simulator does not know.
pub fn v2_unknown_action(_req: &Request) -> Response {
    v2_answer(
        4000,
        "(100003) Action is missing or unknown; this simulator serves GetOutBandVPNAuthInfo and \
         SetOutBandVPNAuthPwd.",
        false,
        None,
    )
}

/// `POST /v2/index.php` (API 2.0).
pub fn v2(w: &mut World, req: &Request) -> Response {
    let params = v2_params(req);
    let mut names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(dup) = names.windows(2).find(|p| p[0] == p[1]) {
        return v2_answer(
            4000,
            &format!(
                "(100002) parameter `{}` appears more than once",
                clip(dup[0])
            ),
            false,
            None,
        );
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(k) = get("SecretId").and_then(|id| w.tc_key(id)) else {
        return v2_answer(
            4100,
            "Authentication failed. SecretId does not exist.",
            false,
            None,
        );
    };
    let as_string = w.tc_keys[k].vpn.code_as_string;
    let fail = |code: i64, message: &str| v2_answer(code, message, as_string, None);
    let Some(timestamp) = get("Timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return fail(4000, "(100001) Timestamp is missing or not a Unix time.");
    };
    let now = real_unix();
    if now.abs_diff(timestamp) > TENCENT_SKEW.unsigned_abs() {
        return fail(
            4200,
            &format!(
                "The request has expired: Timestamp {timestamp} is more than 5 minutes from the \
                 server time {now}."
            ),
        );
    }
    let Some(nonce) = get("Nonce").filter(|n| !n.is_empty()) else {
        return fail(4000, "(100001) Nonce is missing.");
    };
    let Some(signature) = get("Signature") else {
        return fail(
            4100,
            "Authentication failed: the Signature parameter is missing.",
        );
    };
    let key = &w.tc_keys[k];
    let algorithm = tencent_v2::V2Algorithm::from_signature_method(get("SignatureMethod"));
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let to_sign = tencent_v2::string_to_sign(
        &req.method,
        req.header("Host").unwrap_or_default(),
        &req.path,
        &pairs,
    );
    let expected = tencent_v2::sign(&key.secret_key, algorithm, &to_sign);
    if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return fail(
            4100,
            "Authentication failed: signature verification failed.",
        );
    }
    let token_ok = match (&key.token, get("Token")) {
        (Some(required), Some(sent)) => secret_eq(required, sent),
        (None, None) => true,
        _ => false,
    };
    if !token_ok {
        return fail(
            4105,
            "Token error: the Token is missing, invalid or expired.",
        );
    }
    let nonce_key = (key.secret_id.clone(), nonce.to_owned());
    if w.nonces.contains_key(&nonce_key) {
        return fail(
            4500,
            "Replay attack: this Nonce was already used with this SecretId.",
        );
    }
    w.nonces.insert(nonce_key, now);
    if get("Region").is_none_or(str::is_empty) {
        return fail(4000, "(100001) Region is missing.");
    }
    let vpn = &mut w.tc_keys[k].vpn;
    if let Some(app) = get("appId")
        && app.parse::<u64>().ok() != Some(vpn.app_id)
    {
        return fail(4000, "(100004) appId does not belong to this SecretId.");
    }
    match get("Action") {
        Some("GetOutBandVPNAuthInfo") => {
            match get("zoneId") {
                Some(z) if z.parse::<u64>().is_err() => {
                    return fail(4000, "(100004) zoneId must be an integer.");
                }
                None if get("appId").is_none() => {
                    return fail(4000, "(100001) zoneId is required.");
                }
                _ => {}
            }
            let first = vpn.password.is_none();
            let be_first = if vpn.be_first_as_string {
                json!(first.to_string())
            } else {
                json!(first)
            };
            v2_answer(
                0,
                "",
                as_string,
                Some(json!({"authInfo": {
                    "vpnGwAddr": VPN_GATEWAY,
                    "userName": vpn.app_id.to_string(),
                    "userGroup": format!("bm{}", vpn.app_id),
                    "be_first": be_first,
                }})),
            )
        }
        Some("SetOutBandVPNAuthPwd") => {
            let Some(password) = get("password") else {
                return fail(4000, "(100001) password is required.");
            };
            let create = match get("createOrUpdate") {
                Some("create") => true,
                Some("update") => false,
                _ => return fail(4000, "(100004) createOrUpdate must be create or update."),
            };
            match (create, vpn.password.is_some()) {
                (true, true) => {
                    return fail(
                        10004,
                        "OperationDenied: the VPN account already exists; use \
                         createOrUpdate=update.",
                    );
                }
                (false, false) => {
                    return fail(
                        10105,
                        "系统无此用户的VPN设置信息 (the system has no VPN settings for this user; \
                         use createOrUpdate=create).",
                    );
                }
                _ => {}
            }
            if let Err(m) = world::tencent_policy(password) {
                return fail(4000, &format!("(100004) password: {m}."));
            }
            vpn.password = Some(world::secret(password));
            v2_answer(0, "", as_string, Some(Value::Null))
        }
        _ => v2_unknown_action(req),
    }
}
