//! The simulator driven over real sockets with a tiny HTTP client and the crate's own signers.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::world::{Target, real_unix};
use super::*;
use crate::provider::sign::{self, huawei, tc3, tencent_v2};

// ---------------------------------------------------------------------------------------------
// A tiny client.

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends raw bytes and reads until the server closes; `None` when nothing came back.
async fn raw(addr: SocketAddr, bytes: &[u8]) -> Option<Answer> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    // Half-close: a request cut short then reads as EOF on the server.
    let _ = s.shutdown().await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    parse_answer(&out)
}

fn parse_answer(out: &[u8]) -> Option<Answer> {
    let end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&out[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
        .collect();
    let body = out[end + 4..].to_vec();
    let len = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    let len: usize = match len {
        Some((_, len)) => len.parse().ok()?,
        // RFC 9110 §8.6: a 204 has no Content-Length (and no body).
        None if status == 204 => 0,
        None => return None,
    };
    assert_eq!(len, body.len(), "Content-Length matches the body");
    Some(Answer {
        status,
        headers,
        body,
    })
}

fn host(sim: &Simulator) -> String {
    format!("127.0.0.1:{}", sim.local_addr().port())
}

fn request_bytes(
    sim: &Simulator,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", host(sim));
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

async fn send(
    sim: &Simulator,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Answer> {
    raw(
        sim.local_addr(),
        &request_bytes(sim, method, target, headers, body),
    )
    .await
}

async fn start() -> Simulator {
    Simulator::start(([127, 0, 0, 1], 0).into())
        .await
        .expect("simulator starts")
}

fn target(sim: &Simulator, profile: &str) -> Target {
    sim.shared
        .world()
        .profile(profile)
        .expect("demo profile")
        .target
        .clone()
}

fn password(sim: &Simulator, profile: &str) -> Option<String> {
    sim.credentials()
        .into_iter()
        .find(|a| a.profile == profile)
        .expect("profile")
        .password
        .map(|p| p.to_string())
}

// ---------------------------------------------------------------------------------------------
// Tencent helpers.

struct TcCreds {
    id: String,
    key: String,
    token: Option<String>,
}

fn tc_creds(sim: &Simulator, profile: &str) -> TcCreds {
    let Target::Vpn(id) = target(sim, profile) else {
        panic!("not a VPN profile")
    };
    let w = sim.shared.world();
    let k = w.tc_keys.iter().find(|k| k.secret_id == id).expect("key");
    TcCreds {
        id: k.secret_id.clone(),
        key: k.secret_key.to_string(),
        token: k.token.as_ref().map(|t| t.to_string()),
    }
}

async fn v3_send(
    sim: &Simulator,
    c: &TcCreds,
    body: &str,
    timestamp: i64,
    sign_host: Option<&str>,
) -> Value {
    let host = host(sim);
    let auth = tc3::authorization(&tc3::Tc3Input {
        secret_id: &c.id,
        secret_key: &c.key,
        service: "bm",
        host: sign_host.unwrap_or(&host),
        method: "POST",
        query: "",
        content_type: "application/json",
        payload: body.as_bytes(),
        timestamp,
    });
    let ts = timestamp.to_string();
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("X-TC-Action", "SetOutBandVpnAuthPassword"),
        ("X-TC-Version", "2018-04-23"),
        ("X-TC-Region", "ap-guangzhou"),
        ("X-TC-Timestamp", ts.as_str()),
        ("Authorization", auth.as_str()),
    ];
    if let Some(t) = &c.token {
        headers.push(("X-TC-Token", t));
    }
    let a = send(sim, "POST", "/", &headers, body.as_bytes())
        .await
        .expect("answer");
    assert_eq!(a.status, 200, "API 3.0 errors come in HTTP 200");
    let v = a.json();
    let rid = v["Response"]["RequestId"].as_str().expect("RequestId");
    assert_eq!(rid.len(), 36);
    v
}

fn v3_code(v: &Value) -> Option<&str> {
    v["Response"]["Error"]["Code"].as_str()
}

fn nonce() -> String {
    let mut b = [0u8; 4];
    world::fill_random(&mut b);
    (u32::from_le_bytes(b) & 0x7fff_ffff).max(1).to_string()
}

async fn v2_send(
    sim: &Simulator,
    c: &TcCreds,
    algorithm: tencent_v2::V2Algorithm,
    declared: &str,
    params: &[(&str, &str)],
    nonce: &str,
    timestamp: i64,
) -> Value {
    let ts = timestamp.to_string();
    let mut all: Vec<(&str, &str)> = vec![
        ("Nonce", nonce),
        ("Region", "gz"),
        ("SecretId", &c.id),
        ("SignatureMethod", declared),
        ("Timestamp", &ts),
    ];
    all.extend_from_slice(params);
    let sts = tencent_v2::string_to_sign("POST", &host(sim), "/v2/index.php", &all);
    let sig = tencent_v2::sign(&c.key, algorithm, &sts);
    all.push(("Signature", &sig));
    let body = tencent_v2::form_encode(&all);
    let a = send(
        sim,
        "POST",
        "/v2/index.php",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    )
    .await
    .expect("answer");
    assert_eq!(a.status, 200);
    a.json()
}

// ---------------------------------------------------------------------------------------------
// Huawei helpers.

fn dcs_ids(sim: &Simulator, profile: &str) -> (String, String) {
    let Target::Dcs(id, _) = target(sim, profile) else {
        panic!("not a DCS profile")
    };
    let w = sim.shared.world();
    let d = w
        .dcs
        .iter()
        .find(|d| d.instance_id == id)
        .expect("instance");
    (d.project_id.clone(), d.instance_id.clone())
}

fn aksk(sim: &Simulator, otc: bool) -> (String, String) {
    let w = sim.shared.world();
    let p = &w.aksk[usize::from(otc)];
    (p.ak.clone(), p.sk.to_string())
}

fn dcs_body(old: &str, new: &str) -> String {
    json!({"old_password": old, "new_password": new}).to_string()
}

/// A DCS change signed with AK/SK; `sk` may be wrong on purpose.
async fn dcs_aksk(
    sim: &Simulator,
    profile: &str,
    sk: Option<&str>,
    variant: huawei::AkskVariant,
    old: &str,
    new: &str,
) -> Answer {
    let (project, instance) = dcs_ids(sim, profile);
    let (ak, real_sk) = aksk(sim, variant == huawei::AkskVariant::Otc);
    let path = format!("/v2/{project}/instances/{instance}/password");
    let body = dcs_body(old, new);
    let date = sign::sdk_date(real_unix());
    let ct = "application/json;charset=UTF-8";
    let signed = [
        ("Content-Type", ct),
        ("X-Project-Id", project.as_str()),
        ("X-Sdk-Date", date.as_str()),
    ];
    let auth = huawei::authorization(
        &ak,
        sk.unwrap_or(&real_sk),
        &huawei::AkskInput {
            method: "PUT",
            host: &host(sim),
            path: &path,
            query: &[],
            headers: &signed,
            payload: body.as_bytes(),
        },
        variant,
    );
    send(
        sim,
        "PUT",
        &path,
        &[
            ("Content-Type", ct),
            ("X-Project-Id", &project),
            ("X-Sdk-Date", &date),
            ("Authorization", &auth),
        ],
        body.as_bytes(),
    )
    .await
    .expect("answer")
}

fn iam_user_of(sim: &Simulator, profile: &str) -> (String, String) {
    let id = match target(sim, profile) {
        Target::Iam(id) | Target::Dcs(_, Some(id)) => id,
        _ => panic!("no IAM user"),
    };
    let w = sim.shared.world();
    let u = w.iam_users.iter().find(|u| u.id == id).expect("user");
    let d = w
        .domains
        .iter()
        .find(|d| d.id == u.domain_id)
        .expect("domain");
    (d.name.clone(), u.name.clone())
}

async fn iam_token(sim: &Simulator, profile: &str, password: &str, scope: Value) -> Answer {
    let (domain, user) = iam_user_of(sim, profile);
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "domain": {"name": domain}, "name": user, "password": password}}}, "scope": scope}});
    send(
        sim,
        "POST",
        "/v3/auth/tokens?nocatalog=true",
        &[("Content-Type", "application/json;charset=utf8")],
        body.to_string().as_bytes(),
    )
    .await
    .expect("answer")
}

