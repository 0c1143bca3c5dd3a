//! Huawei Cloud / OTC: DCS instance password (AK/SK `SDK-HMAC-SHA256` in both forms, or a
//! project-scoped IAM token), and IAM tokens, password policy and user password change.
//!
//! Error bodies use `error_code` / `error_msg`; every answer carries `X-Request-Id`.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Request, Response};
use super::world::{
    self, DCS_LOCK, DCS_MAX_FAILURES, HUAWEI_SKEW, IAM_LOCK, IAM_MAX_FAILURES, IAM_TOKEN_LIFETIME,
    IamToken, SecretString, TokenScope, World, real_unix, secret_eq,
};
use super::{UserStatus, segments};
use crate::provider::sign::{self, constant_time_eq, huawei};

/// The gateway's answer to an AK/SK signature it cannot verify.
const VERIFY_FAIL: &str = "Incorrect IAM authentication information: verify aksk signature fail";

/// A Huawei error answer.
fn error(status: u16, code: &str, message: &str) -> Response {
    Response::json(status, &json!({"error_code": code, "error_msg": message}))
}

/// Adds the request id every Huawei API answers with.
fn with_request_id(r: Response) -> Response {
    r.with_header("X-Request-Id", world::hex_id())
}

/// Minutes left until `until`, rounded up (at least 1 while locked).
fn minutes_left(now: SystemTime, until: SystemTime) -> u64 {
    let secs = until
        .duration_since(now)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    secs.div_ceil(60).max(1)
}

// ---------------------------------------------------------------------------------------------
// AK/SK

