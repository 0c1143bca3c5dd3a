//! The demo state the simulator starts with, the profiles that point at it (typed for the demo
//! console, as `profiles.toml` text for `rekey sim`), and the credentials it reports.
//!
//! Every demo password passes every policy that applies to it (Tencent's 8–16 characters with
//! `!#$%&^*()` only, DCS's 3 of 4 classes, IAM's account policies, CIAM's 3 classes), so the
//! demo works out of the box. Keys, tokens and ids are random per start.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use url::Url;

use crate::config::{
    AkskVariant, DcsAuth, HuaweiDcs, HuaweiIam, Kind, Operate, PolicyOverrides, Profile,
    ProviderConfig, SecretSource, SignatureMethod, StoreConfig, TencentApi, TencentBmVpn,
    TencentCiam,
};

use super::world::{
    self, ALNUM, AkSk, CiamClient, CiamToken, CiamUser, DcsInstance, DemoProfile, IamDomain,
    IamPolicy, IamUser, Target, TcKey, UPPER_DIGITS, VpnAccount, World, secret,
};
use super::{DemoAccount, UserStatus};

/// The v2 zone id the `bm-vpn-v2` profile sends.
const ZONE_ID: u64 = 1_000_100_003;
/// The CIAM auth source every demo application is associated with.
const AUTH_SOURCE: &str = "sim-password-source";

fn tencent_key(app_id: u64, password: Option<&str>, token: bool) -> TcKey {
    TcKey {
        secret_id: format!("AKIDsim{}", world::random_string(29, ALNUM)),
        secret_key: secret(&world::random_string(32, ALNUM)),
        token: token.then(|| secret(&world::random_string(48, ALNUM))),
        vpn: VpnAccount {
            app_id,
            password: password.map(secret),
            be_first_as_string: false,
            code_as_string: false,
        },
    }
}

fn iam_user(name: &str, domain_id: &str, password: &str, admin: bool) -> IamUser {
    IamUser {
        id: world::hex_id(),
        name: name.into(),
        domain_id: domain_id.into(),
        password: secret(password),
        history: VecDeque::new(),
        failures: 0,
        locked_until: None,
        status: UserStatus::Active,
        security_admin: admin,
        password_validity: None,
        password_set_at: std::time::SystemTime::now(),
    }
}

fn ciam_user(name: &str, password: &str) -> CiamUser {
    CiamUser {
        username: name.into(),
        password: secret(password),
        history: VecDeque::new(),
        status: UserStatus::Active,
    }
}