fn domain_scope(sim: &Simulator, profile: &str) -> Value {
    json!({"domain": {"name": iam_user_of(sim, profile).0}})
}

// ---------------------------------------------------------------------------------------------
// CIAM helpers.

async fn ciam_token(sim: &Simulator, pairs: &[(&str, &str)]) -> Answer {
    let body = tencent_v2::form_encode(pairs);
    send(
        sim,
        "POST",
        "/oauth2/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    )
    .await
    .expect("answer")
}

async fn bob_token(sim: &Simulator, password: &str) -> Answer {
    ciam_token(
        sim,
        &[
            ("grant_type", "password"),
            ("client_id", "sim-spa-app"),
            ("auth_source_id", "sim-password-source"),
            ("username", "bob"),
            ("password", password),
            ("scope", "openid"),
        ],
    )
    .await
}

async fn ciam_change(sim: &Simulator, bearer: Option<&str>, old: &str, new: &str) -> Answer {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let body = json!({"old_password": old, "new_password": new}).to_string();
    send(
        sim,
        "POST",
        "/change_user_password",
        &headers,
        body.as_bytes(),
    )
    .await
    .expect("answer")
}

// ---------------------------------------------------------------------------------------------
// Tests.

const PROFILES: [(&str, &str); 12] = [
    ("bm-vpn", "tencent-bm-vpn"),
    ("bm-vpn-new", "tencent-bm-vpn"),
    ("bm-vpn-v2", "tencent-bm-vpn"),
    ("bm-vpn-v2-sha1", "tencent-bm-vpn"),
    ("redis-aksk", "huawei-dcs"),
    ("redis-otc", "huawei-dcs"),
    ("redis-token", "huawei-dcs"),
    ("iam-alice", "huawei-iam"),
    ("iam-admin", "huawei-iam"),
    ("portal", "tencent-ciam"),
    ("portal-web", "tencent-ciam"),
    ("portal-token", "tencent-ciam"),
];

#[tokio::test]
async fn profiles_toml_parses_without_warnings_and_matches_credentials() {
    use crate::config::{AkskVariant, DcsAuth, ProviderConfig, SignatureMethod, TencentApi};
    let sim = start().await;
    let text = sim.profiles_toml();
    let config = crate::config::parse(Path::new("sim-profiles.toml"), &text)
        .unwrap_or_else(|e| panic!("parses: {e:?}\n{text}"));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let names: Vec<(&str, &str)> = config
        .profiles
        .iter()
        .map(|p| (p.name.as_str(), p.kind.as_str()))
        .collect();
    assert_eq!(names, PROFILES);
    let by = |n: &str| {
        &config
            .profiles
            .iter()
            .find(|p| p.name == n)
            .expect(n)
            .provider
    };
    match by("bm-vpn-v2-sha1") {
        ProviderConfig::TencentBmVpn(t) => {
            assert_eq!(t.api, TencentApi::V2);
            assert_eq!(t.signature_method, SignatureMethod::HmacSha1);
        }
        _ => panic!("kind"),
    }
    match by("bm-vpn-v2") {
        ProviderConfig::TencentBmVpn(t) => {
            assert_eq!(
                (t.api, t.signature_method, t.zone_id),
                (
                    TencentApi::V2,
                    SignatureMethod::HmacSha256,
                    Some(1_000_100_003)
                )
            );
        }
        _ => panic!("kind"),
    }
    match by("redis-otc") {
        ProviderConfig::HuaweiDcs(d) => assert!(matches!(
            d.auth,
            DcsAuth::Aksk {
                variant: AkskVariant::Otc,
                ..
            }
        )),
        _ => panic!("kind"),
    }
    match by("redis-token") {
        ProviderConfig::HuaweiDcs(d) => assert!(matches!(d.auth, DcsAuth::Token { .. })),
        _ => panic!("kind"),
    }
    let base = sim.base_url();
    assert!(base.starts_with("http://127.0.0.1:"));
    for p in &config.profiles {
        if !matches!(p.provider, ProviderConfig::HuaweiIam(_)) {
            assert_eq!(
                p.endpoint.as_ref().map(crate::config::shown_endpoint),
                Some(base.as_str()),
                "{}",
                p.name
            );
        }
    }
    let creds = sim.credentials();
    let names: Vec<&str> = creds.iter().map(|c| c.profile.as_str()).collect();
    assert_eq!(names, PROFILES.map(|(n, _)| n));
    for c in &creds {
        let expected_missing = matches!(c.profile.as_str(), "bm-vpn-new" | "bm-vpn-v2");
        assert_eq!(c.password.is_none(), expected_missing, "{}", c.profile);
        if let Some(pw) = &c.password {
            assert!(!format!("{c:?}").contains(pw.as_str()), "Debug redacts");
        }
    }
    // Every demo password passes the policies that apply to it.
    for c in &creds {
        let Some(pw) = &c.password else { continue };
        match c.kind {
            "tencent-bm-vpn" => world::tencent_policy(pw).expect("tencent"),
            "huawei-dcs" => world::dcs_policy(pw).expect("dcs"),
            "tencent-ciam" => world::ciam_policy(pw).expect("ciam"),
            _ => {}
        }
    }
    let text = demo::credentials_text(&creds);
    assert!(text.contains("Redis#Demo2024") && text.contains("(no account yet)"));
}

#[tokio::test]
async fn garbage_and_protocol_errors_never_stop_the_server() {
    let sim = start().await;
    let addr = sim.local_addr();
    let mut noise = vec![0u8; 5000];
    world::fill_random(&mut noise);
    noise.extend_from_slice(b"\r\n\r\n");
    let a = raw(addr, &noise).await.expect("an answer");
    assert_eq!(a.status, 400);
    let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 70 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    assert_eq!(raw(addr, &big).await.expect("answer").status, 431);
    let chunked = b"POST /oauth2/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(raw(addr, chunked).await.expect("answer").status, 411);
    let huge = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n";
    assert_eq!(raw(addr, huge).await.expect("answer").status, 413);
    // Connect-and-close, and a request cut short: no answer, no harm.
    drop(TcpStream::connect(addr).await.expect("connect"));
    assert!(
        raw(
            addr,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"
        )
        .await
        .is_none()
    );
    // Unknown path, wrong JSON, wrong types: provider-shaped errors, not panics.
    let a = send(&sim, "GET", "/nothing/here", &[], b"")
        .await
        .expect("answer");
    assert_eq!(a.status, 404);
    for (method, path) in [
        ("POST", "/"),
        ("POST", "/v2/index.php"),
        ("PUT", "/v2/p/instances/i/password"),
        ("POST", "/v3/auth/tokens"),
        ("GET", "/v3.0/OS-SECURITYPOLICY/domains/d/password-policy"),
        ("POST", "/v3/users/u/password"),
        ("POST", "/oauth2/token"),
        ("POST", "/change_user_password"),
    ] {
        for body in [&b"\xff\xfe{"[..], b"[1,2]", b"{\"auth\":7}", b"a=%zz&&=&b"] {
            let a = send(&sim, method, path, &[("Authorization", "\u{0}x")], body).await;
            // A control character in a header is refused before routing: 400.
            assert_eq!(a.expect("answer").status, 400);
            let a = send(&sim, method, path, &[("X-Auth-Token", "nope")], body)
                .await
                .expect("answer");
            assert!(
                (200..500).contains(&a.status),
                "{method} {path}: {}",
                a.status
            );
        }
    }
    // Still serving.
    let a = bob_token(&sim, "Portal#Demo2024").await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn tencent_v3_verifies_tc3_and_applies_the_account_rules() {
    let sim = start().await;
    let now = real_unix();
    let c = tc_creds(&sim, "bm-vpn");
    let update = |p: &str| json!({"Password": p, "Operate": "Update"}).to_string();

    let v = v3_send(&sim, &c, &update("New#Vpn2025"), now, None).await;
    assert_eq!(v3_code(&v), None, "{v}");
    assert_eq!(password(&sim, "bm-vpn").as_deref(), Some("New#Vpn2025"));

    let wrong_key = TcCreds {
        key: "not-the-key".into(),
        ..tc_creds(&sim, "bm-vpn")
    };
    let v = v3_send(&sim, &wrong_key, &update("Other#Vpn2025"), now, None).await;
    assert_eq!(v3_code(&v), Some("AuthFailure.SignatureFailure"));
    let unknown = TcCreds {
        id: "AKIDunknown".into(),
        ..tc_creds(&sim, "bm-vpn")
    };
    let v = v3_send(&sim, &unknown, &update("Other#Vpn2025"), now, None).await;
    assert_eq!(v3_code(&v), Some("AuthFailure.SecretIdNotFound"));
    let v = v3_send(&sim, &c, &update("Other#Vpn2025"), now - 301, None).await;
    assert_eq!(v3_code(&v), Some("AuthFailure.SignatureExpire"));
    let v = v3_send(&sim, &c, &update("Other#Vpn2025"), now + 400, None).await;
    assert_eq!(v3_code(&v), Some("AuthFailure.SignatureExpire"));
    // Signed for another host (the port matters).
    let v = v3_send(&sim, &c, &update("Other#Vpn2025"), now, Some("127.0.0.1")).await;
    assert_eq!(v3_code(&v), Some("AuthFailure.SignatureFailure"));
    assert_eq!(password(&sim, "bm-vpn").as_deref(), Some("New#Vpn2025"));

    // The body is signed: tampering is refused.
    let auth = tc3::authorization(&tc3::Tc3Input {
        secret_id: &c.id,
        secret_key: &c.key,
        service: "bm",
        host: &host(&sim),
        method: "POST",
        query: "",
        content_type: "application/json",
        payload: update("Signed#1234").as_bytes(),
        timestamp: now,
    });
    let ts = now.to_string();
    let a = send(
        &sim,
        "POST",
        "/",
        &[
            ("Content-Type", "application/json"),
            ("X-TC-Action", "SetOutBandVpnAuthPassword"),
            ("X-TC-Version", "2018-04-23"),
            ("X-TC-Region", "ap-guangzhou"),
            ("X-TC-Timestamp", &ts),
            ("Authorization", &auth),
        ],
        update("Tampered#123").as_bytes(),
    )
    .await
    .expect("answer");
    assert_eq!(v3_code(&a.json()), Some("AuthFailure.SignatureFailure"));

    // Create on an existing account, bad Operate, weak passwords.
    let create = |p: &str| json!({"Password": p, "Operate": "Create"}).to_string();
    let v = v3_send(&sim, &c, &create("Fresh#Vpn2025"), now, None).await;
    assert_eq!(v3_code(&v), Some("FailedOperation"));
    assert!(
        v["Response"]["Error"]["Message"]
            .as_str()
            .is_some_and(|m| m.contains("already exists"))
    );
    let v = v3_send(
        &sim,
        &c,
        &json!({"Password": "Fresh#Vpn2025", "Operate": "Upsert"}).to_string(),
        now,
        None,
    )
    .await;
    assert_eq!(v3_code(&v), Some("InvalidParameterValue"));
    for weak in [
        "short#1",
        "onlyletters",
        "Has@AtSign1",
        "Way#Too#Long#12345",
    ] {
        let v = v3_send(&sim, &c, &update(weak), now, None).await;
        assert_eq!(v3_code(&v), Some("InvalidParameterValue"), "{weak}");
    }
    assert_eq!(password(&sim, "bm-vpn").as_deref(), Some("New#Vpn2025"));
}

#[tokio::test]
async fn tencent_v3_missing_account_and_session_token() {
    let sim = start().await;
    let now = real_unix();
    let c = tc_creds(&sim, "bm-vpn-new");
    assert!(c.token.is_some(), "bm-vpn-new uses a temporary key");
    let without_token = TcCreds {
        token: None,
        ..tc_creds(&sim, "bm-vpn-new")
    };
    let body = |op: &str| json!({"Password": "First#Vpn2025", "Operate": op}).to_string();
    let v = v3_send(&sim, &without_token, &body("Update"), now, None).await;
    assert_eq!(v3_code(&v), Some("AuthFailure.TokenFailure"));
    let wrong_token = TcCreds {
        token: Some("wrong".into()),
        ..tc_creds(&sim, "bm-vpn-new")
    };
    let v = v3_send(&sim, &wrong_token, &body("Update"), now, None).await;
    assert_eq!(v3_code(&v), Some("AuthFailure.TokenFailure"));
    // A permanent key must not send a token.
    let stray = TcCreds {
        token: Some("stray".into()),
        ..tc_creds(&sim, "bm-vpn")
    };
    let v = v3_send(&sim, &stray, &body("Update"), now, None).await;
    assert_eq!(v3_code(&v), Some("AuthFailure.TokenFailure"));

    let v = v3_send(&sim, &c, &body("Update"), now, None).await;
    assert_eq!(v3_code(&v), Some("ResourceNotFound"));
    assert!(
        v["Response"]["Error"]["Message"]
            .as_str()
            .is_some_and(|m| m.contains("does not exist"))
    );
    assert_eq!(password(&sim, "bm-vpn-new"), None);
    let v = v3_send(&sim, &c, &body("Create"), now, None).await;
    assert_eq!(v3_code(&v), None, "{v}");
    assert_eq!(
        password(&sim, "bm-vpn-new").as_deref(),
        Some("First#Vpn2025")
    );
}

#[tokio::test]
async fn tencent_v2_signatures_nonces_be_first_and_string_codes() {
    use tencent_v2::V2Algorithm::{HmacSha1, HmacSha256};
    let sim = start().await;
    let now = real_unix();
    let c = tc_creds(&sim, "bm-vpn-v2");
    let info = [
        ("Action", "GetOutBandVPNAuthInfo"),
        ("zoneId", "1000100003"),
    ];

    let v = v2_send(&sim, &c, HmacSha256, "HmacSHA256", &info, &nonce(), now).await;
    assert_eq!(v["code"], json!(0), "{v}");
    assert_eq!(v["data"]["authInfo"]["be_first"], json!(true));
    assert!(
        v["data"]["authInfo"]["vpnGwAddr"]
            .as_str()
            .is_some_and(|a| a.ends_with(":443"))
    );

    // Update before the account exists; then create; then be_first is false.
    let set = |op| {
        [
            ("Action", "SetOutBandVPNAuthPwd"),
            ("createOrUpdate", op),
            ("password", "Abc#123(x)"),
        ]
    };
    let v = v2_send(
        &sim,
        &c,
        HmacSha256,
        "HmacSHA256",
        &set("update"),
        &nonce(),
        now,
    )
    .await;
    assert_eq!(v["code"], json!(10105));
    let v = v2_send(
        &sim,
        &c,
        HmacSha256,
        "HmacSHA256",
        &set("create"),
        &nonce(),
        now,
    )
    .await;
    assert_eq!(v["code"], json!(0), "{v}");
    assert_eq!(password(&sim, "bm-vpn-v2").as_deref(), Some("Abc#123(x)"));
    let v = v2_send(&sim, &c, HmacSha256, "HmacSHA256", &info, &nonce(), now).await;
    assert_eq!(v["data"]["authInfo"]["be_first"], json!(false));
    let v = v2_send(
        &sim,
        &c,
        HmacSha256,
        "HmacSHA256",
        &set("create"),
        &nonce(),
        now,
    )
    .await;
    assert_eq!(v["code"], json!(10004));

    // Replay, expiry, wrong algorithm, wrong key, unknown SecretId.
    let n = nonce();
    let v = v2_send(&sim, &c, HmacSha256, "HmacSHA256", &info, &n, now).await;
    assert_eq!(v["code"], json!(0));
    let v = v2_send(&sim, &c, HmacSha256, "HmacSHA256", &info, &n, now).await;
    assert_eq!(v["code"], json!(4500));
    let v = v2_send(
        &sim,
        &c,
        HmacSha256,
        "HmacSHA256",
        &info,
        &nonce(),
        now - 600,
    )
    .await;
    assert_eq!(v["code"], json!(4200));
    // Anything but exactly "HmacSHA256" means SHA-1.
    let v = v2_send(&sim, &c, HmacSha256, "hmacsha256", &info, &nonce(), now).await;
    assert_eq!(v["code"], json!(4100));
    let v = v2_send(&sim, &c, HmacSha1, "hmacsha256", &info, &nonce(), now).await;
    assert_eq!(v["code"], json!(0), "{v}");
    let bad = TcCreds {
        key: "wrong".into(),
        ..tc_creds(&sim, "bm-vpn-v2")
    };
    let v = v2_send(&sim, &bad, HmacSha256, "HmacSHA256", &info, &nonce(), now).await;
    assert_eq!(v["code"], json!(4100));
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("signature"))
    );
    let unknown = TcCreds {
        id: "AKIDnobody".into(),
        ..tc_creds(&sim, "bm-vpn-v2")
    };
    let v = v2_send(
        &sim,
        &unknown,
        HmacSha256,
        "HmacSHA256",
        &info,
        &nonce(),
        now,
    )
    .await;
    assert_eq!(v["code"], json!(4100));

    // The SHA-1 account answers codes and be_first as strings.
    let s = tc_creds(&sim, "bm-vpn-v2-sha1");
    let app = [("Action", "GetOutBandVPNAuthInfo"), ("appId", "1251000004")];
    let v = v2_send(&sim, &s, HmacSha1, "HmacSHA1", &app, &nonce(), now).await;
    assert_eq!(v["code"], json!("0"), "{v}");
    assert_eq!(v["data"]["authInfo"]["be_first"], json!("false"));
    let weak = [
        ("Action", "SetOutBandVPNAuthPwd"),
        ("createOrUpdate", "update"),
        ("password", "weakpass"),
    ];
    let v = v2_send(&sim, &s, HmacSha1, "HmacSHA1", &weak, &nonce(), now).await;
    assert_eq!(v["code"], json!("4000"));
    let bad = TcCreds {
        key: "wrong".into(),
        ..tc_creds(&sim, "bm-vpn-v2-sha1")
    };
    let v = v2_send(&sim, &bad, HmacSha1, "HmacSHA1", &app, &nonce(), now).await;
    assert_eq!(v["code"], json!("4100"));
    let good = [
        ("Action", "SetOutBandVPNAuthPwd"),
        ("appId", "1251000004"),
        ("createOrUpdate", "update"),
        ("password", "Legacy#2025"),
    ];
    let v = v2_send(&sim, &s, HmacSha1, "HmacSHA1", &good, &nonce(), now).await;
    assert_eq!(v["code"], json!("0"));
    assert_eq!(
        password(&sim, "bm-vpn-v2-sha1").as_deref(),
        Some("Legacy#2025")
    );
}

