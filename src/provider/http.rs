//! The HTTP layer: sends one request with the profile's timeout, never retries, and records
//! every exchange (redacted) for the request/response log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
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

/// The most of an answer rekey reads (1 MiB). A larger answer is treated as no answer: the
/// caller decides whether that is `unknown` (the change request) or `network_error`.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The buffer an answer without `Content-Length` starts with.
const INITIAL_ANSWER_BYTES: usize = 8 * 1024;

/// An answer. Header values, the body and the body parsed as JSON are zeroized on drop (tokens
/// arrive in all of them).
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower-case.
    pub headers: Vec<(String, Zeroizing<String>)>,
    /// Body bytes.
    pub body: Zeroizing<Vec<u8>>,
    /// The body parsed as JSON, once, on first use.
    parsed: OnceLock<Option<serde_json::Value>>,
}

impl Drop for Response {
    fn drop(&mut self) {
        if let Some(Some(value)) = self.parsed.get_mut() {
            redact::wipe(value);
        }
    }
}

impl Response {
    /// An answer from its parts.
    pub fn new(
        status: u16,
        headers: Vec<(String, Zeroizing<String>)>,
        body: Zeroizing<Vec<u8>>,
    ) -> Response {
        Response {
            status,
            headers,
            body,
            parsed: OnceLock::new(),
        }
    }

    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON. Parsed once; later calls return the same value.
    pub fn json(&self) -> Option<&serde_json::Value> {
        self.parsed
            .get_or_init(|| serde_json::from_slice(&self.body).ok())
            .as_ref()
    }

    /// Whether this is a 2xx answer.
    pub fn is_2xx(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A response built by hand (tests of the mapping tables).
    pub fn from_parts(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response::new(
            status,
            headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), Zeroizing::new(v.to_string())))
                .collect(),
            Zeroizing::new(body.as_bytes().to_vec()),
        )
    }
}

/// Appends `chunk` to `buf` without leaving a copy behind: when `buf` must grow, its bytes move
/// to a new zeroizing buffer and the old one is wiped. Returns false (and appends nothing) when
/// the total would pass `limit`.
fn append_capped(buf: &mut Zeroizing<Vec<u8>>, chunk: &[u8], limit: usize) -> bool {
    let needed = buf.len().saturating_add(chunk.len());
    if needed > limit {
        return false;
    }
    if needed > buf.capacity() {
        let capacity = needed.max(buf.capacity().saturating_mul(2)).min(limit);
        let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
        grown.extend_from_slice(buf);
        // The old buffer is zeroized as it drops.
        *buf = grown;
    }
    buf.extend_from_slice(chunk);
    true
}

/// Why a body could not be read.
enum BodyError {
    /// Larger than [`MAX_ANSWER_BYTES`].
    TooLarge,
    /// The transfer failed.
    Http(reqwest::Error),
}

/// Reads the body chunk by chunk into a zeroizing buffer, sized from `Content-Length` when
/// given (capped), and never past [`MAX_ANSWER_BYTES`].
async fn read_body(response: &mut reqwest::Response) -> Result<Zeroizing<Vec<u8>>, BodyError> {
    let limit = MAX_ANSWER_BYTES;
    let initial = match response.content_length() {
        Some(n) if n > limit as u64 => return Err(BodyError::TooLarge),
        Some(n) => n as usize,
        None => INITIAL_ANSWER_BYTES.min(limit),
    };
    let mut buf = Zeroizing::new(Vec::with_capacity(initial));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Http)? {
        if !append_capped(&mut buf, &chunk, limit) {
            return Err(BodyError::TooLarge);
        }
    }
    Ok(buf)
}

/// An exchange that ended without a usable answer: what did arrive (for the log), and why.
struct Unanswered {
    status: Option<u16>,
    headers: Vec<(String, Zeroizing<String>)>,
    failure: Failure,
}

