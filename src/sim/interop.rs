//! The crate's own provider clients against the simulator, through `profiles_toml()`: proves
//! that the client and the simulator agree on every profile's wire format.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::{Fault, Route, Simulator};
use crate::config::{Operate, Profile};
use crate::provider::{self, FollowUp, LogEntry, Options, Outcome, Report, TypedSecrets};
use crate::secret::SecretBuf;

fn buf(s: &str) -> SecretBuf {
    let mut b = SecretBuf::password();
    b.insert_str(s).expect("fits");
    b
}

struct Fixture {
    sim: Simulator,
    profiles: Vec<Arc<Profile>>,
    log: Arc<Mutex<Vec<LogEntry>>>,
}

impl Fixture {
    async fn new() -> Fixture {
        let sim = Simulator::start(([127, 0, 0, 1], 0).into())
            .await
            .expect("starts");
        let config = crate::config::parse(Path::new("sim.toml"), &sim.profiles_toml())
            .expect("profiles parse");
        Fixture {
            sim,
            profiles: config.profiles.into_iter().map(Arc::new).collect(),
            log: Arc::default(),
        }
    }

    fn current(&self, profile: &str) -> Option<String> {
        self.sim
            .credentials()
            .into_iter()
            .find(|a| a.profile == profile)
            .and_then(|a| a.password)
            .map(|p| p.to_string())
    }

    async fn change(
        &self,
        name: &str,
        current: Option<&str>,
        new: &str,
        operate: Option<Operate>,
    ) -> Report {
        let profile = self
            .profiles
            .iter()
            .find(|p| p.name == name)
            .expect("profile")
            .clone();
        let client = provider::client_for(&profile).expect("client");
        let typed = TypedSecrets {
            current: current.map(buf),
            new: buf(new),
            prompted: Vec::new(),
        };
        let log = self.log.clone();
        let sink: provider::LogSink = Arc::new(move |e| {
            if let Ok(mut l) = log.lock() {
                l.push(e);
            }
        });
        provider::run(
            client,
            profile,
            typed,
            Options {
                operate,
                ..Options::default()
            },
            sink,
            Arc::new(AtomicBool::new(false)),
        )
        .await
        .expect("the demo profiles resolve")
    }
}