#[tokio::test]
async fn dcs_aksk_signatures_in_both_forms() {
    use huawei::AkskVariant::{Huawei, Otc};
    let sim = start().await;
    let a = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Redis#Demo2024",
        "Redis#New2025",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["result"], "success");
    assert_eq!(a.json()["retry_times_left"], "5");
    assert!(a.header("X-Request-Id").is_some_and(|r| r.len() == 32));
    assert_eq!(
        password(&sim, "redis-aksk").as_deref(),
        Some("Redis#New2025")
    );

    let a = dcs_aksk(
        &sim,
        "redis-aksk",
        Some("bad-sk"),
        Huawei,
        "Redis#New2025",
        "X#y1zzzzz",
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.json(),
        json!({"error_code": "APIGW.0301",
               "error_msg": "Incorrect IAM authentication information: verify aksk signature fail"})
    );
    let a = dcs_aksk(
        &sim,
        "redis-otc",
        None,
        Otc,
        "Redis#Otc2024",
        "Redis#Otc2025",
    )
    .await;
    assert_eq!(a.json()["result"], "success", "{}", a.text());
    let a = dcs_aksk(
        &sim,
        "redis-otc",
        Some("bad"),
        Otc,
        "Redis#Otc2025",
        "Redis#Otc2026",
    )
    .await;
    assert_eq!(a.json()["error_code"], "APIGW.0301");
    // The OTC key signing in the Huawei form is still a valid signature by that key.
    let a = dcs_aksk(
        &sim,
        "redis-otc",
        None,
        Huawei,
        "Redis#Otc2025",
        "Redis#Otc2026",
    )
    .await;
    assert_eq!(a.json()["result"], "success", "{}", a.text());

    // x-sdk-date must be signed and fresh; weak passwords; unknown instance; no auth.
    let (project, instance) = dcs_ids(&sim, "redis-aksk");
    let (ak, sk) = aksk(&sim, false);
    let path = format!("/v2/{project}/instances/{instance}/password");
    let body = dcs_body("Redis#New2025", "Redis#New2026");
    for (date, sign_date) in [
        (sign::sdk_date(real_unix() - 16 * 60), true),
        (sign::sdk_date(real_unix()), false),
    ] {
        let mut signed = vec![("Content-Type", "application/json")];
        if sign_date {
            signed.push(("X-Sdk-Date", date.as_str()));
        }
        let auth = huawei::authorization(
            &ak,
            &sk,
            &huawei::AkskInput {
                method: "PUT",
                host: &host(&sim),
                path: &path,
                query: &[],
                headers: &signed,
                payload: body.as_bytes(),
            },
            Huawei,
        );
        let a = send(
            &sim,
            "PUT",
            &path,
            &[
                ("Content-Type", "application/json"),
                ("X-Sdk-Date", &date),
                ("Authorization", &auth),
            ],
            body.as_bytes(),
        )
        .await
        .expect("answer");
        assert_eq!(a.status, 401);
        assert_eq!(a.json()["error_code"], "APIGW.0301");
    }
    let a = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Redis#New2025",
        "alllowercase1",
    )
    .await;
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (400, json!("DCS.4019"))
    );
    let a = send(&sim, "PUT", &path, &[], body.as_bytes())
        .await
        .expect("answer");
    assert_eq!(a.status, 401);
    let other = format!("/v2/{project}/instances/00000000-0000-0000-0000-000000000000/password");
    let a = send(&sim, "PUT", &other, &[("X-Auth-Token", "nope")], b"")
        .await
        .expect("answer");
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (401, json!("DCS.1001"))
    );
    let date = sign::sdk_date(real_unix());
    let signed = [("X-Sdk-Date", date.as_str())];
    let auth = huawei::authorization(
        &ak,
        &sk,
        &huawei::AkskInput {
            method: "PUT",
            host: &host(&sim),
            path: &other,
            query: &[],
            headers: &signed,
            payload: body.as_bytes(),
        },
        Huawei,
    );
    let a = send(
        &sim,
        "PUT",
        &other,
        &[("X-Sdk-Date", &date), ("Authorization", &auth)],
        body.as_bytes(),
    )
    .await
    .expect("answer");
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (404, json!("DCS.3022"))
    );
}