impl Unanswered {
    fn from_error(e: reqwest::Error) -> Unanswered {
        let e = e.without_url();
        let failure = if e.is_connect() || handed_back_unsent(&e) {
            Failure::Connect(describe(&e))
        } else {
            Failure::NoAnswer(describe(&e))
        };
        Unanswered {
            status: None,
            headers: Vec::new(),
            failure,
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
    /// An answer came with this HTTP status, and its body was larger than
    /// [`MAX_ANSWER_BYTES`]: it was not read.
    TooLarge(u16),
}

impl Failure {
    /// The failure in words (for the log).
    pub fn words(&self) -> String {
        match self {
            Failure::Connect(m) | Failure::NoAnswer(m) => m.clone(),
            Failure::TooLarge(status) => format!("HTTP {status}: {TOO_LARGE}"),
        }
    }
}

/// What the log and the report say about an answer over [`MAX_ANSWER_BYTES`].
pub const TOO_LARGE: &str = "answer too large (over 1 MiB), not read";

/// Where log entries go (the console's queue, or nowhere for a headless run).
pub type LogSink = Arc<dyn Fn(LogEntry) + Send + Sync>;

/// Waits until a change request may leave (a rate limiter); see [`paced`].
pub type Pace =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

tokio::task_local! {
    static PACE: Pace;
}

/// Runs `job` (a change of one profile) so that its change request waits for `pace` right
/// before it is sent. Without it (the console, `rekey change`) nothing waits.
pub async fn paced<F: std::future::Future>(pace: Pace, job: F) -> F::Output {
    PACE.scope(pace, job).await
}

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
        let entry = LogEntry {
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
            value.set_sensitive(redact::is_secret_header(name));
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Failure::Connect(format!("{name} is not a valid header name")))?;
            builder = builder.header(header, value);
        }
        if let Some(body) = request.body {
            builder = builder.body(reqwest::Body::from(Bytes::from_owner(body)));
        }
        if request.is_change {
            // A fleet rotation paces change requests per provider and credential (SPEC §11):
            // the wait is here, right before the request leaves, so staging time never
            // bunches requests up. Nothing has been sent while it waits.
            if let Ok(pace) = PACE.try_with(Clone::clone) {
                pace().await;
            }
            self.change_sent.store(true, Ordering::SeqCst);
        }
        let start = Instant::now();
        // Cancelled (Esc, a signal) while waiting for the answer, this future is dropped: the
        // guard still logs the request that was sent, with how long it waited.
        let mut pending = Unfinished {
            entry: Some(entry),
            start,
            log: &self.log,
        };
        let result = exchange(builder).await;
        let Some(mut entry) = pending.entry.take() else {
            unreachable!("the entry is taken only here")
        };
        entry.duration = start.elapsed();
        match result {
            Ok(response) => {
                entry.status = Some(response.status);
                entry.provider_code = code_of(&response);
                entry.response_headers = shown_headers(&response.headers);
                entry.response_body = match response.json() {
                    Some(value) => redact::json_shown(value),
                    None => redact::text_body(response.header("content-type"), &response.body),
                };
                (self.log)(entry);
                Ok(response)
            }
            Err(unanswered) => {
                entry.status = unanswered.status;
                entry.response_headers = shown_headers(&unanswered.headers);
                entry.error = Some(unanswered.failure.words());
                (self.log)(entry);
                Err(unanswered.failure)
            }
        }
    }
}

/// A request on the wire whose answer has not come: logged when dropped still holding it.
struct Unfinished<'a> {
    entry: Option<LogEntry>,
    start: Instant,
    log: &'a LogSink,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if let Some(mut entry) = self.entry.take() {
            entry.duration = self.start.elapsed();
            entry.error = Some("cancelled while waiting for the answer".into());
            (self.log)(entry);
        }
    }
}

/// Headers as the log shows them.
fn shown_headers(headers: &[(String, Zeroizing<String>)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.clone(), redact::header(n, v)))
        .collect()
}

