//! How an attempt ended (SPEC §3), and the report a provider returns for it.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::policy::AccountPolicy;

/// Every attempt ends in exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The password was changed.
    Changed,
    /// The account was created with the password (Tencent BM VPN `Create`).
    Created,
    /// The current password was wrong.
    WrongOldPassword,
    /// The account or instance is locked.
    Locked,
    /// The account is frozen.
    Frozen,
    /// The provider (or the local policy check) refused the new password.
    PolicyRejected,
    /// The new password was used before.
    ReusedPassword,
    /// The credentials (keys, token, client) were refused.
    AuthFailed,
    /// The credentials are valid but not allowed to do this.
    Denied,
    /// The account, instance or user does not exist.
    NotFound,
    /// Too many requests.
    RateLimited,
    /// The provider says the request was malformed or not possible now.
    BadRequest,
    /// The provider says the operation failed.
    Failed,
    /// The provider had an internal error.
    ServerError,
    /// Nothing reached the provider.
    NetworkError,
    /// The change may have reached the provider and no definite answer came back.
    Unknown,
}

impl Outcome {
    /// Every outcome, in SPEC order.
    pub const ALL: [Outcome; 16] = [
        Outcome::Changed,
        Outcome::Created,
        Outcome::WrongOldPassword,
        Outcome::Locked,
        Outcome::Frozen,
        Outcome::PolicyRejected,
        Outcome::ReusedPassword,
        Outcome::AuthFailed,
        Outcome::Denied,
        Outcome::NotFound,
        Outcome::RateLimited,
        Outcome::BadRequest,
        Outcome::Failed,
        Outcome::ServerError,
        Outcome::NetworkError,
        Outcome::Unknown,
    ];

    /// The snake_case name used in JSON, state and audit files.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Changed => "changed",
            Outcome::Created => "created",
            Outcome::WrongOldPassword => "wrong_old_password",
            Outcome::Locked => "locked",
            Outcome::Frozen => "frozen",
            Outcome::PolicyRejected => "policy_rejected",
            Outcome::ReusedPassword => "reused_password",
            Outcome::AuthFailed => "auth_failed",
            Outcome::Denied => "denied",
            Outcome::NotFound => "not_found",
            Outcome::RateLimited => "rate_limited",
            Outcome::BadRequest => "bad_request",
            Outcome::Failed => "failed",
            Outcome::ServerError => "server_error",
            Outcome::NetworkError => "network_error",
            Outcome::Unknown => "unknown",
        }
    }

    /// The exit code of `rekey change` for this outcome (SPEC §2).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Changed | Outcome::Created => 0,
            Outcome::WrongOldPassword
            | Outcome::PolicyRejected
            | Outcome::ReusedPassword
            | Outcome::NotFound
            | Outcome::BadRequest
            | Outcome::Failed => 1,
            Outcome::Locked | Outcome::Frozen => 3,
            Outcome::AuthFailed | Outcome::Denied => 4,
            Outcome::NetworkError
            | Outcome::ServerError
            | Outcome::RateLimited
            | Outcome::Unknown => 5,
        }
    }

    /// Whether the password is now the new one.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Changed | Outcome::Created)
    }

    /// Plain words for the console and stderr.
    pub fn words(self) -> &'static str {
        match self {
            Outcome::Changed => "Password changed",
            Outcome::Created => "Account created with the new password",
            Outcome::WrongOldPassword => "Wrong current password",
            Outcome::Locked => "Locked",
            Outcome::Frozen => "Frozen",
            Outcome::PolicyRejected => "The provider refused the new password (policy)",
            Outcome::ReusedPassword => "The new password was used before",
            Outcome::AuthFailed => "Authentication failed",
            Outcome::Denied => "Not allowed",
            Outcome::NotFound => "Not found",
            Outcome::RateLimited => "Rate limited — wait and try again",
            Outcome::BadRequest => "Refused by the provider",
            Outcome::Failed => "The provider reports the change failed",
            Outcome::ServerError => "Provider error",
            Outcome::NetworkError => "Could not reach the provider; nothing was sent",
            Outcome::Unknown => "No definite answer — the change MAY have been applied",
        }
    }

    /// The fallback for the provider's own error body on the change request, with a code the
    /// mapping does not list (SPEC §3): by status, 5xx `server_error`. Never `changed`: a 2xx
    /// that is not the provider's documented success shape is no definite answer, so it is
    /// `unknown`. An answer that is not the provider's body at all goes through
    /// [`Outcome::from_foreign_answer`] instead.
    ///
    /// A 3xx on the change request is `unknown` too: rekey never follows a redirect, and a
    /// proxy or gateway that answered it may already have passed the change on.
    pub fn from_http_status(status: u16) -> Outcome {
        match status {
            200..=399 => Outcome::Unknown,
            _ => Outcome::from_http_status_before_change(status),
        }
    }

    /// The fallback for an answer to a request sent before the change (a token request, the
    /// Tencent v2 info query): nothing was changed, so an odd 2xx is `server_error`, never
    /// `changed` or `unknown`.
    pub fn from_http_status_before_change(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::ServerError,
            401 => Outcome::AuthFailed,
            403 => Outcome::Denied,
            404 => Outcome::NotFound,
            429 => Outcome::RateLimited,
            500..=599 => Outcome::ServerError,
            _ => Outcome::BadRequest,
        }
    }

    /// The outcome of an answer that is not the provider's own documented body: a gateway's
    /// HTML 502 or 504, an empty or foreign body (SPEC §3). On the change request (`is_change`)
    /// a 2xx or a 5xx is `unknown`: the provider behind the gateway may have applied the change.
    /// Before the change request was sent, nothing was changed: as
    /// [`Outcome::from_http_status_before_change`].
    pub fn from_foreign_answer(status: u16, is_change: bool) -> Outcome {
        match status {
            _ if !is_change => Outcome::from_http_status_before_change(status),
            200..=399 | 500..=599 => Outcome::Unknown,
            _ => Outcome::from_http_status(status),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most characters of a report's message kept (it quotes the provider).
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// The most characters of a provider code, request id or expiry time kept.
pub const MAX_CODE_CHARS: usize = 200;

/// Something the console can offer after an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    /// Tencent BM v3: Update said the account does not exist; offer Create.
    OfferCreate,
}

/// What one attempt ended with. Holds no secret: messages come from the provider's error text
/// (escaped when drawn) or from rekey.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The outcome.
    pub outcome: Outcome,
    /// HTTP status of the deciding response.
    pub http_status: Option<u16>,
    /// The provider's error/result code.
    pub provider_code: Option<String>,
    /// What happened, in words.
    pub message: String,
    /// The provider's request id.
    pub request_id: Option<String>,
    /// Attempts left before a lock (DCS `retry_times_left`).
    pub retries_left: Option<u32>,
    /// Minutes left in a lock (DCS `lock_time_left`).
    pub lock_minutes_left: Option<u32>,
    /// When the lock ends.
    pub locked_until: Option<SystemTime>,
    /// IAM: when the (old) password expires, from the token.
    pub password_expires_at: Option<String>,
    /// IAM: the account password policy, when the provider let us read it.
    pub account_policy: Option<AccountPolicy>,
    /// Something to offer next.
    pub follow_up: Option<FollowUp>,
    /// Wall time of the whole attempt.
    pub duration: Duration,
}