#[tokio::test]
async fn dcs_lockout_counts_down_locks_and_unlocks_with_the_clock() {
    use huawei::AkskVariant::Huawei;
    let sim = start().await;
    for left in ["4", "3", "2", "1"] {
        let a = dcs_aksk(
            &sim,
            "redis-aksk",
            None,
            Huawei,
            "Wrong#Pass1",
            "Redis#New2025",
        )
        .await;
        let v = a.json();
        assert_eq!(a.status, 200);
        assert_eq!(v["result"], "passwordFailed");
        assert_eq!(v["retry_times_left"], left);
        assert_eq!(
            (v["lock_time"].clone(), v["lock_time_left"].clone()),
            (Value::Null, Value::Null)
        );
    }
    let v = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Wrong#Pass1",
        "Redis#New2025",
    )
    .await
    .json();
    assert_eq!(
        (
            v["result"].clone(),
            v["lock_time"].clone(),
            v["lock_time_left"].clone(),
            v["retry_times_left"].clone()
        ),
        (json!("locked"), json!("5"), json!("5"), json!("0"))
    );
    // The right password is refused while locked.
    let v = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Redis#Demo2024",
        "Redis#New2025",
    )
    .await
    .json();
    assert_eq!(v["result"], "locked");
    sim.advance_clock(Duration::from_secs(90));
    let v = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Redis#Demo2024",
        "Redis#New2025",
    )
    .await
    .json();
    assert_eq!(
        (v["result"].clone(), v["lock_time_left"].clone()),
        (json!("locked"), json!("4"))
    );
    sim.advance_clock(Duration::from_secs(210));
    // The lock is over and the counter starts again.
    let v = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Wrong#Pass1",
        "Redis#New2025",
    )
    .await
    .json();
    assert_eq!(
        (v["result"].clone(), v["retry_times_left"].clone()),
        (json!("passwordFailed"), json!("4"))
    );
    let v = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Redis#Demo2024",
        "Redis#New2025",
    )
    .await
    .json();
    assert_eq!(v["result"], "success");
    // Another instance was never affected.
    let v = dcs_aksk(
        &sim,
        "redis-otc",
        None,
        huawei::AkskVariant::Otc,
        "Redis#Otc2024",
        "Redis#Otc2025",
    )
    .await
    .json();
    assert_eq!(v["result"], "success");
}