/// A fresh demo world.
pub fn world() -> World {
    let mut w = World::default();

    // Tencent BM: one key (and VPN account) per profile.
    let bm = tencent_key(1_251_000_001, Some("Vpn#Demo2024"), false);
    let bm_new = tencent_key(1_251_000_002, None, true);
    let bm_v2 = tencent_key(1_251_000_003, None, false);
    let mut bm_sha1 = tencent_key(1_251_000_004, Some("Vpn#Legacy2024"), false);
    bm_sha1.vpn.be_first_as_string = true;
    bm_sha1.vpn.code_as_string = true;
    let ids: Vec<String> = [&bm, &bm_new, &bm_v2, &bm_sha1]
        .iter()
        .map(|k| k.secret_id.clone())
        .collect();
    w.tc_keys = vec![bm, bm_new, bm_v2, bm_sha1];

    // Huawei: two accounts; demo-secure has a readable, stricter password policy.
    let (p_cn, p_eu, p_secure) = (world::hex_id(), world::hex_id(), world::hex_id());
    let account = IamDomain {
        id: world::hex_id(),
        name: "demo-account".into(),
        projects: vec![
            (p_cn.clone(), "cn-north-4".into()),
            (p_eu.clone(), "eu-de".into()),
        ],
        policy: IamPolicy::DEFAULT,
    };
    let secure = IamDomain {
        id: world::hex_id(),
        name: "demo-secure".into(),
        projects: vec![(p_secure, "cn-north-4".into())],
        policy: IamPolicy {
            min_len: 12,
            max_len: 32,
            classes: 3,
            not_username: true,
            max_identical: 2,
        },
    };
    let mut alice = iam_user("alice", &account.id, "Cloud#Demo2024", false);
    alice.password_validity = Some(Duration::from_secs(90 * 24 * 3600));
    let ops = iam_user("ops", &account.id, "Token#Demo2024", false);
    let admin = iam_user("secadmin", &secure.id, "Secure#Demo2024", true);
    let (alice_id, ops_id, admin_id) = (alice.id.clone(), ops.id.clone(), admin.id.clone());
    w.domains = vec![account, secure];
    w.iam_users = vec![alice, ops, admin];
    w.aksk = (0..2)
        .map(|_| AkSk {
            ak: world::random_string(20, UPPER_DIGITS),
            sk: secret(&world::random_string(40, ALNUM)),
        })
        .collect();
    let instance = |project: &str, password: &str| DcsInstance {
        project_id: project.into(),
        instance_id: world::uuid(),
        password: secret(password),
        failures: 0,
        locked_until: None,
    };
    w.dcs = vec![
        instance(&p_cn, "Redis#Demo2024"),
        instance(&p_eu, "Redis#Otc2024"),
        instance(&p_cn, "Redis#Token2024"),
    ];
    let dcs_ids: Vec<String> = w.dcs.iter().map(|d| d.instance_id.clone()).collect();

    // Tencent CIAM: a public and a confidential application, three users.
    w.ciam_clients = vec![
        CiamClient {
            id: "sim-spa-app".into(),
            secret: None,
            auth_source_id: AUTH_SOURCE.into(),
        },
        CiamClient {
            id: "sim-web-app".into(),
            secret: Some(secret(&world::random_string(32, ALNUM))),
            auth_source_id: AUTH_SOURCE.into(),
        },
    ];
    w.ciam_users = vec![
        ciam_user("bob", "Portal#Demo2024"),
        ciam_user("carol", "Web#Portal2024"),
        ciam_user("dave", "Token#Portal2024"),
    ];
    w.ciam_tokens = vec![CiamToken {
        value: secret(&format!(
            "sim_static_{}",
            world::random_string(43, world::B64URL)
        )),
        username: "dave".into(),
        expires: None,
    }];

    let p = |name: &str, target, note| DemoProfile {
        name: name.to_string(),
        target,
        note,
    };
    w.profiles = vec![
        p(
            "bm-vpn",
            Target::Vpn(ids[0].clone()),
            "API 3.0 (TC3). The VPN account exists, so Update works.",
        ),
        p(
            "bm-vpn-new",
            Target::Vpn(ids[1].clone()),
            "API 3.0 with a temporary key (session token). The VPN account does not exist \
             yet: Update fails with ResourceNotFound and the console offers Create.",
        ),
        p(
            "bm-vpn-v2",
            Target::Vpn(ids[2].clone()),
            "Legacy API 2.0, HmacSHA256. GetOutBandVPNAuthInfo answers be_first=true (JSON \
             bool), so operate=auto creates the account.",
        ),
        p(
            "bm-vpn-v2-sha1",
            Target::Vpn(ids[3].clone()),
            "Legacy API 2.0, HmacSHA1, appId. be_first is the string \"false\" and every \
             code is a string, so operate=auto updates.",
        ),
        p(
            "redis-aksk",
            Target::Dcs(dcs_ids[0].clone(), None),
            "AK/SK (Huawei Access= form). 5 wrong current passwords lock the instance for \
             5 minutes.",
        ),
        p(
            "redis-otc",
            Target::Dcs(dcs_ids[1].clone(), None),
            "AK/SK, Open Telekom Cloud Credential= form.",
        ),
        p(
            "redis-token",
            Target::Dcs(dcs_ids[2].clone(), Some(ops_id)),
            "Project-scoped IAM token for IAM user `ops` (its password is in the profile).",
        ),
        p(
            "iam-alice",
            Target::Iam(alice_id),
            "Ordinary IAM user: the account password policy is not readable (403), the \
             server applies 8-32 characters, 2 classes. Last 3 passwords are refused.",
        ),
        p(
            "iam-admin",
            Target::Iam(admin_id),
            "Security administrator: the account password policy is readable (12-32 \
             characters, 3 classes, at most 2 identical characters in a row).",
        ),
        p(
            "portal",
            Target::Ciam("bob".into()),
            "Password grant, public application. The server wants 8+ characters and 3 \
             classes; the last 3 passwords are refused.",
        ),
        p(
            "portal-web",
            Target::Ciam("carol".into()),
            "Password grant, confidential (web) application with a client secret.",
        ),
        p(
            "portal-token",
            Target::Ciam("dave".into()),
            "A stored access token instead of the password grant.",
        ),
    ];
    w
}

