//! `rekey change` as a real process against the built-in simulator over loopback HTTP: every
//! kind and variant, every outcome class the SPEC lists.

mod common;

use common::{CANARY, Env, closed_port};
use rekey::sim::{Fault, Route};

/// A new password that passes every client-side policy of every demo profile.
const NEW: &str = "New#Pass2025x";

/// Every demo profile whose account exists, with the route of its change request.
const CHANGE_ROUTES: [(&str, Route); 11] = [
    ("bm-vpn", Route::TencentV3),
    ("bm-vpn-v2", Route::TencentV2Set),
    ("bm-vpn-v2-sha1", Route::TencentV2Set),
    ("redis-aksk", Route::DcsPassword),
    ("redis-otc", Route::DcsPassword),
    ("redis-token", Route::DcsPassword),
    ("iam-alice", Route::IamPassword),
    ("iam-admin", Route::IamPassword),
    ("portal", Route::CiamPassword),
    ("portal-web", Route::CiamPassword),
    ("portal-token", Route::CiamPassword),
];

fn input(env: &Env, profile: &str, new: &str) -> String {
    let needs_current = !profile.starts_with("bm-vpn");
    if needs_current {
        format!("{}\n{new}\n", env.password(profile))
    } else {
        format!("{new}\n")
    }
}

#[tokio::test]
async fn every_demo_profile_changes_its_password() {
    let env = Env::start("success").await;
    for (profile, outcome) in [
        ("bm-vpn", "changed"),
        ("bm-vpn-v2", "created"),
        ("bm-vpn-v2-sha1", "changed"),
        ("redis-aksk", "changed"),
        ("redis-otc", "changed"),
        ("redis-token", "changed"),
        ("iam-alice", "changed"),
        ("iam-admin", "changed"),
        ("portal", "changed"),
        ("portal-web", "changed"),
        ("portal-token", "changed"),
    ] {
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(run.outcome(), outcome, "{profile}: {run:?}");
        assert_eq!(run.code, 0, "{profile}");
        assert_eq!(
            env.password(profile),
            NEW,
            "{profile}: the simulator has the new password"
        );
        let json = &run.json;
        assert_eq!(json["profile"], profile);
        assert!(
            json["http_status"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s))
        );
        assert!(json["duration_ms"].is_u64());
        for key in [
            "kind",
            "retries_left",
            "locked_until",
            "lock_minutes_left",
            "provider_code",
            "message",
            "request_id",
        ] {
            assert!(json.get(key).is_some(), "{profile}: missing {key}");
        }
        assert_eq!(run.stdout.trim().lines().count(), 1, "one JSON object only");
    }
}

#[tokio::test]
async fn v3_update_of_a_missing_account_says_so_and_create_works() {
    let env = Env::start("create").await;
    let run = env
        .change("bm-vpn-new", &input(&env, "bm-vpn-new", NEW), &[])
        .await;
    assert_eq!((run.outcome(), run.code), ("not_found", 1), "{run:?}");
    assert_eq!(
        env.sim.requests(Route::TencentV3),
        1,
        "Update only: never Create behind the user's back"
    );
    env.set("bm-vpn-new", "operate", "\"create\"");
    let run = env
        .change("bm-vpn-new", &input(&env, "bm-vpn-new", NEW), &[])
        .await;
    assert_eq!((run.outcome(), run.code), ("created", 0), "{run:?}");
    // Without --json the hint names the way out.
    env.set("bm-vpn-new", "operate", "\"auto\"");
    let other = env.sim.credentials().len();
    assert!(other > 0);
}