#[tokio::test]
async fn dcs_with_project_scoped_iam_tokens() {
    let sim = start().await;
    let (project, instance) = dcs_ids(&sim, "redis-token");
    let path = format!("/v2/{project}/instances/{instance}/password");
    let body = dcs_body("Redis#Token2024", "Redis#Token2025");
    let ops = password(&sim, "redis-token").expect("instance password");
    assert_eq!(ops, "Redis#Token2024");

    let project_token = iam_token(
        &sim,
        "redis-token",
        "Token#Demo2024",
        json!({"project": {"id": project}}),
    )
    .await;
    assert_eq!(project_token.status, 201, "{}", project_token.text());
    let pt = project_token
        .header("X-Subject-Token")
        .expect("token")
        .to_owned();
    assert_eq!(
        project_token.json()["token"]["project"]["id"],
        json!(project)
    );
    assert!(
        project_token.json()["token"].get("catalog").is_none(),
        "nocatalog"
    );
    let domain_token = iam_token(
        &sim,
        "redis-token",
        "Token#Demo2024",
        domain_scope(&sim, "redis-token"),
    )
    .await;
    let dt = domain_token
        .header("X-Subject-Token")
        .expect("token")
        .to_owned();

    let a = send(
        &sim,
        "PUT",
        &path,
        &[("X-Auth-Token", &dt)],
        body.as_bytes(),
    )
    .await
    .expect("a");
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (401, json!("DCS.1004"))
    );
    let a = send(
        &sim,
        "PUT",
        &path,
        &[("X-Auth-Token", "garbage")],
        body.as_bytes(),
    )
    .await
    .expect("a");
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (401, json!("DCS.1001"))
    );
    let a = send(
        &sim,
        "PUT",
        &path,
        &[("X-Auth-Token", &pt)],
        body.as_bytes(),
    )
    .await
    .expect("a");
    assert_eq!(a.json()["result"], "success", "{}", a.text());
    assert_eq!(
        password(&sim, "redis-token").as_deref(),
        Some("Redis#Token2025")
    );
    // A day later the token has expired.
    sim.advance_clock(Duration::from_secs(25 * 3600));
    let a = send(
        &sim,
        "PUT",
        &path,
        &[("X-Auth-Token", &pt)],
        body.as_bytes(),
    )
    .await
    .expect("a");
    assert_eq!(a.status, 401);
    assert!(matches!(
        a.json()["error_code"].as_str(),
        Some("DCS.1001" | "DCS.1002")
    ));
}