/// Sends the request and reads the whole answer (at most [`MAX_ANSWER_BYTES`] of body).
async fn exchange(builder: reqwest::RequestBuilder) -> Result<Response, Unanswered> {
    let mut response = builder.send().await.map_err(Unanswered::from_error)?;
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
    match read_body(&mut response).await {
        Ok(body) => Ok(Response::new(status, headers, body)),
        Err(e) => {
            let failure = match e {
                BodyError::TooLarge => Failure::TooLarge(status),
                BodyError::Http(e) => Unanswered::from_error(e).failure,
            };
            Err(Unanswered {
                status: Some(status),
                headers,
                failure,
            })
        }
    }
}

/// A TLS failure in plain words, found in the text of one of the error's causes (rustls's
/// own `Display`, which is partly `Debug`: `UnknownIssuer`, `InvalidContentType`), or `None`
/// when the text is not a TLS failure rekey knows.
pub fn tls_words(cause: &str) -> Option<String> {
    const ADD_CA: &str = "if this server uses a private CA, add its CA certificate to the profile \
                          with ca_file = \"/path/to/ca.pem\"";
    let words = if let Some(why) = cause.split("invalid peer certificate:").nth(1) {
        let why = why.trim();
        if why.contains("UnknownIssuer") || why.contains("UnhandledCriticalExtension") {
            format!(
                "the server's certificate is not trusted: it was not issued by a certificate authority this machine trusts; {ADD_CA}"
            )
        } else if why.contains("not valid for name") || why.contains("NotValidForName") {
            "the server's certificate is not valid for this host name: check the profile's endpoint (a proxy or a wrong host may be answering)".to_string()
        } else if why.contains("expired") || why.contains("Expired") {
            "the server's certificate has expired (or this machine's clock is wrong)".to_string()
        } else if why.contains("not valid yet") || why.contains("NotValidYet") {
            "the server's certificate is not valid yet (or this machine's clock is wrong)"
                .to_string()
        } else if why.contains("Revoked") {
            "the server's certificate has been revoked".to_string()
        } else {
            format!("the server's certificate is not trusted; {ADD_CA}")
        }
    } else if cause.contains("received corrupt message") || cause.contains("InvalidContentType") {
        "the server did not answer in TLS: is the endpoint a plain http:// server, or is something in between?".to_string()
    } else if cause.contains("received fatal alert") || cause.contains("peer is incompatible") {
        "the TLS handshake failed: the server refused the connection's security settings"
            .to_string()
    } else {
        return None;
    };
    Some(words)
}

/// The text of hyper-util's error when it hands a request back unsent (its `Canceled` kind: the
/// connection closed, or was given up, before the request was written).
const UNSENT: &str = "client error (Canceled)";

/// Whether a cause of `e` says the request was handed back unsent: nothing of it reached the
/// server, so a change that failed this way is a `network_error`, not `unknown`. hyper-util has
/// no public method for it, so its text is read; if that text ever changes, the failure counts
/// as possibly sent (`unknown` for a change): the safe side.
fn handed_back_unsent(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = e.source();
    while let Some(s) = source {
        if s.to_string() == UNSENT {
            return true;
        }
        source = s.source();
    }
    false
}