impl Report {
    /// A report with just an outcome and words.
    pub fn new(outcome: Outcome, message: impl Into<String>) -> Report {
        Report {
            outcome,
            http_status: None,
            provider_code: None,
            message: message.into(),
            request_id: None,
            retries_left: None,
            lock_minutes_left: None,
            locked_until: None,
            password_expires_at: None,
            account_policy: None,
            follow_up: None,
            duration: Duration::ZERO,
        }
    }

    /// The change request's 5xx answered by Huawei's API gateway (`APIGW.*`, e.g.
    /// `APIGW.0203` "backend timeout") rather than by the service behind it: the service may
    /// have applied the change, so it is a foreign answer (`unknown`) that keeps its code.
    pub fn gateway_answer(status: u16, code: &str, what: &str) -> Option<Report> {
        if status < 500 || !code.starts_with("APIGW.") {
            return None;
        }
        let mut report = Report::foreign_answer(status, what, true);
        report.provider_code = Some(code.to_string());
        Some(report)
    }

    /// The report for an answer to `what` that is not the provider's own documented body (see
    /// [`Outcome::from_foreign_answer`]). When it is `unknown` the message says that the change
    /// may have been applied and was not retried.
    pub fn foreign_answer(status: u16, what: &str, is_change: bool) -> Report {
        let outcome = Outcome::from_foreign_answer(status, is_change);
        let message = match outcome {
            Outcome::Unknown if (300..400).contains(&status) => format!(
                "{what}: HTTP {status}, a redirect, which rekey does not follow. A proxy or \
                 gateway may have passed the change on: it may have been applied; it was not \
                 retried. Verify before trying again"
            ),
            Outcome::Unknown => format!(
                "{what}: HTTP {status} that is not the provider's own answer (a gateway's page, \
                 or an empty or foreign body). The change may have been applied; it was not \
                 retried. Verify before trying again"
            ),
            _ if is_change => format!("HTTP {status}"),
            _ => format!("HTTP {status}; the password change was not sent"),
        };
        let mut report = Report::new(outcome, message);
        report.http_status = Some(status);
        report
    }