#[tokio::test]
async fn iam_tokens_policy_change_history_and_revocation() {
    let sim = start().await;
    let scope = domain_scope(&sim, "iam-alice");
    let a = iam_token(&sim, "iam-alice", "Cloud#Demo2024", scope.clone()).await;
    assert_eq!(a.status, 201, "{}", a.text());
    let token = a.header("X-Subject-Token").expect("token").to_owned();
    let v = a.json();
    let user_id = v["token"]["user"]["id"]
        .as_str()
        .expect("user id")
        .to_owned();
    let domain_id = v["token"]["user"]["domain"]["id"]
        .as_str()
        .expect("domain")
        .to_owned();
    assert_eq!(v["token"]["domain"]["id"], json!(domain_id));
    assert!(
        v["token"]["user"]["password_expires_at"]
            .as_str()
            .is_some_and(|s| !s.ends_with('Z'))
    );
    assert!(
        v["token"]["expires_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );

    // Ordinary users cannot read the policy; the security admin can.
    let policy_path = format!("/v3.0/OS-SECURITYPOLICY/domains/{domain_id}/password-policy");
    let a = send(&sim, "GET", &policy_path, &[("X-Auth-Token", &token)], b"")
        .await
        .expect("a");
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (403, json!("IAM.0002"))
    );
    let admin = iam_token(
        &sim,
        "iam-admin",
        "Secure#Demo2024",
        domain_scope(&sim, "iam-admin"),
    )
    .await;
    assert_eq!(
        admin.json()["token"]["user"]["password_expires_at"],
        Value::Null
    );
    let admin_domain = admin.json()["token"]["user"]["domain"]["id"]
        .as_str()
        .expect("d")
        .to_owned();
    let admin_token = admin.header("X-Subject-Token").expect("token").to_owned();
    let admin_path = format!("/v3.0/OS-SECURITYPOLICY/domains/{admin_domain}/password-policy");
    let a = send(
        &sim,
        "GET",
        &admin_path,
        &[("X-Auth-Token", &admin_token)],
        b"",
    )
    .await
    .expect("a");
    assert_eq!(a.status, 200);
    let p = &a.json()["password_policy"];
    assert_eq!(p["minimum_password_length"], 12);
    assert_eq!(p["password_char_combination"], 3);
    assert_eq!(p["maximum_consecutive_identical_chars"], 2);
    assert_eq!(p["password_not_username_or_invert"], true);
    let parsed: crate::policy::AccountPolicy =
        serde_json::from_value(p.clone()).expect("the client's model reads it");
    assert_eq!(parsed.minimum_password_length, Some(12));
    let a = send(
        &sim,
        "GET",
        &policy_path,
        &[("X-Auth-Token", &admin_token)],
        b"",
    )
    .await
    .expect("a");
    assert_eq!(a.status, 403, "another account's policy");
    let a = send(&sim, "GET", &admin_path, &[], b"").await.expect("a");
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (401, json!("IAM.0001"))
    );

    let change_path = format!("/v3/users/{user_id}/password");
    let change = |old: &str, new: &str| {
        json!({"user": {"password": new, "original_password": old}}).to_string()
    };
    let post = |token: String, body: String| {
        let sim = &sim;
        let path = change_path.clone();
        async move {
            send(
                sim,
                "POST",
                &path,
                &[
                    ("Content-Type", "application/json;charset=utf8"),
                    ("X-Auth-Token", &token),
                ],
                body.as_bytes(),
            )
            .await
            .expect("answer")
        }
    };
    let a = post(token.clone(), change("Wrong#Pass1", "Next#Pass2025")).await;
    assert_eq!(
        (a.status, a.json()),
        (
            400,
            json!({"error_msg": "Incorrect password.", "error_code": "1103"})
        )
    );
    for weak in ["abcdefgh", "alice", "ecila", "Short#1"] {
        let a = post(token.clone(), change("Cloud#Demo2024", weak)).await;
        assert_eq!(
            (a.status, a.json()["error_code"].clone()),
            (400, json!("1118")),
            "{weak}"
        );
    }
    let a = post(token.clone(), change("Cloud#Demo2024", "Cloud#Demo2024")).await;
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (400, json!("1108"))
    );
    // A project-scoped token or another user's token may not change it.
    let (project_id, _) = dcs_ids(&sim, "redis-aksk");
    let pt = iam_token(
        &sim,
        "iam-alice",
        "Cloud#Demo2024",
        json!({"project": {"id": project_id}}),
    )
    .await;
    let pt = pt.header("X-Subject-Token").expect("token").to_owned();
    let a = post(pt, change("Cloud#Demo2024", "Next#Pass2025")).await;
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (403, json!("IAM.0002"))
    );
    let a = post(
        admin_token.clone(),
        change("Cloud#Demo2024", "Next#Pass2025"),
    )
    .await;
    assert_eq!(a.status, 403);

    let a = post(token.clone(), change("Cloud#Demo2024", "Next#Pass2025")).await;
    assert_eq!(a.status, 204, "{}", a.text());
    assert!(a.body.is_empty());
    assert_eq!(
        password(&sim, "iam-alice").as_deref(),
        Some("Next#Pass2025")
    );
    // The user's tokens are revoked; the old password no longer works.
    let a = post(token.clone(), change("Next#Pass2025", "Third#Pass2025")).await;
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (401, json!("IAM.0067"))
    );
    let a = iam_token(&sim, "iam-alice", "Cloud#Demo2024", scope.clone()).await;
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (401, json!("IAM.0062"))
    );

    // History: the last 3 passwords are refused, the 4th back is allowed again.
    let mut current = "Next#Pass2025".to_owned();
    for next in ["Third#Pass2025", "Fourth#Pass2025", "Fifth#Pass2025"] {
        let t = iam_token(&sim, "iam-alice", &current, scope.clone()).await;
        let t = t.header("X-Subject-Token").expect("token").to_owned();
        let a = post(t.clone(), change(&current, "Next#Pass2025")).await;
        if current != "Next#Pass2025" {
            assert_eq!(a.json()["error_code"], "1108", "recent password refused");
        }
        let a = post(t, change(&current, next)).await;
        assert_eq!(a.status, 204);
        current = next.to_owned();
    }
    let t = iam_token(&sim, "iam-alice", &current, scope.clone()).await;
    let t = t.header("X-Subject-Token").expect("token").to_owned();
    let a = post(t.clone(), change(&current, "Third#Pass2025")).await;
    assert_eq!(a.json()["error_code"], "1108");
    let a = post(t, change(&current, "Cloud#Demo2024")).await;
    assert_eq!(
        a.status,
        204,
        "4 changes ago is allowed again: {}",
        a.text()
    );

    // The admin's account policy applies on the server: 11 characters is weak there.
    let admin_id = admin.json()["token"]["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let a = send(
        &sim,
        "POST",
        &format!("/v3/users/{admin_id}/password"),
        &[("X-Auth-Token", &admin_token)],
        change("Secure#Demo2024", "Short#Pw123").as_bytes(),
    )
    .await
    .expect("a");
    assert_eq!(a.json()["error_code"], "1118");
}