/// Verifies an `SDK-HMAC-SHA256` signature (Huawei `Access=` or OTC `Credential=` form) by
/// recomputing it over the headers the request says it signed. The error is the gateway
/// message.
fn verify_aksk(w: &World, req: &Request, header: &str) -> Result<(), String> {
    let auth = huawei::parse_authorization(header).ok_or_else(|| {
        "Incorrect IAM authentication information: the Authorization header is malformed".to_owned()
    })?;
    let Some(pair) = w.aksk.iter().find(|p| p.ak == auth.access_key) else {
        return Err(VERIFY_FAIL.into());
    };
    if !auth.signed_headers.iter().any(|h| h == "x-sdk-date") {
        return Err(
            "Incorrect IAM authentication information: x-sdk-date must be a signed header".into(),
        );
    }
    let date_text = req.header("X-Sdk-Date").unwrap_or_default();
    let Some(date) = sign::parse_sdk_date(date_text) else {
        return Err(
            "Incorrect IAM authentication information: X-Sdk-Date is missing or not \
             YYYYMMDDTHHMMSSZ"
                .into(),
        );
    };
    if real_unix().abs_diff(date) > HUAWEI_SKEW.unsigned_abs() {
        return Err(
            "Incorrect IAM authentication information: the request time (X-Sdk-Date) is more \
             than 15 minutes from the server time"
                .into(),
        );
    }
    if let Some(scope) = &auth.date_scope
        && date_text.get(..8) != Some(scope.as_str())
    {
        return Err(VERIFY_FAIL.into());
    }
    let mut signed: Vec<(&str, &str)> = Vec::new();
    for name in auth.signed_headers.iter().filter(|h| *h != "host") {
        match req.header(name) {
            Some(value) => signed.push((name, value)),
            None => return Err(VERIFY_FAIL.into()),
        }
    }
    let query = crate::provider::sign::tencent_v2::form_decode(req.query.as_bytes());
    let query: Vec<(&str, &str)> = query
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let input = huawei::AkskInput {
        method: &req.method,
        host: req.header("Host").unwrap_or_default(),
        path: &req.path,
        query: &query,
        headers: &signed,
        payload: &req.body,
    };
    let expected = huawei::signature(&pair.sk, &input, auth.variant);
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(VERIFY_FAIL.into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// DCS

#[derive(Deserialize)]
struct DcsBody {
    old_password: Option<SecretString>,
    new_password: Option<SecretString>,
}

/// `PUT /v2/{project_id}/instances/{instance_id}/password`.
pub fn dcs_password(w: &mut World, req: &Request) -> Response {
    if w.throttle(super::Route::DcsPassword) {
        return with_request_id(throttled());
    }
    with_request_id(dcs_inner(w, req))
}

/// The API gateway's throttling answer (nothing reaches the service).
fn throttled() -> Response {
    error(
        429,
        "APIGW.0308",
        "The throttling threshold has been reached: policy user over ratelimit,limit:1,time:1 second",
    )
}

fn dcs_answer(result: &str, lock_time: Value, left: Value, retries: &str, msg: &str) -> Response {
    Response::json(
        200,
        &json!({"lock_time": lock_time, "result": result, "lock_time_left": left,
                "retry_times_left": retries, "message": msg}),
    )
}

fn dcs_locked(minutes: u64) -> Response {
    dcs_answer(
        "locked",
        json!("5"),
        json!(minutes.to_string()),
        "0",
        "The instance is locked because the password was verified wrongly too many times; \
         try again later.",
    )
}

fn dcs_inner(w: &mut World, req: &Request) -> Response {
    let seg = segments(&req.path);
    let (project, instance) = match seg.as_slice() {
        ["v2", p, "instances", i, "password"] => (p.to_string(), i.to_string()),
        _ => return error(404, "DCS.4001", "URL does not exist."),
    };
    if let Some(token) = req.header("X-Auth-Token") {
        match w.iam_token(token) {
            Some(t) if t.scope == TokenScope::Project(project.clone()) => {}
            Some(_) => return error(401, "DCS.1004", "Project ID does not match the token."),
            None if w.iam_tokens.iter().any(|t| secret_eq(&t.value, token)) => {
                return error(401, "DCS.1002", "Token expired.");
            }
            None => return error(401, "DCS.1001", "Invalid token."),
        }
    } else if let Some(header) = req.header("Authorization") {
        if let Err(message) = verify_aksk(w, req, header) {
            return error(401, "APIGW.0301", &message);
        }
        if req.header("X-Project-Id").is_some_and(|p| p != project) {
            return error(401, "DCS.1004", "Project ID does not match the request.");
        }
    } else {
        return error(401, "DCS.1003", "No token in the request.");
    }
    let now = w.now();
    let Some(inst) = w
        .dcs
        .iter_mut()
        .find(|d| d.project_id == project && d.instance_id == instance)
    else {
        return error(404, "DCS.3022", "This DCS instance does not exist.");
    };
    let Ok(DcsBody {
        old_password: Some(old),
        new_password: Some(new),
    }) = serde_json::from_slice::<DcsBody>(&req.body)
    else {
        return error(
            400,
            "DCS.4845",
            "The password parameter is missing or its value is invalid.",
        );
    };
    if let Some(until) = inst.locked_until {
        if until > now {
            return dcs_locked(minutes_left(now, until));
        }
        inst.locked_until = None;
        inst.failures = 0;
    }
    if !secret_eq(&inst.password, old.as_str()) {
        inst.failures += 1;
        if inst.failures >= DCS_MAX_FAILURES {
            let until = now + DCS_LOCK;
            inst.locked_until = Some(until);
            return dcs_locked(minutes_left(now, until));
        }
        let left = (DCS_MAX_FAILURES - inst.failures).to_string();
        return dcs_answer(
            "passwordFailed",
            Value::Null,
            Value::Null,
            &left,
            "Instance password verify failed.",
        );
    }
    inst.failures = 0;
    if let Err(m) = world::dcs_policy(new.as_str()) {
        return error(400, "DCS.4019", m);
    }
    let changed = !secret_eq(&inst.password, new.as_str());
    inst.password = new.0;
    let account = format!("dcs:{}", inst.instance_id);
    w.count_change(account, changed);
    dcs_answer(
        "success",
        json!("0"),
        json!("0"),
        "5",
        "Modify DCSInstance password success.",
    )
}

// ---------------------------------------------------------------------------------------------
// IAM tokens

#[derive(Deserialize)]
struct NameOrId {
    name: Option<String>,
    id: Option<String>,
}

#[derive(Deserialize)]
struct TokenUser {
    domain: Option<NameOrId>,
    name: Option<String>,
    password: Option<SecretString>,
}

#[derive(Deserialize)]
struct PasswordIdentity {
    user: Option<TokenUser>,
}

#[derive(Deserialize)]
struct Identity {
    methods: Option<Vec<String>>,
    password: Option<PasswordIdentity>,
}

#[derive(Deserialize)]
struct TokenScopeBody {
    domain: Option<NameOrId>,
    project: Option<NameOrId>,
}

#[derive(Deserialize)]
struct Auth {
    identity: Option<Identity>,
    scope: Option<TokenScopeBody>,
}

#[derive(Deserialize)]
struct TokenBody {
    auth: Option<Auth>,
}

fn invalid(key: &str) -> Response {
    error(
        400,
        "IAM.0007",
        &format!("Request parameter {key} is invalid."),
    )
}

fn wrong_credentials() -> Response {
    error(401, "IAM.0062", "The username or password is wrong.")
}

fn matches(sel: &NameOrId, id: &str, name: &str) -> bool {
    match (&sel.id, &sel.name) {
        (Some(i), _) => i == id,
        (None, Some(n)) => n == name,
        (None, None) => false,
    }
}

/// `POST /v3/auth/tokens` with a password identity.
pub fn iam_token(w: &mut World, req: &Request) -> Response {
    with_request_id(iam_token_inner(w, req))
}

fn iam_token_inner(w: &mut World, req: &Request) -> Response {
    let Ok(TokenBody { auth: Some(auth) }) = serde_json::from_slice::<TokenBody>(&req.body) else {
        return invalid("auth");
    };
    let Some(identity) = auth.identity else {
        return invalid("auth.identity");
    };
    if !identity
        .methods
        .as_deref()
        .is_some_and(|m| m.iter().any(|m| m == "password"))
    {
        return invalid("auth.identity.methods");
    }
    let Some(TokenUser {
        domain: Some(domain_sel),
        name: Some(user_name),
        password: Some(password),
    }) = identity.password.and_then(|p| p.user)
    else {
        return invalid("auth.identity.password.user");
    };
    let Some(domain) = w
        .domains
        .iter()
        .find(|d| matches(&domain_sel, &d.id, &d.name))
    else {
        return wrong_credentials();
    };
    let (domain_id, domain_name) = (domain.id.clone(), domain.name.clone());
    let scope = match auth.scope {
        None => TokenScope::Domain(domain_id.clone()),
        Some(TokenScopeBody {
            project: Some(p), ..
        }) => match domain
            .projects
            .iter()
            .find(|(id, name)| matches(&p, id, name))
        {
            Some((id, _)) => TokenScope::Project(id.clone()),
            None => return invalid("auth.scope.project"),
        },
        Some(TokenScopeBody {
            domain: Some(d), ..
        }) if matches(&d, &domain_id, &domain_name) => TokenScope::Domain(domain_id.clone()),
        Some(_) => return invalid("auth.scope"),
    };
    let now = w.now();
    let Some(user) = w
        .iam_users
        .iter_mut()
        .find(|u| u.domain_id == domain_id && u.name == user_name)
    else {
        return wrong_credentials();
    };
    match user.status {
        UserStatus::Active => {}
        UserStatus::Locked => return error(401, "IAM.0061", "The account is locked."),
        UserStatus::Frozen => return error(401, "IAM.0061", "The account is frozen."),
    }
    if let Some(until) = user.locked_until {
        if until > now {
            return error(
                401,
                "IAM.0061",
                &format!(
                    "The account is locked after too many wrong passwords; try again in {} \
                     minute(s).",
                    minutes_left(now, until)
                ),
            );
        }
        user.locked_until = None;
        user.failures = 0;
    }
    if !secret_eq(&user.password, password.as_str()) {
        user.failures += 1;
        if user.failures >= IAM_MAX_FAILURES {
            user.locked_until = Some(now + IAM_LOCK);
            return error(
                401,
                "IAM.0061",
                "The account is locked after too many wrong passwords; try again in 5 minutes.",
            );
        }
        return wrong_credentials();
    }
    user.failures = 0;
    let expires_at = user
        .password_validity
        .map(|v| world::iso_micros(user.password_set_at + v, false));
    let (user_id, name) = (user.id.clone(), user.name.clone());
    let admin = user.security_admin;
    let value = world::secret(&format!(
        "MIIsim{}",
        world::random_string(250, world::B64URL)
    ));
    let expires = now + IAM_TOKEN_LIFETIME;
    let mut token = json!({
        "expires_at": world::iso_micros(expires, true),
        "issued_at": world::iso_micros(now, true),
        "methods": ["password"],
        "user": {
            "id": user_id,
            "name": name,
            "password_expires_at": expires_at,
            "domain": {"id": domain_id, "name": domain_name},
        },
        "roles": if admin {
            json!([{"id": "0", "name": "secu_admin"}, {"id": "0", "name": "te_admin"}])
        } else {
            json!([{"id": "0", "name": "readonly"}])
        },
    });
    match &scope {
        TokenScope::Domain(_) => {
            token["domain"] = json!({"id": domain_id, "name": domain_name});
        }
        TokenScope::Project(pid) => {
            let pname = w
                .domains
                .iter()
                .flat_map(|d| d.projects.iter())
                .find(|(id, _)| id == pid)
                .map(|(_, n)| n.clone())
                .unwrap_or_default();
            token["project"] = json!({"id": pid, "name": pname,
                                      "domain": {"id": domain_id, "name": domain_name}});
        }
    }
    let nocatalog = crate::provider::sign::tencent_v2::form_decode(req.query.as_bytes())
        .iter()
        .any(|(n, v)| n == "nocatalog" && !v.is_empty());
    if !nocatalog {
        token["catalog"] = json!([]);
    }
    let header_value = value.as_str().to_owned();
    w.issued
        .push(("X-Subject-Token", world::secret(value.as_str())));
    w.iam_tokens.push(IamToken {
        value,
        user_id,
        scope,
        expires,
    });
    Response::json(201, &json!({"token": token})).with_header("X-Subject-Token", header_value)
}

/// The valid token of a request, or the answer refusing it.
fn token_of<'w>(w: &'w World, req: &Request) -> Result<&'w IamToken, Response> {
    let Some(value) = req.header("X-Auth-Token") else {
        return Err(error(
            401,
            "IAM.0001",
            "The request you have made requires authentication.",
        ));
    };
    w.iam_token(value)
        .ok_or_else(|| error(401, "IAM.0067", "Invalid token."))
}

