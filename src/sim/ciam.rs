//! Tencent CIAM portal APIs: the OAuth password grant (`POST /oauth2/token`) and the
//! end user's password change (`POST /change_user_password`, `Authorization: Bearer`).

use serde::Deserialize;
use serde_json::json;

use super::UserStatus;
use super::http::{Request, Response};
use super::world::{self, CIAM_TOKEN_SECS, CiamToken, SecretString, World, secret_eq};
use crate::provider::sign::tencent_v2::form_decode;

/// An OAuth error answer.
fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    Response::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
    .with_header("Cache-Control", "no-store")
}

/// `POST /oauth2/token` (grant_type=password).
pub fn token(w: &mut World, req: &Request) -> Response {
    let params = form_decode(&req.body);
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if get("grant_type") != Some("password") {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "The simulator supports grant_type=password only.",
        );
    }
    let Some(client) = get("client_id").and_then(|id| w.ciam_clients.iter().find(|c| c.id == id))
    else {
        return oauth_error(401, "invalid_client", "Client authentication failed.");
    };
    let secret_ok = match (&client.secret, get("client_secret")) {
        (Some(required), Some(sent)) => secret_eq(required, sent),
        (None, None) => true,
        _ => false,
    };
    if !secret_ok {
        return oauth_error(401, "invalid_client", "Client authentication failed.");
    }
    if get("auth_source_id") != Some(client.auth_source_id.as_str()) {
        return oauth_error(
            400,
            "invalid_auth_source",
            "Auth source and application not associated",
        );
    }
    if get("scope").is_some_and(|s| s != "openid") {
        return oauth_error(400, "invalid_scope", "The only scope supported is openid.");
    }
    let (Some(username), Some(password)) = (get("username"), get("password")) else {
        return oauth_error(
            400,
            "invalid_request",
            "username and password are required.",
        );
    };
    let client_id = client.id.clone();
    let Some(user) = w.ciam_users.iter().find(|u| u.username == username) else {
        return oauth_error(400, "invalid_grant", "Wrong username or password");
    };
    if user.status != UserStatus::Active {
        return oauth_error(400, "invalid_grant", "Abnormal user status");
    }
    if !secret_eq(&user.password, password) {
        return oauth_error(400, "invalid_grant", "Wrong username or password");
    }
    let access = world::secret(&format!(
        "sim_at_{}",
        world::random_string(43, world::B64URL)
    ));
    let refresh = world::secret(&world::random_string(43, world::B64URL));
    let id = world::secret(&format!(
        "sim_id.{}.{}",
        client_id,
        world::random_string(43, world::B64URL)
    ));
    let body = json!({
        "access_token": access.as_str(),
        "refresh_token": refresh.as_str(),
        "id_token": id.as_str(),
        "token_type": "Bearer",
        "expires_in": CIAM_TOKEN_SECS,
        "scope": "openid",
    });
    w.issued
        .push(("access_token", world::secret(access.as_str())));
    w.issued.push(("id_token", id));
    w.issued.push(("refresh_token", refresh));
    let expires = w.now() + std::time::Duration::from_secs(CIAM_TOKEN_SECS);
    w.ciam_tokens.push(CiamToken {
        value: access,
        username: user.username.clone(),
        expires: Some(expires),
    });
    Response::json(200, &body)
        .with_header("Cache-Control", "no-store")
        .with_header("Pragma", "no-cache")
}

#[derive(Deserialize)]
struct ChangeBody {
    old_password: Option<SecretString>,
    new_password: Option<SecretString>,
}

/// `POST /change_user_password`.
pub fn change_password(w: &mut World, req: &Request) -> Response {
    let bearer = req
        .header("Authorization")
        .and_then(|h| {
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty());
    let Some(bearer) = bearer else {
        return Response::empty(400).with_header(
            "WWW-Authenticate",
            "Bearer error=\"invalid_request\", error_description=\"Bearer token not found in \
             the request\", error_uri=\"https://tools.ietf.org/html/rfc6750#section-3.1\"",
        );
    };
    let Some(username) = w.ciam_token(bearer).map(|t| t.username.clone()) else {
        return Response::empty(401).with_header(
            "WWW-Authenticate",
            "Bearer error=\"invalid_token\", error_description=\"Error decoding JWT\"",
        );
    };
    let Ok(ChangeBody {
        old_password: Some(old),
        new_password: Some(new),
    }) = serde_json::from_slice::<ChangeBody>(&req.body)
    else {
        return oauth_error(
            400,
            "invalid_request",
            "The body must be JSON with old_password and new_password.",
        );
    };
    let Some(user) = w.ciam_users.iter_mut().find(|u| u.username == username) else {
        return oauth_error(400, "user_not_found", "User not found.");
    };
    match user.status {
        UserStatus::Active => {}
        UserStatus::Frozen => return oauth_error(400, "abnormal_user_status", "User is frozen."),
        UserStatus::Locked => return oauth_error(400, "abnormal_user_status", "User is locked."),
    }
    if !secret_eq(&user.password, old.as_str()) {
        return oauth_error(400, "wrong_old_password", "The old password is wrong.");
    }
    let (current, recent) = world::reused(&user.password, &user.history, new.as_str());
    if current {
        return oauth_error(
            400,
            "duplicate_password",
            "The new password is the same as the current one.",
        );
    }
    if recent {
        return oauth_error(
            400,
            "recurrent_password",
            "The new password was used recently (one of the last 3).",
        );
    }
    if let Err(m) = world::ciam_policy(new.as_str()) {
        return oauth_error(400, "invalid_new_password", m);
    }
    let old = std::mem::replace(&mut user.password, new.0);
    world::remember(&mut user.history, old);
    w.count_change(format!("ciam:{username}"), true);
    Response::empty(200)
}
