//! Huawei Cloud / OTC IAM tokens (`POST /v3/auth/tokens`) and the error body shapes every
//! Huawei API shares.

use serde::Serialize;
use serde_json::Value;
use url::Url;
use zeroize::Zeroizing;

use super::http::{Failure, Request, Response, Session};
use super::job::{json_body, json_log, text_of};
use super::redact::MASK;

/// Error code and message of a Huawei error body: `error_code`/`error_msg`, else
/// `errorCode`/`errorMsg`, else `code`/`message`, else the same inside a nested object
/// (Keystone's `{"error":{...}}`).
pub fn error_of(v: &Value) -> Option<(String, String)> {
    let obj = v.as_object()?;
    for (code, msg) in [
        ("error_code", "error_msg"),
        ("errorCode", "errorMsg"),
        ("code", "message"),
    ] {
        if let Some(c) = text_of(obj.get(code)) {
            return Some((c, text_of(obj.get(msg)).unwrap_or_default()));
        }
    }
    obj.values().find_map(error_of)
}

/// The error code of an answer, if it has one.
pub fn code_of(r: &Response) -> Option<String> {
    r.json().and_then(error_of).map(|(c, _)| c)
}

/// The path `segments` (starting with `v3` or `v3.0`) on an IAM endpoint, which may be given
/// with or without its `/v3` suffix.
pub fn iam_url(iam_endpoint: &Url, segments: &[&str]) -> Result<Url, String> {
    let mut base = iam_endpoint.clone();
    let path = base.path().trim_end_matches('/');
    if let Some(root) = path.strip_suffix("/v3") {
        let root = root.to_string();
        base.set_path(&root);
    }
    super::endpoint::join(&base, segments)
}

/// The request id header Huawei APIs return.
pub const REQUEST_ID: &str = "x-request-id";

#[derive(Serialize)]
struct Domain<'a> {
    name: &'a str,
}
#[derive(Serialize)]
struct User<'a> {
    domain: Domain<'a>,
    name: &'a str,
    password: &'a str,
}
#[derive(Serialize)]
struct PasswordIdentity<'a> {
    user: User<'a>,
}
#[derive(Serialize)]
struct Identity<'a> {
    methods: [&'a str; 1],
    password: PasswordIdentity<'a>,
}
#[derive(Serialize)]
struct ProjectId<'a> {
    id: &'a str,
}
/// Token scope.
#[derive(Serialize)]
pub enum Scope<'a> {
    /// A project-scoped token (DCS).
    #[serde(rename = "project")]
    Project(#[serde(serialize_with = "project_id")] &'a str),
    /// A domain-scoped token (IAM).
    #[serde(rename = "domain")]
    Domain(#[serde(serialize_with = "domain_name")] &'a str),
}
fn project_id<S: serde::Serializer>(id: &&str, s: S) -> Result<S::Ok, S::Error> {
    ProjectId { id }.serialize(s)
}
fn domain_name<S: serde::Serializer>(name: &&str, s: S) -> Result<S::Ok, S::Error> {
    Domain { name }.serialize(s)
}
#[derive(Serialize)]
struct Auth<'a> {
    identity: Identity<'a>,
    scope: Scope<'a>,
}
#[derive(Serialize)]
struct TokenBody<'a> {
    auth: Auth<'a>,
}

fn token_body<'a>(
    domain: &'a str,
    user: &'a str,
    password: &'a str,
    scope: Scope<'a>,
) -> TokenBody<'a> {
    TokenBody {
        auth: Auth {
            identity: Identity {
                methods: ["password"],
                password: PasswordIdentity {
                    user: User {
                        domain: Domain { name: domain },
                        name: user,
                        password,
                    },
                },
            },
            scope,
        },
    }
}

/// A token and what its body says about the user.
pub struct Token {
    /// The `X-Subject-Token` value.
    pub value: Zeroizing<String>,
    /// `token.user.id`.
    pub user_id: Option<String>,
    /// `token.user.domain.id`.
    pub domain_id: Option<String>,
    /// `token.user.password_expires_at` (null or "" means never).
    pub password_expires_at: Option<String>,
}

/// What came back from the token request.
pub enum TokenAnswer {
    /// 201 with a token.
    Issued(Token),
    /// Any other answer, including a 2xx without a token (see [`refusal_of_2xx`]).
    Refused(Response),
}