fn not_authorized() -> Response {
    error(
        403,
        "IAM.0002",
        "You are not authorized to perform the requested action.",
    )
}

/// `GET /v3.0/OS-SECURITYPOLICY/domains/{domain_id}/password-policy`.
pub fn iam_policy(w: &mut World, req: &Request) -> Response {
    with_request_id(iam_policy_inner(w, req))
}

fn iam_policy_inner(w: &World, req: &Request) -> Response {
    let token = match token_of(w, req) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(user) = w.iam_users.iter().find(|u| u.id == token.user_id) else {
        return error(401, "IAM.0067", "Invalid token.");
    };
    let domain_id = segments(&req.path).get(3).copied().unwrap_or_default();
    if !user.security_admin || user.domain_id != domain_id {
        return not_authorized();
    }
    let Some(domain) = w.domains.iter().find(|d| d.id == domain_id) else {
        return error(404, "IAM.0004", "Could not find domain.");
    };
    let p = &domain.policy;
    Response::json(
        200,
        &json!({"password_policy": {
            "maximum_consecutive_identical_chars": p.max_identical,
            "maximum_password_length": p.max_len,
            "minimum_password_age": 0,
            "minimum_password_length": p.min_len,
            "number_of_recent_passwords_disallowed": world::HISTORY,
            "password_not_username_or_invert": p.not_username,
            "password_requirements": format!(
                "A password must contain at least {} of the following: uppercase letters, \
                 lowercase letters, digits, and special characters.", p.classes),
            "password_validity_period": 0,
            "password_char_combination": p.classes,
        }}),
    )
}