#[tokio::test]
async fn wrong_current_password_counts_down_then_locks_dcs() {
    let env = Env::start("dcs-lock").await;
    let wrong = format!("Wrong#Pass2024\n{NEW}\n");
    let sent = || env.sim.requests(Route::DcsPassword);
    for left in [4, 3, 2] {
        let run = env.change("redis-aksk", &wrong, &[]).await;
        assert_eq!(run.outcome(), "wrong_old_password", "{run:?}");
        assert_eq!(run.code, 1);
        assert_eq!(run.json["retries_left"], left);
        assert_eq!(run.json["provider_code"], "passwordFailed");
    }
    // 2 retries left: rekey refuses without --yes, sends nothing and prints no JSON.
    let before = sent();
    let run = env.change("redis-aksk", &wrong, &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.is_empty(), "nothing attempted: no JSON");
    assert!(run.stderr.contains("last attempt"), "{}", run.stderr);
    assert_eq!(sent(), before);
    let run = env.change("redis-aksk", &wrong, &["--yes"]).await;
    assert_eq!(run.json["retries_left"], 1, "{run:?}");
    let run = env.change("redis-aksk", &wrong, &["--yes"]).await;
    assert_eq!((run.outcome(), run.code), ("locked", 3), "{run:?}");
    assert_eq!(run.json["lock_minutes_left"], 5);
    let until = run.json["locked_until"].as_str().expect("locked_until");
    assert!(
        rekey::timefmt::parse_rfc3339(until).is_some(),
        "RFC 3339: {until}"
    );
    // Known to be locked: refused locally with exit 3 and a `locked` object, nothing sent.
    let right = input(&env, "redis-aksk", NEW);
    let before = sent();
    let run = env.change("redis-aksk", &right, &[]).await;
    assert_eq!((run.outcome(), run.code), ("locked", 3), "{run:?}");
    assert!(run.json["http_status"].is_null());
    assert!(
        run.json["lock_minutes_left"]
            .as_u64()
            .is_some_and(|m| (1..=5).contains(&m))
    );
    assert!(
        run.json["message"]
            .as_str()
            .is_some_and(|m| m.contains("--ignore-lock"))
    );
    assert_eq!(sent(), before);
    // --ignore-lock alone sends (overriding a lock accepts the last-attempt risk too); the
    // provider still says locked.
    let run = env.change("redis-aksk", &right, &["--ignore-lock"]).await;
    assert_eq!(run.outcome(), "locked", "{run:?}");
    assert_eq!(run.json["http_status"], 200);
    assert_eq!(sent(), before + 1);
    // The provider's lock ends; rekey's record of it still refuses until overridden.
    env.sim
        .advance_clock(std::time::Duration::from_secs(5 * 60 + 1));
    let run = env
        .change("redis-aksk", &right, &["--ignore-lock", "--yes"])
        .await;
    assert_eq!(run.outcome(), "changed", "{run:?}");
    // A change clears the lock and the retry count in the state.
    let run = env.rekey(&["profiles", "--json"], "").await;
    let list: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let redis = list
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["name"] == "redis-aksk")
        .expect("listed");
    assert_eq!(redis["last_outcome"], "changed");
    assert!(redis["locked_until"].is_null() && redis["retries_left"].is_null());
    assert!(redis["last_changed_at"].is_string());
}

#[tokio::test]
async fn wrong_current_password_for_iam_and_ciam() {
    let env = Env::start("wrong-old").await;
    for profile in [
        "iam-alice",
        "redis-otc",
        "portal",
        "portal-web",
        "portal-token",
    ] {
        let run = env
            .change(profile, &format!("Wrong#Pass2024\n{NEW}\n"), &[])
            .await;
        assert_eq!(run.outcome(), "wrong_old_password", "{profile}: {run:?}");
        assert_eq!(run.code, 1);
    }
}

#[tokio::test]
async fn reused_passwords_are_refused_by_iam_and_ciam() {
    let env = Env::start("reuse").await;
    // IAM: the new password equals the current one (1108). The client allows it with --force.
    let current = env.password("iam-alice");
    let run = env
        .change(
            "iam-alice",
            &format!("{current}\n{current}\n"),
            &["--force"],
        )
        .await;
    assert_eq!(run.outcome(), "reused_password", "{run:?}");
    assert_eq!(run.json["provider_code"], "1108");
    // CIAM duplicate: new == current.
    let current = env.password("portal");
    let run = env
        .change("portal", &format!("{current}\n{current}\n"), &["--force"])
        .await;
    assert_eq!(run.outcome(), "reused_password", "{run:?}");
    assert_eq!(run.json["provider_code"], "duplicate_password");
    // CIAM recurrent: change away and back.
    let run = env
        .change("portal", &format!("{current}\n{NEW}\n"), &[])
        .await;
    assert_eq!(run.outcome(), "changed");
    let run = env
        .change("portal", &format!("{NEW}\n{current}\n"), &[])
        .await;
    assert_eq!(run.outcome(), "reused_password", "{run:?}");
    assert_eq!(run.json["provider_code"], "recurrent_password");
}

