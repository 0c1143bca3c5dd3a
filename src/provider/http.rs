//! The HTTP layer: sends one request with the profile's timeout, never retries, and records
//! every exchange (redacted) for the request/response log.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;
use zeroize::Zeroizing;

use super::redact;

/// One HTTP exchange as the log shows it: no secret in any field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// When the request was sent.
    pub at: SystemTime,
    /// Which profile.
    pub profile: String,
    /// HTTP method.
    pub method: String,
    /// The URL, query secrets masked.
    pub url: String,
    /// HTTP status, if an answer came.
    pub status: Option<u16>,
    /// Time to the full answer (or the failure).
    pub duration: Duration,
    /// The provider's code from the answer, if any.
    pub provider_code: Option<String>,
    /// Request headers, secrets masked.
    pub request_headers: Vec<(String, String)>,
    /// Request body, secret fields masked.
    pub request_body: String,
    /// Response headers, secrets masked.
    pub response_headers: Vec<(String, String)>,
    /// Response body, secret fields masked, cut to a readable size.
    pub response_body: String,
    /// Why no answer came, if none did.
    pub error: Option<String>,
}

/// A request a provider built. The body is in a zeroizing buffer; `log_body` is the same body
/// built with every secret field masked.
pub struct Request {
    /// Method.
    pub method: reqwest::Method,
    /// Full URL (never carrying a secret in its query).
    pub url: Url,
    /// Headers in the order they are sent; values zeroized on drop (some are tokens).
    pub headers: Vec<(&'static str, Zeroizing<String>)>,
    /// Body bytes.
    pub body: Option<Zeroizing<Vec<u8>>>,
    /// The body as the log shows it.
    pub log_body: String,
    /// True for the request that changes the password: once it is sent, a missing answer
    /// means `unknown`, not `network_error`.
    pub is_change: bool,
}

impl Request {
    /// A request without headers or body.
    pub fn new(method: reqwest::Method, url: Url) -> Request {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: None,
            log_body: String::new(),
            is_change: false,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, Zeroizing::new(value.into())));
        self
    }

    /// Sets the body and how the log shows it.
    pub fn body(mut self, body: Zeroizing<Vec<u8>>, log_body: String) -> Request {
        self.body = Some(body);
        self.log_body = log_body;
        self
    }

    /// Marks this as the password-changing request.
    pub fn change(mut self) -> Request {
        self.is_change = true;
        self
    }

    /// The `Host` header value actually sent: host, plus the port when it is not the default.
    pub fn host(&self) -> String {
        host_of(&self.url)
    }
}

/// `host[:port]` of a URL as reqwest sends it in the Host header.
pub fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// An answer. Header values and the body are zeroized on drop (tokens arrive in both).
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, Zeroizing<String>)>,
    /// Body bytes.
    pub body: Zeroizing<Vec<u8>>,
}

impl Response {
    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A response built by hand (tests of the mapping tables).
    pub fn from_parts(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), Zeroizing::new(v.to_string())))
                .collect(),
            body: Zeroizing::new(body.as_bytes().to_vec()),
        }
    }
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The connection could not be made: nothing reached the provider.
    Connect(String),
    /// The request was (or may have been) sent, and no complete answer came back.
    NoAnswer(String),
}

/// Where log entries go (the console's queue, or nowhere for a headless run).
pub type LogSink = Arc<dyn Fn(LogEntry) + Send + Sync>;

/// Everything a provider needs to talk HTTP for one job.
pub struct Session {
    client: reqwest::Client,
    profile: String,
    timeout: Duration,
    log: LogSink,
    change_sent: Arc<AtomicBool>,
}

impl Session {
    /// A session for one job of `profile`. `change_sent` is set once the change request has
    /// been handed to the network (a cancelled job then ends as `unknown`).
    pub fn new(
        client: reqwest::Client,
        profile: &str,
        timeout: Duration,
        log: LogSink,
        change_sent: Arc<AtomicBool>,
    ) -> Self {
        Session {
            client,
            profile: profile.to_string(),
            timeout,
            log,
            change_sent,
        }
    }

    /// Sends `request` once, records the exchange with the code `code_of` reads from the
    /// answer, and returns the answer.
    pub async fn send(
        &self,
        request: Request,
        code_of: impl Fn(&Response) -> Option<String>,
    ) -> Result<Response, Failure> {
        let mut entry = LogEntry {
            at: SystemTime::now(),
            profile: self.profile.clone(),
            method: request.method.to_string(),
            url: redact::url(&request.url),
            status: None,
            duration: Duration::ZERO,
            provider_code: None,
            request_headers: request
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), redact::header(n, v)))
                .collect(),
            request_body: request.log_body.clone(),
            response_headers: Vec::new(),
            response_body: String::new(),
            error: None,
        };
        let mut builder = self
            .client
            .request(request.method.clone(), request.url.clone())
            .timeout(self.timeout);
        for (name, value) in &request.headers {
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                Failure::Connect(format!("header {name} has characters HTTP cannot carry"))
            })?;
            value.set_sensitive(
                redact::SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()),
            );
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Failure::Connect(format!("{name} is not a valid header name")))?;
            builder = builder.header(header, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(reqwest::Body::from(Bytes::from_owner(body)));
        }
        if request.is_change {
            self.change_sent.store(true, Ordering::SeqCst);
        }
        let start = Instant::now();
        let result = async {
            let response = builder.send().await?;
            let status = response.status().as_u16();
            let headers: Vec<(String, Zeroizing<String>)> = response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        Zeroizing::new(String::from_utf8_lossy(v.as_bytes()).into_owned()),
                    )
                })
                .collect();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>(Response {
                status,
                headers,
                body: Zeroizing::new(bytes.to_vec()),
            })
        }
        .await;
        entry.duration = start.elapsed();
        match result {
            Ok(response) => {
                entry.status = Some(response.status);
                entry.provider_code = code_of(&response);
                entry.response_headers = response
                    .headers
                    .iter()
                    .map(|(n, v)| (n.clone(), redact::header(n, v)))
                    .collect();
                entry.response_body = redact::body(response.header("content-type"), &response.body);
                (self.log)(entry);
                Ok(response)
            }
            Err(e) => {
                let e = e.without_url();
                let failure = if e.is_connect() {
                    Failure::Connect(describe(&e))
                } else {
                    Failure::NoAnswer(describe(&e))
                };
                entry.error = Some(match &failure {
                    Failure::Connect(m) | Failure::NoAnswer(m) => m.clone(),
                });
                (self.log)(entry);
                Err(failure)
            }
        }
    }
}

/// A reqwest error in words, with its causes (never a URL: callers strip it).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "the connection failed"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    match causes.last() {
        Some(root) => format!("{what} ({root})"),
        None => what.to_string(),
    }
}