#[tokio::test]
async fn every_demo_profile_changes_through_the_real_client() {
    let f = Fixture::new().await;

    let r = f.change("bm-vpn", None, "Vpn#Next2025", None).await;
    assert_eq!(r.outcome, Outcome::Changed, "{r:?}");
    assert_eq!(f.current("bm-vpn").as_deref(), Some("Vpn#Next2025"));

    let r = f.change("bm-vpn-new", None, "Vpn#First2025", None).await;
    assert_eq!(
        (r.outcome, r.follow_up),
        (Outcome::NotFound, Some(FollowUp::OfferCreate)),
        "{r:?}"
    );
    let r = f
        .change("bm-vpn-new", None, "Vpn#First2025", Some(Operate::Create))
        .await;
    assert_eq!(r.outcome, Outcome::Created, "{r:?}");

    let r = f.change("bm-vpn-v2", None, "Vpn#V2new2025", None).await;
    assert_eq!(r.outcome, Outcome::Created, "be_first true → create: {r:?}");
    let r = f.change("bm-vpn-v2", None, "Vpn#V2next2025", None).await;
    assert_eq!(
        r.outcome,
        Outcome::Changed,
        "then be_first false → update: {r:?}"
    );

    let r = f
        .change("bm-vpn-v2-sha1", None, "Vpn#Sha1new25", None)
        .await;
    assert_eq!(r.outcome, Outcome::Changed, "{r:?}");
    assert_eq!(
        f.current("bm-vpn-v2-sha1").as_deref(),
        Some("Vpn#Sha1new25")
    );

    for name in ["redis-aksk", "redis-otc", "redis-token"] {
        let old = f.current(name).expect("password");
        let r = f
            .change(name, Some("Wrong#Pass123"), "Redis#Next2025", None)
            .await;
        assert_eq!(
            (r.outcome, r.retries_left),
            (Outcome::WrongOldPassword, Some(4)),
            "{name}: {r:?}"
        );
        let r = f.change(name, Some(&old), "Redis#Next2025", None).await;
        assert_eq!(r.outcome, Outcome::Changed, "{name}: {r:?}");
        assert!(r.request_id.is_some(), "{name}");
    }

    let r = f
        .change(
            "iam-alice",
            Some("Cloud#Demo2024"),
            "Alpine#Meadow2025",
            None,
        )
        .await;
    assert_eq!(r.outcome, Outcome::Changed, "{r:?}");
    assert!(r.password_expires_at.is_some());
    let r = f
        .change(
            "iam-alice",
            Some("Cloud#Demo2024"),
            "Other#Meadow2025",
            None,
        )
        .await;
    assert_eq!(r.outcome, Outcome::WrongOldPassword, "{r:?}");
    let r = f
        .change(
            "iam-alice",
            Some("Alpine#Meadow2025"),
            "Cloud#Demo2024",
            None,
        )
        .await;
    assert_eq!(r.outcome, Outcome::ReusedPassword, "{r:?}");

    // The admin reads the account policy (min 12): an 11-character password is refused
    // locally, and nothing is sent.
    let before = f.sim.requests(Route::IamPassword);
    let r = f
        .change("iam-admin", Some("Secure#Demo2024"), "Short#Pw123", None)
        .await;
    assert_eq!(r.outcome, Outcome::PolicyRejected, "{r:?}");
    assert_eq!(
        r.account_policy
            .as_ref()
            .and_then(|p| p.minimum_password_length),
        Some(12)
    );
    assert_eq!(f.sim.requests(Route::IamPassword), before);
    let r = f
        .change(
            "iam-admin",
            Some("Secure#Demo2024"),
            "Longer#Secure2025",
            None,
        )
        .await;
    assert_eq!(r.outcome, Outcome::Changed, "{r:?}");

    let r = f
        .change("portal", Some("Portal#Demo2024"), "Portal#Next2025", None)
        .await;
    assert_eq!(r.outcome, Outcome::Changed, "{r:?}");
    let r = f
        .change("portal", Some("Portal#Next2025"), "Portal#Demo2024", None)
        .await;
    assert_eq!(r.outcome, Outcome::ReusedPassword, "{r:?}");
    let r = f
        .change("portal", Some("Wrong#Pass123"), "Portal#Third2025", None)
        .await;
    assert_eq!(r.outcome, Outcome::WrongOldPassword, "{r:?}");
    let r = f
        .change("portal-web", Some("Web#Portal2024"), "Web#Portal2025", None)
        .await;
    assert_eq!(r.outcome, Outcome::Changed, "{r:?}");
    let r = f
        .change(
            "portal-token",
            Some("Token#Portal2024"),
            "Token#Portal2025",
            None,
        )
        .await;
    assert_eq!(r.outcome, Outcome::Changed, "{r:?}");
    assert_eq!(
        f.sim.requests(Route::CiamToken),
        4,
        "portal-token skips the grant"
    );

    let log = f.log.lock().expect("log");
    assert!(!log.is_empty());
    for e in log.iter() {
        let text = format!("{e:?}");
        for secret in ["Portal#Next2025", "Redis#Next2025", "Alpine#Meadow2025"] {
            assert!(!text.contains(secret), "the client's log leaks a password");
        }
    }
}

#[tokio::test]
async fn faults_reach_the_client_as_the_spec_says() {
    let f = Fixture::new().await;
    f.sim.inject(Route::DcsPassword, Fault::Drop);
    let r = f
        .change("redis-aksk", Some("Redis#Demo2024"), "Redis#Next2025", None)
        .await;
    assert_eq!(r.outcome, Outcome::Unknown, "{r:?}");
    assert_eq!(
        f.current("redis-aksk").as_deref(),
        Some("Redis#Next2025"),
        "Drop applied the change"
    );
    f.sim.inject(Route::DcsPassword, Fault::Malformed);
    let r = f
        .change(
            "redis-aksk",
            Some("Redis#Next2025"),
            "Redis#Third2025",
            None,
        )
        .await;
    assert_eq!(r.outcome, Outcome::Unknown, "{r:?}");
    // A gateway's page in answer to the change: the provider behind it may have applied it.
    f.sim.inject(Route::TencentV3, Fault::Html);
    let r = f.change("bm-vpn", None, "Vpn#Next2025", None).await;
    assert_eq!(r.outcome, Outcome::Unknown, "{r:?}");
    f.sim.inject(Route::IamToken, Fault::Status(503));
    let r = f
        .change(
            "iam-alice",
            Some("Cloud#Demo2024"),
            "Alpine#Meadow2025",
            None,
        )
        .await;
    assert_eq!(r.outcome, Outcome::ServerError, "{r:?}");
    f.sim.inject(Route::CiamToken, Fault::Status(429));
    let r = f
        .change("portal", Some("Portal#Demo2024"), "Portal#Next2025", None)
        .await;
    assert_eq!(r.outcome, Outcome::RateLimited, "{r:?}");
    // Tencent API 2.0 answers every refusal in HTTP 200; a replayed v2 request cannot be
    // produced by the client (fresh nonces), so check the clock-skew path instead.
    f.sim.inject(Route::TencentV2Info, Fault::Status(500));
    let r = f.change("bm-vpn-v2", None, "Vpn#V2new2025", None).await;
    assert_eq!(r.outcome, Outcome::ServerError, "{r:?}");
    assert_eq!(f.current("bm-vpn-v2"), None, "nothing was created");
}