#[tokio::test]
async fn iam_lockout_and_user_status() {
    let sim = start().await;
    let scope = domain_scope(&sim, "iam-alice");
    for _ in 0..4 {
        let a = iam_token(&sim, "iam-alice", "Wrong#Pass1", scope.clone()).await;
        assert_eq!(
            (a.status, a.json()),
            (
                401,
                json!({"error_msg": "The username or password is wrong.", "error_code": "IAM.0062"})
            )
        );
    }
    let a = iam_token(&sim, "iam-alice", "Wrong#Pass1", scope.clone()).await;
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (401, json!("IAM.0061"))
    );
    let a = iam_token(&sim, "iam-alice", "Cloud#Demo2024", scope.clone()).await;
    assert_eq!(
        a.json()["error_code"],
        "IAM.0061",
        "locked even with the right password"
    );
    sim.advance_clock(Duration::from_secs(300));
    let a = iam_token(&sim, "iam-alice", "Cloud#Demo2024", scope.clone()).await;
    assert_eq!(a.status, 201);

    sim.set_user_status("iam-alice", UserStatus::Frozen);
    let a = iam_token(&sim, "iam-alice", "Cloud#Demo2024", scope.clone()).await;
    assert_eq!(a.json()["error_code"], "IAM.0061");
    sim.set_user_status("iam-alice", UserStatus::Active);
    let a = iam_token(&sim, "iam-alice", "Cloud#Demo2024", scope.clone()).await;
    assert_eq!(a.status, 201);
    // The clock cannot overflow, however far it is moved.
    sim.advance_clock(Duration::MAX);
    sim.advance_clock(Duration::MAX);
    let a = iam_token(&sim, "iam-alice", "Cloud#Demo2024", scope.clone()).await;
    assert_eq!(a.status, 201);
    // Unknown users and domains look like a wrong password.
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "domain": {"name": "no-such-account"}, "name": "alice", "password": "Cloud#Demo2024"}}},
        "scope": {"domain": {"name": "no-such-account"}}}});
    let a = send(
        &sim,
        "POST",
        "/v3/auth/tokens",
        &[],
        body.to_string().as_bytes(),
    )
    .await
    .expect("a");
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (401, json!("IAM.0062"))
    );
}