#[derive(Deserialize)]
struct NewPassword {
    password: Option<SecretString>,
    original_password: Option<SecretString>,
}

#[derive(Deserialize)]
struct PasswordBody {
    user: Option<NewPassword>,
}

/// `POST /v3/users/{user_id}/password`.
pub fn iam_password(w: &mut World, req: &Request) -> Response {
    if w.throttle(super::Route::IamPassword) {
        return with_request_id(throttled());
    }
    with_request_id(iam_password_inner(w, req))
}

fn iam_password_inner(w: &mut World, req: &Request) -> Response {
    let token = match token_of(w, req) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let user_id = segments(&req.path).get(2).copied().unwrap_or_default();
    if token.user_id != user_id || !matches!(token.scope, TokenScope::Domain(_)) {
        return not_authorized();
    }
    let Ok(PasswordBody {
        user:
            Some(NewPassword {
                password: Some(new),
                original_password: Some(original),
            }),
    }) = serde_json::from_slice::<PasswordBody>(&req.body)
    else {
        return invalid("user");
    };
    let now = w.now();
    let Some(ui) = w.iam_users.iter().position(|u| u.id == user_id) else {
        return error(404, "IAM.0004", "Could not find user.");
    };
    let policy = {
        let domain_id = &w.iam_users[ui].domain_id;
        match w.domains.iter().find(|d| &d.id == domain_id) {
            Some(d) => d.policy.clone(),
            None => return error(404, "IAM.0004", "Could not find domain."),
        }
    };
    let user = &mut w.iam_users[ui];
    match user.status {
        UserStatus::Active => {}
        UserStatus::Locked => return error(401, "IAM.0061", "The account is locked."),
        UserStatus::Frozen => return error(401, "IAM.0061", "The account is frozen."),
    }
    if !secret_eq(&user.password, original.as_str()) {
        return error(400, "1103", "Incorrect password.");
    }
    let (current, recent) = world::reused(&user.password, &user.history, new.as_str());
    if current {
        return error(
            400,
            "1108",
            "The new password must be different from the old password.",
        );
    }
    if recent {
        return error(
            400,
            "1108",
            "The new password must be different from the last 3 passwords.",
        );
    }
    if let Err(reason) = policy.check(new.as_str(), &user.name) {
        return error(400, "1118", &format!("The password is weak. {reason}"));
    }
    let old = std::mem::replace(&mut user.password, new.0);
    world::remember(&mut user.history, old);
    user.password_set_at = now;
    user.failures = 0;
    user.locked_until = None;
    let id = user.id.clone();
    // Changing the password invalidates the user's tokens.
    w.iam_tokens.retain(|t| t.user_id != id);
    w.count_change(format!("iam:{id}"), true);
    Response::empty(204)
}