#[tokio::test]
async fn server_side_policy_rejections() {
    let env = Env::start("policy").await;
    // The local check refuses first, with nothing sent.
    let run = env
        .change("redis-aksk", &input(&env, "redis-aksk", "weakweak"), &[])
        .await;
    assert_eq!((run.outcome(), run.code), ("policy_rejected", 1));
    assert!(run.json["http_status"].is_null());
    assert_eq!(env.sim.requests(Route::DcsPassword), 0);
    // --force sends it and the provider decides.
    let run = env
        .change(
            "redis-aksk",
            &input(&env, "redis-aksk", "weakweak"),
            &["--force"],
        )
        .await;
    assert_eq!(run.outcome(), "policy_rejected", "{run:?}");
    assert_eq!(run.json["provider_code"], "DCS.4019");
    assert_eq!(run.json["http_status"], 400);
    let run = env
        .change(
            "iam-alice",
            &input(&env, "iam-alice", "weakweak"),
            &["--force"],
        )
        .await;
    assert_eq!(run.outcome(), "policy_rejected", "{run:?}");
    assert_eq!(run.json["provider_code"], "1118");
    // CIAM's server wants 3 classes; rekey only knows the minimum length.
    let run = env
        .change("portal", &input(&env, "portal", "lowercase1"), &[])
        .await;
    assert_eq!(run.outcome(), "policy_rejected", "{run:?}");
    assert_eq!(run.json["provider_code"], "invalid_new_password");
    // Tencent refuses a disallowed special with InvalidParameterValue (bad_request).
    let run = env
        .change(
            "bm-vpn",
            &input(&env, "bm-vpn", "Bad@Pass2024"),
            &["--force"],
        )
        .await;
    assert_eq!((run.outcome(), run.code), ("bad_request", 1), "{run:?}");
    // IAM account policy (readable by the admin) is applied before sending: 11 characters.
    let sent = env.sim.requests(Route::IamPassword);
    let run = env
        .change("iam-admin", &input(&env, "iam-admin", "Short#Pass1"), &[])
        .await;
    assert_eq!(run.outcome(), "policy_rejected", "{run:?}");
    assert_eq!(env.sim.requests(Route::IamPassword), sent, "nothing sent");
    assert!(
        run.json["message"]
            .as_str()
            .is_some_and(|m| m.contains("account's password policy"))
    );
}

#[tokio::test]
async fn wrong_credentials_are_auth_failed() {
    let env = Env::start("auth").await;
    let bad = "{ value = \"WrongKey0000000000000000000000000\" }";
    env.set("bm-vpn", "secret_key", bad);
    env.set("bm-vpn-v2-sha1", "secret_key", bad);
    env.set(
        "redis-aksk",
        "auth",
        "{ method = \"aksk\", access_key = { value = \"AKWRONG0000000000000\" }, secret_key = { value = \"x\" } }",
    );
    env.set(
        "portal-web",
        "client_secret",
        "{ value = \"not-the-secret\" }",
    );
    env.set(
        "portal-token",
        "access_token",
        "{ value = \"expired-or-forged\" }",
    );
    for (profile, code) in [
        ("bm-vpn", 4),
        ("bm-vpn-v2-sha1", 4),
        ("redis-aksk", 4),
        ("portal-web", 4),
        ("portal-token", 4),
    ] {
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(run.outcome(), "auth_failed", "{profile}: {run:?}");
        assert_eq!(run.code, code);
    }
    // DCS with a token: the IAM user's password is wrong.
    let text = std::fs::read_to_string(&env.config).expect("read");
    std::fs::write(
        &env.config,
        text.replace("Token#Demo2024", "Wrong#Token2024"),
    )
    .expect("write");
    let run = env
        .change("redis-token", &input(&env, "redis-token", NEW), &[])
        .await;
    assert_eq!(run.outcome(), "auth_failed", "{run:?}");
}

#[tokio::test]
async fn a_500_is_a_server_error_for_every_kind() {
    let env = Env::start("500").await;
    for (profile, route) in CHANGE_ROUTES {
        env.sim.inject(route, Fault::Status(500));
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(
            (run.outcome(), run.code),
            ("server_error", 5),
            "{profile}: {run:?}"
        );
        assert_eq!(run.json["http_status"], 500);
    }
}