    /// One line for the console and stderr, e.g. "Wrong current password — 4 attempts left
    /// before a 5-minute lock".
    pub fn summary(&self) -> String {
        // A refusal with no HTTP answer behind it is rekey's own policy check (the client-side
        // rules, or an account policy read before sending): the provider refused nothing.
        let local_refusal = self.outcome == Outcome::PolicyRejected && self.http_status.is_none();
        let mut out = String::from(if local_refusal {
            "Refused before sending"
        } else {
            self.outcome.words()
        });
        match self.outcome {
            Outcome::WrongOldPassword => {
                if let Some(n) = self.retries_left {
                    let attempts = if n == 1 { "attempt" } else { "attempts" };
                    out.push_str(&format!(" — {n} {attempts} left before a 5-minute lock"));
                }
            }
            Outcome::Locked | Outcome::Frozen => {
                if let Some(m) = self.lock_minutes_left {
                    let minutes = if m == 1 { "minute" } else { "minutes" };
                    out.push_str(&format!(" — {m} {minutes} left"));
                }
            }
            _ => {}
        }
        let msg = self.message.trim();
        if !msg.is_empty() && !self.outcome.is_success() {
            out.push_str(": ");
            // The message quotes the provider: never raw on a terminal.
            out.push_str(&crate::text::escape(msg));
        }
        out
    }