fn password_of(w: &World, target: &Target) -> Option<zeroize::Zeroizing<String>> {
    match target {
        Target::Vpn(id) => w
            .tc_keys
            .iter()
            .find(|k| &k.secret_id == id)
            .and_then(|k| k.vpn.password.as_ref())
            .map(|p| secret(p)),
        Target::Dcs(id, _) => w
            .dcs
            .iter()
            .find(|d| &d.instance_id == id)
            .map(|d| secret(&d.password)),
        Target::Iam(id) => w
            .iam_users
            .iter()
            .find(|u| &u.id == id)
            .map(|u| secret(&u.password)),
        Target::Ciam(name) => w
            .ciam_users
            .iter()
            .find(|u| &u.username == name)
            .map(|u| secret(&u.password)),
    }
}

/// The name of the IAM account (domain) with id `domain_id`.
fn domain_name<'w>(w: &'w World, domain_id: &str) -> &'w str {
    w.domains
        .iter()
        .find(|dom| dom.id == domain_id)
        .map_or("", |dom| dom.name.as_str())
}

/// The simulator's profiles file: a comment naming `base`, then [`profiles`] as text.
pub fn profiles_toml(w: &World, base: &Url, ca_file: Option<&Path>) -> String {
    let mut out = header(base);
    out.push_str(&crate::config::write::profiles(&profiles(w, base, ca_file)));
    out
}

/// The comment a simulator's profiles file starts with.
fn header(base: &Url) -> String {
    format!(
        "# profiles.toml for the rekey provider simulator at {}\n\
         # Secrets are stored inline ({{ value = ... }}): fine here because every endpoint is\n\
         # loopback. Keys and tokens are new each time the simulator starts.\n",
        crate::config::shown_endpoint(base)
    )
}

/// Every demo profile, pointing at the simulator at `base`, secrets inline (`{ value = … }`),
/// each with `ca_file` when given; the notes say each account's password as it is now.
pub fn profiles(w: &World, base: &Url, ca_file: Option<&Path>) -> Vec<Profile> {
    let value = |s: &str| SecretSource::Value(secret(s));
    let mut out = Vec::with_capacity(w.profiles.len());
    for p in &w.profiles {
        let notes = match password_of(w, &p.target) {
            Some(pw) => {
                let mut notes = String::with_capacity(64 + p.note.len());
                notes.push_str("Demo password when this file was written: ");
                notes.push_str(&pw);
                notes.push_str(". ");
                notes.push_str(p.note);
                notes
            }
            None => p.note.to_owned(),
        };
        let mut endpoint = Some(base.clone());
        let (kind, provider) = match &p.target {
            Target::Vpn(id) => {
                let Some(k) = w.tc_keys.iter().find(|k| &k.secret_id == id) else {
                    continue;
                };
                let v2 = p.name.starts_with("bm-vpn-v2");
                let sha1 = p.name == "bm-vpn-v2-sha1";
                (
                    Kind::TencentBmVpn,
                    ProviderConfig::TencentBmVpn(TencentBmVpn {
                        region: if v2 { "gz" } else { "ap-guangzhou" }.into(),
                        secret_id: value(&k.secret_id),
                        secret_key: value(&k.secret_key),
                        session_token: k.token.as_ref().map(|t| value(t)),
                        api: if v2 { TencentApi::V2 } else { TencentApi::V3 },
                        operate: Operate::Auto,
                        zone_id: (p.name == "bm-vpn-v2").then_some(ZONE_ID),
                        app_id: sha1.then_some(k.vpn.app_id),
                        signature_method: if sha1 {
                            SignatureMethod::HmacSha1
                        } else {
                            SignatureMethod::HmacSha256
                        },
                    }),
                )
            }
            Target::Dcs(id, token_user) => {
                let Some(d) = w.dcs.iter().find(|d| &d.instance_id == id) else {
                    continue;
                };
                let region = w
                    .domains
                    .iter()
                    .flat_map(|dom| dom.projects.iter())
                    .find(|(pid, _)| pid == &d.project_id)
                    .map_or("cn-north-4", |(_, name)| name.as_str());
                let auth = match token_user {
                    Some(user_id) => {
                        let Some(u) = w.iam_users.iter().find(|u| &u.id == user_id) else {
                            continue;
                        };
                        DcsAuth::Token {
                            iam_endpoint: base.clone(),
                            domain: domain_name(w, &u.domain_id).into(),
                            user: u.name.clone(),
                            password: value(&u.password),
                        }
                    }
                    None => {
                        let otc = p.name == "redis-otc";
                        let pair = &w.aksk[usize::from(otc).min(w.aksk.len() - 1)];
                        DcsAuth::Aksk {
                            access_key: value(&pair.ak),
                            secret_key: value(&pair.sk),
                            variant: if otc {
                                AkskVariant::Otc
                            } else {
                                AkskVariant::Huawei
                            },
                        }
                    }
                };
                (
                    Kind::HuaweiDcs,
                    ProviderConfig::HuaweiDcs(HuaweiDcs {
                        region: region.into(),
                        project_id: d.project_id.clone(),
                        instance_id: d.instance_id.clone(),
                        auth,
                    }),
                )
            }
            Target::Iam(id) => {
                let Some(u) = w.iam_users.iter().find(|u| &u.id == id) else {
                    continue;
                };
                endpoint = None;
                (
                    Kind::HuaweiIam,
                    ProviderConfig::HuaweiIam(HuaweiIam {
                        iam_endpoint: base.clone(),
                        domain: domain_name(w, &u.domain_id).into(),
                        user: u.name.clone(),
                        email: None,
                        phone: None,
                    }),
                )
            }
            Target::Ciam(name) => {
                let (client, token) = match p.name.as_str() {
                    "portal-web" => ("sim-web-app", false),
                    "portal-token" => ("sim-spa-app", true),
                    _ => ("sim-spa-app", false),
                };
                let client_secret = w
                    .ciam_clients
                    .iter()
                    .find(|c| c.id == client)
                    .and_then(|c| c.secret.as_ref())
                    .map(|s| value(s));
                let access_token = w
                    .ciam_tokens
                    .iter()
                    .find(|t| token && &t.username == name && t.expires.is_none())
                    .map(|t| value(&t.value));
                (
                    Kind::TencentCiam,
                    ProviderConfig::TencentCiam(TencentCiam {
                        client_id: client.into(),
                        auth_source_id: AUTH_SOURCE.into(),
                        username: name.clone(),
                        client_secret,
                        access_token,
                    }),
                )
            }
        };
        out.push(Profile {
            name: p.name.clone(),
            kind,
            endpoint,
            timeout_secs: Profile::DEFAULT_TIMEOUT_SECS,
            ca_file: ca_file.map(Path::to_path_buf),
            production: false,
            notes: Some(notes),
            policy: PolicyOverrides::default(),
            provider,
            store: None,
            line: 0,
        });
    }
    out
}