/// A reqwest error in words, with its causes (never a URL: callers strip it).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if handed_back_unsent(e) {
        "the connection closed before the request was sent"
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
    if let Some(tls) = causes.iter().find_map(|c| tls_words(c)) {
        return format!("{what}: {tls}");
    }
    match causes.last() {
        Some(root) => format!("{what} ({})", crate::text::escape(root)),
        None => what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves `answer` (raw HTTP/1.1 bytes) to one connection on loopback; returns its URL.
    async fn serve_once(answer: Vec<u8>) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = sock.write_all(&answer).await;
            let _ = sock.shutdown().await;
        });
        Url::parse(&format!("http://127.0.0.1:{port}/x")).expect("url")
    }

    fn session() -> (Session, Arc<Mutex<Vec<LogEntry>>>) {
        let entries = Arc::new(Mutex::new(Vec::new()));
        let sink = entries.clone();
        let log: LogSink = Arc::new(move |e| sink.lock().expect("log").push(e));
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let s = Session::new(
            client,
            "test",
            Duration::from_secs(10),
            log,
            Arc::new(AtomicBool::new(false)),
        );
        (s, entries)
    }

    fn chunked(head: &str, chunks: &[&[u8]]) -> Vec<u8> {
        let mut out =
            format!("{head}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").into_bytes();
        for c in chunks {
            out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    #[tokio::test]
    async fn an_answer_over_1_mib_is_no_answer_and_is_still_logged() {
        // Without Content-Length: read chunk by chunk until the cap.
        let piece = vec![b'a'; 64 * 1024];
        let pieces: Vec<&[u8]> = std::iter::repeat_n(piece.as_slice(), 17).collect();
        let url = serve_once(chunked(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: sid=Cq9secret\r\n",
            &pieces,
        ))
        .await;
        let (s, log) = session();
        let got = s
            .send(Request::new(reqwest::Method::GET, url).change(), |_| None)
            .await;
        match got {
            Err(Failure::TooLarge(status)) => assert_eq!(status, 200),
            Err(other) => panic!("expected TooLarge, got {other:?}"),
            Ok(r) => panic!("expected no answer, got {} bytes", r.body.len()),
        }
        let entries = log.lock().expect("log");
        assert_eq!(entries.len(), 1, "the exchange is logged");
        let e = &entries[0];
        assert_eq!(e.status, Some(200));
        assert!(e.error.as_deref().is_some_and(|m| m.contains("too large")));
        let cookie = e
            .response_headers
            .iter()
            .find(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str());
        assert_eq!(cookie, Some(redact::MASK));
        // The caller's `no_answer` makes it `unknown` for the change, and keeps the status.
        let rep = super::super::job::no_answer(Failure::TooLarge(200), "change", true);
        assert_eq!(rep.outcome, super::super::outcome::Outcome::Unknown);
        assert_eq!(rep.http_status, Some(200));
        assert!(rep.message.contains("too large"), "{}", rep.message);
        let rep = super::super::job::no_answer(Failure::TooLarge(401), "token", false);
        assert_eq!(rep.outcome, super::super::outcome::Outcome::NetworkError);
        assert_eq!(rep.http_status, Some(401));
    }

    #[tokio::test]
    async fn a_content_length_over_1_mib_is_refused_before_reading() {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            MAX_ANSWER_BYTES + 1
        );
        let mut answer = head.into_bytes();
        answer.extend_from_slice(b"{}");
        let url = serve_once(answer).await;
        let (s, log) = session();
        let got = s
            .send(Request::new(reqwest::Method::GET, url), |_| None)
            .await;
        assert!(
            matches!(&got, Err(Failure::TooLarge(200))),
            "{:?}",
            got.err()
        );
        assert_eq!(log.lock().expect("log")[0].status, Some(200));
    }

    #[tokio::test]
    async fn chunked_and_sized_answers_are_read_whole_and_masked_in_the_log() {
        let token = "Cq9!zKanary#71";
        let json = format!(r#"{{"access_token":"{token}","token_type":"Bearer"}}"#);
        let (a, b) = json.as_bytes().split_at(10);
        let url = serve_once(chunked(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
            &[a, b],
        ))
        .await;
        let (s, log) = session();
        let r = s
            .send(Request::new(reqwest::Method::GET, url), |r| {
                r.json()
                    .and_then(|v| v.get("token_type")?.as_str().map(String::from))
            })
            .await
            .map_err(|f| format!("{f:?}"))
            .expect("answer");
        assert_eq!(r.body.as_slice(), json.as_bytes());
        assert_eq!(
            r.json().and_then(|v| v.get("access_token")?.as_str()),
            Some(token)
        );
        {
            let entries = log.lock().expect("log");
            assert!(!entries[0].response_body.contains(token));
            assert!(entries[0].response_body.contains("Bearer"));
            assert_eq!(entries[0].provider_code.as_deref(), Some("Bearer"));
        }

        let body = "x".repeat(20_000);
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let url = serve_once(answer.into_bytes()).await;
        let r = s
            .send(Request::new(reqwest::Method::GET, url), |_| None)
            .await
            .map_err(|f| format!("{f:?}"))
            .expect("answer");
        assert_eq!(r.body.len(), body.len());
        assert_eq!(r.body.capacity(), body.len(), "sized from Content-Length");
    }

    #[tokio::test]
    async fn https_to_a_plain_http_server_fails_in_plain_words() {
        // A real reqwest error: a TLS client hello answered at once by a plain HTTP server.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut sock, _)) = listener.accept().await {
                let _ = sock
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
                let _ = sock.shutdown().await;
            }
        });
        let url = Url::parse(&format!("https://127.0.0.1:{port}/x")).expect("url");
        let (s, log) = session();
        let got = s
            .send(Request::new(reqwest::Method::PUT, url).change(), |_| None)
            .await;
        let Err(Failure::Connect(words)) = got else {
            panic!("expected a connect failure, got {:?}", got.err());
        };
        assert!(words.contains("did not answer in TLS"), "{words}");
        assert!(
            !words.contains("InvalidContentType"),
            "no Debug names: {words}"
        );
        let entries = log.lock().expect("log");
        assert_eq!(entries[0].error.as_deref(), Some(words.as_str()));
    }

    #[test]
    fn tls_causes_read_as_plain_words() {
        let unknown = tls_words("invalid peer certificate: UnknownIssuer").expect("tls");
        assert!(
            unknown.starts_with("the server's certificate is not trusted"),
            "{unknown}"
        );
        assert!(unknown.contains("ca_file"), "{unknown}");
        assert!(!unknown.contains("UnknownIssuer"));
        let name = tls_words(
            "invalid peer certificate: certificate not valid for name \"a\"; certificate is only valid for b",
        )
        .expect("tls");
        assert!(name.contains("not valid for this host name"), "{name}");
        let expired = tls_words("invalid peer certificate: certificate expired: verification time 1 (UNIX), but certificate is not valid after 0 (1 seconds ago)").expect("tls");
        assert!(expired.contains("has expired"), "{expired}");
        let other = tls_words("invalid peer certificate: BadSignature").expect("tls");
        assert!(
            other.contains("not trusted") && other.contains("ca_file"),
            "{other}"
        );
        assert!(tls_words("connection refused").is_none());
    }

    /// An error with a message and an optional cause.
    #[derive(Debug)]
    struct Chain(&'static str, Option<Box<Chain>>);
    impl std::fmt::Display for Chain {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Chain {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|c| c as _)
        }
    }

    #[test]
    fn a_request_handed_back_unsent_is_told_apart() {
        let chain = |kind: &'static str| {
            Chain(
                "error sending request",
                Some(Box::new(Chain(
                    kind,
                    Some(Box::new(Chain(
                        "connection closed before message completed",
                        None,
                    ))),
                ))),
            )
        };
        assert!(handed_back_unsent(&chain(UNSENT)));
        // Written (or partly written) and then cut: it may have arrived.
        assert!(!handed_back_unsent(&chain("client error (SendRequest)")));
        assert!(
            !handed_back_unsent(&Chain(UNSENT, None)),
            "only a cause counts"
        );
    }

    #[test]
    fn growing_the_buffer_stops_at_the_cap() {
        let mut buf = Zeroizing::new(Vec::with_capacity(4));
        assert!(append_capped(&mut buf, b"abc", 16));
        assert!(append_capped(&mut buf, b"defgh", 16));
        assert_eq!(buf.as_slice(), b"abcdefgh");
        assert!(buf.capacity() <= 16);
        assert!(append_capped(&mut buf, b"12345678", 16));
        assert_eq!(buf.len(), 16);
        assert!(!append_capped(&mut buf, b"!", 16), "one byte past the cap");
        assert_eq!(buf.len(), 16, "nothing appended past the cap");
    }

    #[test]
    fn the_body_is_parsed_once() {
        let r = Response::from_parts(200, &[], r#"{"a":1}"#);
        let first = r.json().expect("json") as *const serde_json::Value;
        let second = r.json().expect("json") as *const serde_json::Value;
        assert_eq!(first, second);
        assert!(Response::from_parts(200, &[], "<html>").json().is_none());
    }
}