#[tokio::test]
async fn timeouts_and_dropped_connections_are_unknown_and_never_retried() {
    // Each fault gets its own simulator and data dir: after `unknown` a profile is unsettled
    // and refuses a new change until it is recovered (SPEC §10.2).
    let env = Env::start("unknown").await;
    let held = Env::start("unknown-held").await;
    for (profile, route) in CHANGE_ROUTES {
        env.set(profile, "timeout_secs", "1");
        held.set(profile, "timeout_secs", "1");
        // The connection drops after the request was read.
        let before = env.sim.requests(route);
        env.sim.inject(route, Fault::Drop);
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(
            (run.outcome(), run.code),
            ("unknown", 5),
            "{profile} drop: {run:?}"
        );
        assert_eq!(
            env.sim.requests(route),
            before + 1,
            "{profile}: exactly one change request"
        );

        // No answer within the profile's timeout (the held answer is never released here).
        let before = held.sim.requests(route);
        held.sim.inject(route, Fault::Hold);
        let run = held
            .change(profile, &input(&held, profile, "Other#Pass2026y"), &[])
            .await;
        assert_eq!(
            (run.outcome(), run.code),
            ("unknown", 5),
            "{profile}: {run:?}"
        );
        assert!(
            run.json["message"]
                .as_str()
                .is_some_and(|m| m.contains("may have been applied"))
        );
        assert_eq!(
            held.sim.requests(route),
            before + 1,
            "{profile}: exactly one change request"
        );
    }
}

#[tokio::test]
async fn malformed_and_html_answers() {
    let env = Env::start("malformed").await;
    env.sim.inject(Route::DcsPassword, Fault::Malformed);
    let run = env
        .change("redis-aksk", &input(&env, "redis-aksk", NEW), &[])
        .await;
    assert_eq!(
        run.outcome(),
        "unknown",
        "a 200 we cannot read may have changed it: {run:?}"
    );
    for (profile, route) in [
        ("iam-alice", Route::IamPassword),
        ("portal", Route::CiamPassword),
    ] {
        env.sim.inject(route, Fault::Malformed);
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(run.outcome(), "unknown", "{profile}: {run:?}");
    }
    // A gateway's page in answer to the change: the provider behind it may have applied it.
    env.sim.inject(Route::TencentV3, Fault::Html);
    let run = env.change("bm-vpn", &input(&env, "bm-vpn", NEW), &[]).await;
    assert_eq!((run.outcome(), run.code), ("unknown", 5), "{run:?}");
}

/// One profile per kind (and both Tencent APIs), with the route of its change request.
const GATEWAY_ROUTES: [(&str, Route); 5] = [
    ("bm-vpn", Route::TencentV3),
    ("bm-vpn-v2-sha1", Route::TencentV2Set),
    ("redis-aksk", Route::DcsPassword),
    ("iam-alice", Route::IamPassword),
    ("portal", Route::CiamPassword),
];

/// A gateway's 5xx on the change request (an HTML 502, a 504 with an empty body) is `unknown`:
/// the provider behind the gateway may have applied the change. Sent once, never retried.
#[tokio::test]
async fn a_gateway_5xx_on_the_change_is_unknown_for_every_kind() {
    for (fault, status) in [(Fault::Html, 502), (Fault::Empty(504), 504)] {
        // A fresh data dir per fault: an unknown outcome may leave a profile unsettled.
        let env = Env::start(&format!("gateway-{status}")).await;
        for (profile, route) in GATEWAY_ROUTES {
            let before = env.password(profile);
            let sent = env.sim.requests(route);
            env.sim.inject(route, fault);
            let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
            assert_eq!(
                (run.outcome(), run.code),
                ("unknown", 5),
                "{profile} {fault:?}: {run:?}"
            );
            assert_eq!(run.json["http_status"], status, "{profile}");
            let message = run.json["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("may have been applied") && message.contains("not retried"),
                "{profile}: {message}"
            );
            assert_eq!(
                env.sim.requests(route),
                sent + 1,
                "{profile}: exactly one change request"
            );
            assert_eq!(
                env.password(profile),
                before,
                "{profile}: the fault applied nothing"
            );
        }
    }
}