/// The kind name of a target.
fn kind_of(t: &Target) -> &'static str {
    match t {
        Target::Vpn(_) => "tencent-bm-vpn",
        Target::Dcs(..) => "huawei-dcs",
        Target::Iam(_) => "huawei-iam",
        Target::Ciam(_) => "tencent-ciam",
    }
}

/// Every demo profile's account and current password.
pub fn credentials(w: &World) -> Vec<DemoAccount> {
    w.profiles
        .iter()
        .map(|p| {
            let account = match &p.target {
                Target::Vpn(id) => w
                    .tc_keys
                    .iter()
                    .find(|k| &k.secret_id == id)
                    .map_or_else(String::new, |k| format!("VPN user {}", k.vpn.app_id)),
                Target::Dcs(id, _) => format!("DCS instance {id}"),
                Target::Iam(id) => {
                    w.iam_users
                        .iter()
                        .find(|u| &u.id == id)
                        .map_or_else(String::new, |u| {
                            let domain = w
                                .domains
                                .iter()
                                .find(|d| d.id == u.domain_id)
                                .map_or("", |d| d.name.as_str());
                            format!("IAM user {domain}/{}", u.name)
                        })
                }
                Target::Ciam(name) => format!("CIAM user {name}"),
            };
            DemoAccount {
                profile: p.name.clone(),
                kind: kind_of(&p.target),
                account,
                password: password_of(w, &p.target),
                note: p.note.to_owned(),
            }
        })
        .collect()
}

/// The demo credentials as text for `rekey sim`.
pub fn credentials_text(accounts: &[DemoAccount]) -> String {
    let mut out = String::from("Demo credentials (current passwords):\n");
    for a in accounts {
        let password = a
            .password
            .as_ref()
            .map_or("(no account yet)", |p| p.as_str());
        let _ = writeln!(
            out,
            "  {:<15} {:<18} {}\n  {:<15} {}",
            a.profile, password, a.account, "", a.note
        );
    }
    out
}