/// For a token answer in 2xx that issued no token (a 201 without `X-Subject-Token`, a 200, a
/// 202...): the words for a `server_error`. Nothing was changed, so it is never `changed` or
/// `unknown`. `None` for other statuses.
pub fn refusal_of_2xx(r: &Response) -> Option<String> {
    if !r.is_2xx() {
        return None;
    }
    Some(if r.status == 201 {
        "the token answer (HTTP 201) carried no X-Subject-Token".to_string()
    } else {
        format!(
            "unexpected HTTP {} to the token request instead of 201",
            r.status
        )
    })
}

/// `POST {iam}/v3/auth/tokens?nocatalog=true` with a user name and password.
pub async fn request(
    s: &Session,
    iam_endpoint: &Url,
    domain: &str,
    user: &str,
    password: &str,
    scope: Scope<'_>,
) -> Result<TokenAnswer, Failure> {
    let mut url = iam_url(iam_endpoint, &["v3", "auth", "tokens"]).map_err(Failure::Connect)?;
    url.set_query(Some("nocatalog=true"));
    let log_scope = match &scope {
        Scope::Project(p) => Scope::Project(p),
        Scope::Domain(d) => Scope::Domain(d),
    };
    let body = json_body(&token_body(domain, user, password, scope));
    let log = json_log(&token_body(domain, user, MASK, log_scope));
    let request = Request::new(reqwest::Method::POST, url)
        .header("Content-Type", "application/json;charset=utf8")
        .body(body, log);
    let response = s.send(request, code_of).await?;
    if response.status != 201 {
        return Ok(TokenAnswer::Refused(response));
    }
    let Some(value) = response.header("x-subject-token").filter(|t| !t.is_empty()) else {
        return Ok(TokenAnswer::Refused(response));
    };
    let mut token = Zeroizing::new(String::with_capacity(value.len()));
    token.push_str(value);
    let user = response
        .json()
        .and_then(|v| v.get("token"))
        .and_then(|t| t.get("user"));
    Ok(TokenAnswer::Issued(Token {
        value: token,
        user_id: user.and_then(|u| text_of(u.get("id"))),
        domain_id: user.and_then(|u| text_of(u.get("domain")?.get("id"))),
        password_expires_at: user
            .and_then(|u| text_of(u.get("password_expires_at")))
            .filter(|s| !s.is_empty()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_paths_start_at_the_api_root_with_or_without_v3() {
        let on = |base: &str| {
            let base = Url::parse(base).expect(base);
            iam_url(&base, &["v3", "auth", "tokens"])
                .expect("joined")
                .to_string()
        };
        for base in [
            "https://iam.example.com",
            "https://iam.example.com/",
            "https://iam.example.com/v3",
            "https://iam.example.com/v3/",
        ] {
            assert_eq!(on(base), "https://iam.example.com/v3/auth/tokens", "{base}");
        }
        assert_eq!(
            on("http://127.0.0.1:8707/gw/iam/v3"),
            "http://127.0.0.1:8707/gw/iam/v3/auth/tokens"
        );
        assert_eq!(
            on("https://iam.example.com/v30"),
            "https://iam.example.com/v30/v3/auth/tokens",
            "only a whole `v3` segment is the suffix"
        );
    }

    #[test]
    fn error_bodies_in_every_shape() {
        for (body, code, msg) in [
            (
                r#"{"error_code":"DCS.4019","error_msg":"weak"}"#,
                "DCS.4019",
                "weak",
            ),
            (
                r#"{"errorCode":"APIGW.0301","errorMsg":"sig"}"#,
                "APIGW.0301",
                "sig",
            ),
            (
                r#"{"code":"1103","message":"Incorrect password"}"#,
                "1103",
                "Incorrect password",
            ),
            (
                r#"{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}"#,
                "401",
                "The request you have made requires authentication.",
            ),
        ] {
            let v: Value = serde_json::from_str(body).expect("json");
            assert_eq!(error_of(&v), Some((code.into(), msg.into())), "{body}");
        }
        assert_eq!(error_of(&serde_json::json!({"result": "success"})), None);
    }

    #[test]
    fn token_body_scopes() {
        let d = json_log(&token_body("acct", "alice", MASK, Scope::Domain("acct")));
        assert_eq!(
            d,
            r#"{"auth":{"identity":{"methods":["password"],"password":{"user":{"domain":{"name":"acct"},"name":"alice","password":"•••"}}},"scope":{"domain":{"name":"acct"}}}}"#
        );
        let p = json_log(&token_body("acct", "ops", MASK, Scope::Project("0123")));
        assert!(p.ends_with(r#""scope":{"project":{"id":"0123"}}}}"#), "{p}");
    }
}