/// A gateway's 502 on a request before the change (a token or info request) is `server_error`:
/// nothing was changed, and the change request was never sent.
#[tokio::test]
async fn a_gateway_502_before_the_change_is_a_server_error() {
    let env = Env::start("gateway-before").await;
    for (profile, first, change) in [
        ("bm-vpn-v2", Route::TencentV2Info, Route::TencentV2Set),
        ("redis-token", Route::IamToken, Route::DcsPassword),
        ("iam-alice", Route::IamToken, Route::IamPassword),
        ("portal", Route::CiamToken, Route::CiamPassword),
    ] {
        let sent = env.sim.requests(change);
        env.sim.inject(first, Fault::Html);
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(
            (run.outcome(), run.code),
            ("server_error", 5),
            "{profile}: {run:?}"
        );
        assert_eq!(run.json["http_status"], 502, "{profile}");
        assert_eq!(env.sim.requests(change), sent, "{profile}: change not sent");

        env.sim.inject(first, Fault::Empty(504));
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(
            (run.outcome(), run.code),
            ("server_error", 5),
            "{profile} 504: {run:?}"
        );
        assert_eq!(env.sim.requests(change), sent, "{profile}: change not sent");
    }
}

#[tokio::test]
async fn odd_2xx_answers_are_never_changed() {
    let env = Env::start("odd-2xx").await;
    // The change answered with a 2xx that is not the documented success: no definite answer.
    for (profile, route) in [
        ("redis-aksk", Route::DcsPassword),
        ("portal", Route::CiamPassword),
        ("iam-alice", Route::IamPassword),
    ] {
        let before = env.password(profile);
        env.sim.inject(route, Fault::Status(202));
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(
            (run.outcome(), run.code),
            ("unknown", 5),
            "{profile}: {run:?}"
        );
        assert_eq!(run.json["http_status"], 202);
        assert_eq!(env.password(profile), before, "{profile}: nothing applied");
    }
    // A token request answered with a 2xx that issued no token: nothing was changed, and the
    // change was never sent. (A fresh data dir: the profiles above are unsettled now.)
    let env = Env::start("odd-2xx-token").await;
    for status in [200, 201, 202] {
        for (profile, change_route) in [
            ("iam-alice", Route::IamPassword),
            ("redis-token", Route::DcsPassword),
        ] {
            let sent = env.sim.requests(change_route);
            env.sim.inject(Route::IamToken, Fault::Status(status));
            let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
            assert_eq!(
                (run.outcome(), run.code),
                ("server_error", 5),
                "{profile} {status}: {run:?}"
            );
            assert_eq!(env.sim.requests(change_route), sent, "{profile}: not sent");
        }
        let sent = env.sim.requests(Route::CiamPassword);
        env.sim.inject(Route::CiamToken, Fault::Status(status));
        let run = env.change("portal", &input(&env, "portal", NEW), &[]).await;
        assert_eq!(run.outcome(), "server_error", "portal {status}: {run:?}");
        assert_eq!(env.sim.requests(Route::CiamPassword), sent);
    }
    // Tencent v2: an unreadable GetOutBandVPNAuthInfo answer changed nothing.
    let sent = env.sim.requests(Route::TencentV2Set);
    env.sim.inject(Route::TencentV2Info, Fault::Malformed);
    let run = env
        .change("bm-vpn-v2", &input(&env, "bm-vpn-v2", NEW), &[])
        .await;
    assert_eq!((run.outcome(), run.code), ("server_error", 5), "{run:?}");
    assert!(
        run.json["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing was changed")),
        "{run:?}"
    );
    assert_eq!(
        env.sim.requests(Route::TencentV2Set),
        sent,
        "Set never sent"
    );
}

#[tokio::test]
async fn connection_refused_is_a_network_error() {
    let env = Env::start("refused").await;
    let url = format!("\"http://127.0.0.1:{}\"", closed_port());
    for (profile, _) in CHANGE_ROUTES {
        env.set_endpoint(profile, &url);
        let run = env.change(profile, &input(&env, profile, NEW), &[]).await;
        assert_eq!(
            (run.outcome(), run.code),
            ("network_error", 5),
            "{profile}: {run:?}"
        );
        assert!(run.json["http_status"].is_null());
    }
    env.set("iam-alice", "iam_endpoint", &url);
    let run = env
        .change("iam-alice", &input(&env, "iam-alice", NEW), &[])
        .await;
    assert_eq!(run.outcome(), "network_error", "{run:?}");
}