/// The kinds of a fleet, in the order accounts are dealt to them.
const FLEET_KINDS: [&str; 4] = ["vpn", "redis", "iam", "portal"];

/// A fleet: `n` accounts dealt round-robin to the four kinds, one profile each, named
/// `vpn-0000` (Tencent BM API 3.0, a key per account), `redis-0001` (a DCS instance; every
/// instance is signed with one shared AK/SK, as in one cloud account), `iam-0002` (an IAM user
/// of the account `fleet-account`) and `portal-0003` (a CIAM user of the public application).
/// Tencent API 3.0 is rate limited as Tencent does: 5 requests per second per action.
pub fn fleet_world(n: usize) -> World {
    let mut w = World::default();
    let project = world::hex_id();
    let domain = IamDomain {
        id: world::hex_id(),
        name: "fleet-account".into(),
        projects: vec![(project.clone(), "cn-north-4".into())],
        policy: IamPolicy::DEFAULT,
    };
    let domain_id = domain.id.clone();
    w.domains = vec![domain];
    w.aksk = vec![AkSk {
        ak: world::random_string(20, UPPER_DIGITS),
        sk: secret(&world::random_string(40, ALNUM)),
    }];
    w.ciam_clients = vec![CiamClient {
        id: "sim-spa-app".into(),
        secret: None,
        auth_source_id: AUTH_SOURCE.into(),
    }];
    for i in 0..n {
        // 12 characters, upper, lower, digit and '#': every kind's policy takes it.
        let password = format!("Fl#{}9a", world::random_string(7, ALNUM));
        let kind = FLEET_KINDS[i % FLEET_KINDS.len()];
        let name = format!("{kind}-{i:04}");
        let target = match kind {
            "vpn" => {
                let key = tencent_key(1_252_000_000 + i as u64, Some(&password), false);
                let id = key.secret_id.clone();
                w.tc_keys.push(key);
                Target::Vpn(id)
            }
            "redis" => {
                let id = world::uuid();
                w.dcs.push(DcsInstance {
                    project_id: project.clone(),
                    instance_id: id.clone(),
                    password: secret(&password),
                    failures: 0,
                    locked_until: None,
                });
                Target::Dcs(id, None)
            }
            "iam" => {
                let user = iam_user(&format!("user{i:04}"), &domain_id, &password, false);
                let id = user.id.clone();
                w.iam_users.push(user);
                Target::Iam(id)
            }
            _ => {
                let username = format!("user{i:04}");
                w.ciam_users.push(ciam_user(&username, &password));
                Target::Ciam(username)
            }
        };
        w.profiles.push(DemoProfile {
            name,
            target,
            note: "A fleet account.",
        });
    }
    w.rate_limits.insert(super::Route::TencentV3, 5);
    w
}

/// The fleet's profiles file: [`profiles`] without notes (they would carry each account's
/// first password) and with a `command` store for every profile (`store_command` run with the
/// profile's name as its entry), so each can be rotated.
pub fn fleet_profiles_toml(w: &World, base: &Url, store_command: &[String]) -> String {
    let mut profiles = profiles(w, base, None);
    for p in &mut profiles {
        p.notes = None;
        p.store = Some(StoreConfig::command(store_command.to_vec(), p.name.clone()));
    }
    let mut out = header(base);
    out.push_str(&crate::config::write::profiles(&profiles));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_spreads_across_the_four_kinds_and_its_profiles_parse_with_a_store_each() {
        let w = fleet_world(9);
        let names: Vec<&str> = w.profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "vpn-0000",
                "redis-0001",
                "iam-0002",
                "portal-0003",
                "vpn-0004",
                "redis-0005",
                "iam-0006",
                "portal-0007",
                "vpn-0008"
            ]
        );
        let base = Url::parse("http://127.0.0.1:9").expect("url");
        let text = fleet_profiles_toml(&w, &base, &["store-cmd".into()]);
        let config = crate::config::parse(std::path::Path::new("fleet.toml"), &text)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(config.profiles.len(), 9);
        for p in &config.profiles {
            assert!(p.store.is_some(), "{}", p.name);
        }
        // No account's password is written into the file.
        for account in credentials(&w) {
            let password = account.password.expect("password");
            assert!(!text.contains(password.as_str()), "{}", account.profile);
        }
        assert_eq!(w.rate_limits.get(&super::super::Route::TencentV3), Some(&5));
    }
}