    /// Cuts the texts that came from the provider (message, code, request id, expiry) to a
    /// bounded length, raw: they are escaped where they are shown or written as JSON.
    pub fn cap_outside_text(&mut self) {
        let cut = |s: &mut String, max: usize| {
            if s.chars().nth(max).is_some() {
                *s = crate::text::cap(s, max);
            }
        };
        cut(&mut self.message, MAX_MESSAGE_CHARS);
        for field in [
            &mut self.provider_code,
            &mut self.request_id,
            &mut self.password_expires_at,
        ]
        .into_iter()
        .flatten()
        {
            cut(field, MAX_CODE_CHARS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_spec_table() {
        let expected = [
            (Outcome::Changed, 0),
            (Outcome::Created, 0),
            (Outcome::WrongOldPassword, 1),
            (Outcome::PolicyRejected, 1),
            (Outcome::ReusedPassword, 1),
            (Outcome::NotFound, 1),
            (Outcome::BadRequest, 1),
            (Outcome::Failed, 1),
            (Outcome::Locked, 3),
            (Outcome::Frozen, 3),
            (Outcome::AuthFailed, 4),
            (Outcome::Denied, 4),
            (Outcome::NetworkError, 5),
            (Outcome::ServerError, 5),
            (Outcome::RateLimited, 5),
            (Outcome::Unknown, 5),
        ];
        assert_eq!(expected.len(), Outcome::ALL.len());
        for (outcome, code) in expected {
            assert_eq!(outcome.exit_code(), code, "{outcome}");
        }
    }

    #[test]
    fn names_are_snake_case_in_json() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_string(&outcome).expect("serializes");
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
        }
    }

    #[test]
    fn http_status_fallbacks() {
        for (status, outcome) in [
            (400, Outcome::BadRequest),
            (401, Outcome::AuthFailed),
            (403, Outcome::Denied),
            (404, Outcome::NotFound),
            (409, Outcome::BadRequest),
            (429, Outcome::RateLimited),
            (500, Outcome::ServerError),
            (503, Outcome::ServerError),
        ] {
            assert_eq!(Outcome::from_http_status(status), outcome, "{status}");
            assert_eq!(
                Outcome::from_http_status_before_change(status),
                outcome,
                "{status}"
            );
        }
    }

    #[test]
    fn a_2xx_fallback_is_never_changed() {
        for status in [200, 201, 202, 203, 204, 206, 299] {
            // The change request: no definite answer.
            assert_eq!(Outcome::from_http_status(status), Outcome::Unknown);
            // Before the change: nothing was changed.
            assert_eq!(
                Outcome::from_http_status_before_change(status),
                Outcome::ServerError
            );
        }
        for status in 100..=599 {
            assert!(!Outcome::from_http_status(status).is_success(), "{status}");
            assert!(
                !Outcome::from_http_status_before_change(status).is_success(),
                "{status}"
            );
            assert_ne!(
                Outcome::from_http_status_before_change(status),
                Outcome::Unknown
            );
        }
    }

    #[test]
    fn a_3xx_to_the_change_request_is_unknown() {
        for status in [300, 301, 302, 303, 304, 307, 308, 399] {
            assert_eq!(
                Outcome::from_http_status(status),
                Outcome::Unknown,
                "{status}"
            );
            assert_eq!(Outcome::from_foreign_answer(status, true), Outcome::Unknown);
            // Before the change was sent nothing can have been applied.
            assert_eq!(
                Outcome::from_foreign_answer(status, false),
                Outcome::BadRequest
            );
            let rep = Report::foreign_answer(status, "DCS password change", true);
            assert_eq!(
                (rep.outcome, rep.http_status),
                (Outcome::Unknown, Some(status))
            );
            assert!(rep.message.contains("redirect"), "{}", rep.message);
        }
    }

    #[test]
    fn a_foreign_5xx_is_unknown_only_on_the_change_request() {
        for status in [500, 502, 503, 504, 599] {
            assert_eq!(Outcome::from_foreign_answer(status, true), Outcome::Unknown);
            assert_eq!(
                Outcome::from_foreign_answer(status, false),
                Outcome::ServerError
            );
            // The provider's own error body keeps `server_error`.
            assert_eq!(Outcome::from_http_status(status), Outcome::ServerError);
        }
        for status in [200, 202, 204] {
            assert_eq!(Outcome::from_foreign_answer(status, true), Outcome::Unknown);
            assert_eq!(
                Outcome::from_foreign_answer(status, false),
                Outcome::ServerError
            );
        }
        for (status, outcome) in [
            (400, Outcome::BadRequest),
            (401, Outcome::AuthFailed),
            (403, Outcome::Denied),
            (404, Outcome::NotFound),
            (429, Outcome::RateLimited),
        ] {
            assert_eq!(Outcome::from_foreign_answer(status, true), outcome);
            assert_eq!(Outcome::from_foreign_answer(status, false), outcome);
        }
        // Huawei's API gateway answering a 5xx for the service behind it: unknown, code kept.
        let rep =
            Report::gateway_answer(504, "APIGW.0203", "DCS password change").expect("gateway");
        assert_eq!(rep.outcome, Outcome::Unknown);
        assert_eq!(rep.provider_code.as_deref(), Some("APIGW.0203"));
        assert!(
            Report::gateway_answer(429, "APIGW.0308", "x").is_none(),
            "throttling is a refusal"
        );
        assert!(
            Report::gateway_answer(500, "DCS.5000", "x").is_none(),
            "the service's own error"
        );
        let rep = Report::foreign_answer(504, "IAM password change", true);
        assert_eq!(
            (rep.outcome, rep.http_status),
            (Outcome::Unknown, Some(504))
        );
        assert!(
            rep.message.contains("may have been applied") && rep.message.contains("not retried"),
            "{}",
            rep.message
        );
        let rep = Report::foreign_answer(502, "IAM token request", false);
        assert_eq!(rep.outcome, Outcome::ServerError);
        assert!(rep.message.contains("not sent"), "{}", rep.message);
    }

    #[test]
    fn summary_escapes_the_providers_words_and_texts_are_capped() {
        let mut r = Report::new(
            Outcome::BadRequest,
            "bad\u{1b}]52;c;aGk=\u{7}\u{1b}[2J\u{9b}1m\u{202e}\u{2028}x",
        );
        let line = r.summary();
        assert!(!line.chars().any(crate::text::is_dangerous), "{line:?}");
        assert!(line.contains("\\u{1b}]52"), "{line}");
        r.message = "m".repeat(MAX_MESSAGE_CHARS + 10);
        r.provider_code = Some("c".repeat(MAX_CODE_CHARS * 2));
        r.request_id = Some("r".repeat(10));
        r.cap_outside_text();
        assert_eq!(r.message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert_eq!(
            r.provider_code.as_deref().map(|c| c.chars().count()),
            Some(MAX_CODE_CHARS + 1)
        );
        assert_eq!(r.request_id.as_deref(), Some("rrrrrrrrrr"));
    }

    #[test]
    fn summary_counts_attempts_and_minutes() {
        let mut r = Report::new(Outcome::WrongOldPassword, "");
        r.retries_left = Some(4);
        assert_eq!(
            r.summary(),
            "Wrong current password — 4 attempts left before a 5-minute lock"
        );
        let mut r = Report::new(Outcome::Locked, "");
        r.lock_minutes_left = Some(1);
        assert_eq!(r.summary(), "Locked — 1 minute left");
    }
}