#[tokio::test]
async fn usage_errors_exit_2_without_sending() {
    let env = Env::start("usage").await;
    let run = env.change("nope", "x\ny\n", &[]).await;
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "usage errors print no JSON");
    let run = env.change("redis-aksk", "only-one-line\n", &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
    env.set("portal", "client_secret", "{ prompt = true }");
    let run = env.change("portal", &input(&env, "portal", NEW), &[]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("prompt"), "{}", run.stderr);
    assert_eq!(env.sim.requests(Route::CiamToken), 0);
}

#[tokio::test]
async fn no_secret_reaches_stdout_or_stderr() {
    let env = Env::start("canary").await;
    let current = env.password("redis-aksk");
    for (stdin, extra) in [
        (format!("{current}\n{CANARY}\n"), vec![]),
        (format!("{CANARY}\n{CANARY}x\n"), vec![]),
        (format!("{CANARY}\nweak\n"), vec!["--force"]),
    ] {
        for json in [true, false] {
            let mut args = vec!["change", "--profile", "redis-aksk"];
            if json {
                args.push("--json");
            }
            args.extend(extra.iter().copied());
            let run = env.rekey(&args, &stdin).await;
            for out in [&run.stdout, &run.stderr] {
                assert!(!out.contains(CANARY), "{out}");
                assert!(!out.contains("Kanary"), "{out}");
                assert!(!out.contains(&current), "current password leaked: {out}");
            }
        }
    }
    // The files rekey wrote, and what `rekey profiles` prints, hold no secret either.
    let data = env.dir.join("data");
    let state = std::fs::read_to_string(data.join("state.json")).expect("state written");
    let audit = std::fs::read_to_string(data.join("audit.jsonl")).expect("audit written");
    assert!(audit.lines().count() >= 2, "{audit}");
    let table = env.rekey(&["profiles"], "").await;
    let json = env.rekey(&["profiles", "--json"], "").await;
    for text in [
        &state,
        &audit,
        &table.stdout,
        &table.stderr,
        &json.stdout,
        &json.stderr,
    ] {
        assert!(!text.contains(CANARY) && !text.contains("Kanary"), "{text}");
        assert!(!text.contains(&current), "{text}");
    }
}

#[tokio::test]
async fn profiles_lists_every_profile_with_its_state() {
    let env = Env::start("profiles").await;
    let run = env
        .change("iam-alice", &input(&env, "iam-alice", NEW), &[])
        .await;
    assert_eq!(run.outcome(), "changed");
    let run = env
        .change("portal", &format!("Wrong#Pass2024\n{NEW}\n"), &[])
        .await;
    assert_eq!(run.outcome(), "wrong_old_password");
    let run = env.rekey(&["profiles", "--json"], "").await;
    assert_eq!(run.code, 0, "{run:?}");
    let list: serde_json::Value = serde_json::from_str(&run.stdout).expect("json array");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 12);
    let get = |name: &str| {
        list.iter()
            .find(|p| p["name"] == name)
            .expect("listed")
            .clone()
    };
    let alice = get("iam-alice");
    assert_eq!(alice["kind"], "huawei-iam");
    assert_eq!(alice["last_outcome"], "changed");
    assert!(alice["last_changed_at"].is_string());
    assert!(
        alice["password_expires_at"].is_string(),
        "from the IAM token: {alice}"
    );
    assert_eq!(alice["auth"], "token from the current password of alice");
    let portal = get("portal");
    assert_eq!(portal["last_outcome"], "wrong_old_password");
    let untouched = get("bm-vpn");
    for key in [
        "last_outcome",
        "last_attempt_at",
        "retries_left",
        "locked_until",
        "lock_seconds_left",
    ] {
        assert!(untouched[key].is_null(), "{key}");
    }
    assert_eq!(untouched["production"], false);
    let table = env.rekey(&["profiles"], "").await;
    assert_eq!(table.code, 0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{}", table.stdout);
    assert_eq!(lines.len(), 13);
    assert!(table.stdout.contains("wrong_old_password"));
}