#[tokio::test]
async fn ciam_grant_change_history_and_bearer_errors() {
    let sim = start().await;
    let a = bob_token(&sim, "Portal#Demo2024").await;
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(
        (
            v["token_type"].clone(),
            v["expires_in"].clone(),
            v["scope"].clone()
        ),
        (json!("Bearer"), json!(299), json!("openid"))
    );
    let token = v["access_token"].as_str().expect("token").to_owned();
    assert!(v["refresh_token"].is_string() && v["id_token"].is_string());

    let a = bob_token(&sim, "Wrong#Pass1").await;
    assert_eq!(
        (a.status, a.json()),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "Wrong username or password"})
        )
    );
    let base = [
        ("grant_type", "password"),
        ("username", "carol"),
        ("password", "Web#Portal2024"),
        ("auth_source_id", "sim-password-source"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let a = ciam_token(&sim, &with(&[("client_id", "sim-web-app")])).await;
    assert_eq!(
        (a.status, a.json()["error"].clone()),
        (401, json!("invalid_client"))
    );
    let a = ciam_token(
        &sim,
        &with(&[("client_id", "sim-web-app"), ("client_secret", "wrong")]),
    )
    .await;
    assert_eq!(
        (a.status, a.json()["error"].clone()),
        (401, json!("invalid_client"))
    );
    let a = ciam_token(&sim, &with(&[("client_id", "nobody")])).await;
    assert_eq!(
        (a.status, a.json()["error"].clone()),
        (401, json!("invalid_client"))
    );
    let secret = sim.shared.world().ciam_clients[1]
        .secret
        .as_ref()
        .expect("secret")
        .to_string();
    let mut good = with(&[("client_id", "sim-web-app")]);
    good.push(("client_secret", &secret));
    assert_eq!(ciam_token(&sim, &good).await.status, 200);
    let a = ciam_token(
        &sim,
        &[
            ("grant_type", "password"),
            ("client_id", "sim-spa-app"),
            ("auth_source_id", "other"),
            ("username", "bob"),
            ("password", "Portal#Demo2024"),
        ],
    )
    .await;
    assert_eq!(
        (
            a.status,
            a.json()["error"].clone(),
            a.json()["error_description"].clone()
        ),
        (
            400,
            json!("invalid_auth_source"),
            json!("Auth source and application not associated")
        )
    );

    // Bearer errors come in WWW-Authenticate.
    let a = ciam_change(&sim, None, "Portal#Demo2024", "Portal#Next2025").await;
    assert_eq!(a.status, 400);
    assert!(
        a.header("WWW-Authenticate")
            .is_some_and(|h| h.contains("error=\"invalid_request\"")
                && h.contains("Bearer token not found in the request"))
    );
    let a = ciam_change(&sim, Some("forged"), "Portal#Demo2024", "Portal#Next2025").await;
    assert_eq!(a.status, 401);
    assert!(
        a.header("WWW-Authenticate").is_some_and(
            |h| h.contains("error=\"invalid_token\"") && h.contains("Error decoding JWT")
        )
    );

    let err = |a: &Answer| {
        (
            a.status,
            a.json()["error"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let a = ciam_change(&sim, Some(&token), "Wrong#Pass1", "Portal#Next2025").await;
    assert_eq!(err(&a), (400, "wrong_old_password".into()));
    let a = ciam_change(&sim, Some(&token), "Portal#Demo2024", "Portal#Demo2024").await;
    assert_eq!(err(&a), (400, "duplicate_password".into()));
    let a = ciam_change(&sim, Some(&token), "Portal#Demo2024", "portal2025x").await;
    assert_eq!(err(&a), (400, "invalid_new_password".into()));
    let a = ciam_change(&sim, Some(&token), "Portal#Demo2024", "Portal#Next2025").await;
    assert_eq!(a.status, 200);
    assert!(a.body.is_empty());
    let a = ciam_change(&sim, Some(&token), "Portal#Next2025", "Portal#Demo2024").await;
    assert_eq!(err(&a), (400, "recurrent_password".into()));
    assert_eq!(bob_token(&sim, "Portal#Demo2024").await.status, 400);
    assert_eq!(bob_token(&sim, "Portal#Next2025").await.status, 200);

    // Status.
    sim.set_user_status("portal", UserStatus::Frozen);
    let a = ciam_change(&sim, Some(&token), "Portal#Next2025", "Portal#Third2025").await;
    assert_eq!(
        (err(&a), a.json()["error_description"].clone()),
        (
            (400, "abnormal_user_status".into()),
            json!("User is frozen.")
        )
    );
    sim.set_user_status("portal", UserStatus::Locked);
    let a = ciam_change(&sim, Some(&token), "Portal#Next2025", "Portal#Third2025").await;
    assert_eq!(a.json()["error_description"], "User is locked.");
    let a = bob_token(&sim, "Portal#Next2025").await;
    assert_eq!(a.json()["error_description"], "Abnormal user status");
    sim.set_user_status("portal", UserStatus::Active);

    // The static token keeps working; issued tokens expire after 299 s.
    let static_token = sim
        .shared
        .world()
        .ciam_tokens
        .iter()
        .find(|t| t.expires.is_none())
        .expect("static")
        .value
        .to_string();
    sim.advance_clock(Duration::from_secs(300));
    let a = ciam_change(&sim, Some(&token), "Portal#Next2025", "Portal#Third2025").await;
    assert_eq!(a.status, 401);
    let a = ciam_change(
        &sim,
        Some(&static_token),
        "Token#Portal2024",
        "Token#Portal2025",
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        password(&sim, "portal-token").as_deref(),
        Some("Token#Portal2025")
    );
}

// ---------------------------------------------------------------------------------------------
// Faults.

#[tokio::test]
async fn status_malformed_and_html_faults_apply_nothing_and_queue_in_order() {
    use huawei::AkskVariant::Huawei;
    let sim = start().await;
    sim.inject(Route::DcsPassword, Fault::Status(500));
    sim.inject(Route::DcsPassword, Fault::Malformed);
    sim.inject(Route::DcsPassword, Fault::Html);
    sim.inject(Route::DcsPassword, Fault::Status(429));
    let a = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Redis#Demo2024",
        "Redis#New2025",
    )
    .await;
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (500, json!("DCS.5000"))
    );
    assert!(a.header("X-Request-Id").is_some());
    let a = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Redis#Demo2024",
        "Redis#New2025",
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(
        serde_json::from_slice::<Value>(&a.body).is_err(),
        "truncated JSON"
    );
    let a = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Redis#Demo2024",
        "Redis#New2025",
    )
    .await;
    assert_eq!(a.status, 502);
    assert!(
        a.header("Content-Type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(a.text().contains("<html>"));
    let a = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Redis#Demo2024",
        "Redis#New2025",
    )
    .await;
    assert_eq!(
        (a.status, a.json()["error_code"].clone()),
        (429, json!("APIGW.0308"))
    );
    assert_eq!(
        password(&sim, "redis-aksk").as_deref(),
        Some("Redis#Demo2024")
    );
    assert_eq!(sim.requests(Route::DcsPassword), 4);
    // The queue is empty: normal handling again.
    let a = dcs_aksk(
        &sim,
        "redis-aksk",
        None,
        Huawei,
        "Redis#Demo2024",
        "Redis#New2025",
    )
    .await;
    assert_eq!(a.json()["result"], "success");
    assert_eq!(sim.requests(Route::DcsPassword), 5);
    assert_eq!(sim.requests(Route::IamToken), 0);

    // Every route has provider-shaped fault bodies.
    sim.inject(Route::TencentV3, Fault::Status(503));
    let a = send(
        &sim,
        "POST",
        "/",
        &[("X-TC-Action", "SetOutBandVpnAuthPassword")],
        b"{}",
    )
    .await
    .expect("answer");
    assert_eq!(a.status, 503);
    assert_eq!(v3_code(&a.json()), Some("InternalError"));
    assert_eq!(sim.requests(Route::TencentV3), 1);
    sim.inject(Route::CiamToken, Fault::Status(500));
    let a = bob_token(&sim, "Portal#Demo2024").await;
    assert_eq!(
        (a.status, a.json()["error"].clone()),
        (500, json!("server_error"))
    );
    sim.inject(Route::CiamToken, Fault::Malformed);
    assert_eq!(
        bob_token(&sim, "Portal#Demo2024").await.text(),
        "{\"access_token\":\""
    );
    for route in Route::ALL {
        for status in [400, 401, 403, 404, 429, 500, 503] {
            let r = fault_status(route, status);
            assert_eq!(r.status, status);
            assert!(serde_json::from_slice::<Value>(&r.body).is_ok());
        }
        assert!(serde_json::from_slice::<Value>(&malformed(route).body).is_err());
    }
}

/// Bob logs in to the portal with his current password and asks to change it to
/// `Portal#Next2025`: the answer, if any.
async fn bob_changes_portal_password(sim: &Simulator) -> Option<Answer> {
    let token = bob_token(sim, "Portal#Demo2024").await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let body =
        json!({"old_password": "Portal#Demo2024", "new_password": "Portal#Next2025"}).to_string();
    let bearer = format!("Bearer {token}");
    send(
        sim,
        "POST",
        "/change_user_password",
        &[("Authorization", &bearer)],
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn drop_applies_the_change_and_loses_the_answer() {
    let sim = start().await;
    sim.inject(Route::CiamPassword, Fault::Drop);
    let a = bob_changes_portal_password(&sim).await;
    assert!(a.is_none(), "no answer at all");
    assert_eq!(sim.requests(Route::CiamPassword), 1);
    assert_eq!(password(&sim, "portal").as_deref(), Some("Portal#Next2025"));
}

#[tokio::test]
async fn empty_answers_a_bare_status_and_applies_nothing() {
    let sim = start().await;
    sim.inject(Route::CiamPassword, Fault::Empty(504));
    let a = bob_changes_portal_password(&sim).await.expect("answer");
    assert_eq!(a.status, 504);
    assert!(a.body.is_empty(), "{}", a.text());
    assert_eq!(sim.requests(Route::CiamPassword), 1);
    assert_eq!(
        password(&sim, "portal").as_deref(),
        Some("Portal#Demo2024"),
        "nothing applied"
    );
}

#[tokio::test]
async fn delay_and_hold_postpone_the_answer() {
    let sim = start().await;
    sim.inject(Route::CiamToken, Fault::Delay(Duration::from_millis(60)));
    let t = Instant::now();
    assert_eq!(bob_token(&sim, "Portal#Demo2024").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(60));

    sim.inject(Route::CiamPassword, Fault::Hold);
    let token = bob_token(&sim, "Portal#Demo2024").await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    // A release before the request arrives does not release it.
    sim.release_held();
    let bytes = {
        let bearer = format!("Bearer {token}");
        let body = json!({"old_password": "Portal#Demo2024", "new_password": "Portal#Next2025"})
            .to_string();
        request_bytes(
            &sim,
            "POST",
            "/change_user_password",
            &[("Authorization", &bearer)],
            body.as_bytes(),
        )
    };
    let addr = sim.local_addr();
    let pending = tokio::spawn(async move { raw(addr, &bytes).await });
    sim.wait_requests(Route::CiamPassword, 1).await;
    // Held: read, but nothing applied.
    assert_eq!(password(&sim, "portal").as_deref(), Some("Portal#Demo2024"));
    assert!(!pending.is_finished());
    sim.release_held();
    // Applied by the call itself, before the client has its answer.
    assert_eq!(password(&sim, "portal").as_deref(), Some("Portal#Next2025"));
    let a = pending.await.expect("task").expect("answer");
    assert_eq!(a.status, 200);

    // A request held forever ends when the simulator is dropped.
    sim.inject(Route::CiamToken, Fault::Hold);
    let bytes = request_bytes(&sim, "POST", "/oauth2/token", &[], b"grant_type=password");
    let pending = tokio::spawn(async move { raw(addr, &bytes).await });
    sim.wait_requests(Route::CiamToken, 3).await;
    drop(sim);
    assert!(pending.await.expect("task").is_none());
}
