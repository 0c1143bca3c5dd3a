//! The simulator's side of HTTP/1.1, on hyper: one request per connection, read within the
//! limits below, answered with `Content-Length` and `Connection: close`, and the simulator's
//! own small [`Request`]/[`Response`] types at the edge, so the provider handlers never see
//! hyper.
//!
//! Limits, and what a request past them gets: a head over [`MAX_HEAD`] bytes or with more than
//! [`MAX_HEADERS`] fields, 431 (hyper's read-buffer cap, and the head's size counted here, as
//! one large read can overshoot that cap); a head not read within [`READ_TIMEOUT`], the connection
//! closed (hyper's header timeout); `Transfer-Encoding`, 411; a declared body over
//! [`MAX_BODY`], 413 (and a longer one is cut by `http_body_util::Limited`, 413 too); a body
//! not read within [`READ_TIMEOUT`], 408; a malformed head, 400 (hyper); a header value that is
//! not UTF-8 or an HTTP/1.1 request without exactly one `Host`, 400. A request cut short by the
//! peer gets no answer.
//!
//! No fault needs bytes hyper will not write: a malformed body is a well-framed answer whose
//! JSON is cut, and a dropped answer is the connection closed by the service's error (see
//! [`serve`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

/// The largest request head accepted (request line + headers + blank line).
pub const MAX_HEAD: usize = 64 * 1024;
/// The largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// The most header lines accepted.
pub const MAX_HEADERS: usize = 100;
/// How long a client may take to send its request head, and then its body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One request as read by hyper. Header values and the body are zeroized on drop:
/// they carry passwords, tokens and signatures.
pub struct Request {
    /// Method, e.g. `POST` (case-sensitive, as sent).
    pub method: String,
    /// The raw path of the request target (no query), e.g. `/v3/auth/tokens`.
    pub path: String,
    /// The raw query string after `?` (empty when none).
    pub query: String,
    /// Headers, names in lower case (as hyper reads them), values trimmed; all values of a
    /// name together, in the order received.
    pub headers: Vec<(String, Zeroizing<String>)>,
    /// The body, exactly `Content-Length` bytes.
    pub body: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        write!(
            f,
            "Request({} {} headers={names:?} body={} bytes)",
            self.method,
            self.path,
            self.body.len()
        )
    }
}

impl Request {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many times a header appears.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (Content-Length and Connection are added when written).
    pub headers: Vec<(String, String)>,
    /// Body bytes (never a password; tokens only where the API returns them).
    pub body: Vec<u8>,
}

impl Response {
    /// An answer with a JSON body.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// An answer with a body of the given content type.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// An answer without a body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A plain-text protocol error (used before any route is known).
    pub fn protocol_error(status: u16, why: &str) -> Response {
        Response::raw(status, "text/plain; charset=utf-8", format!("{why}\n"))
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The reason phrase for a status ("Status" when it has none).
pub fn reason(status: u16) -> &'static str {
    hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Status")
}

/// Why no request could be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The peer closed (or the socket failed) before a full request: nothing to answer.
    Closed,
    /// The request breaks a rule; answer with this status and reason.
    Http(u16, &'static str),
}

/// Turns hyper's request into the simulator's: headers checked, the body read into a
/// zeroizing buffer sized once from `Content-Length` (so it never reallocates and leaves a
/// copy of a secret behind).
async fn read(req: hyper::Request<Incoming>) -> Result<Request, ReadError> {
    let (parts, body) = req.into_parts();
    if parts.headers.contains_key(header::TRANSFER_ENCODING) {
        return Err(ReadError::Http(
            411,
            "Transfer-Encoding is not supported; send Content-Length",
        ));
    }
    if parts.version == hyper::Version::HTTP_11
        && parts.headers.get_all(header::HOST).iter().count() != 1
    {
        return Err(ReadError::Http(
            400,
            "HTTP/1.1 needs exactly one Host header",
        ));
    }
    // hyper's own cap is its read buffer, which one large read can overshoot: count the head.
    let head = parts.uri.to_string().len()
        + parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if head > MAX_HEAD {
        return Err(ReadError::Http(431, "the request head is too large"));
    }
    let mut headers = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let Ok(value) = std::str::from_utf8(value.as_bytes()) else {
            return Err(ReadError::Http(400, "a header value is not UTF-8"));
        };
        headers.push((name.as_str().to_owned(), Zeroizing::new(value.to_owned())));
    }
    // hyper has checked it is one valid number; an overflow is simply too large.
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map_or(0, |v| v.parse::<usize>().unwrap_or(usize::MAX));
    if declared > MAX_BODY {
        return Err(ReadError::Http(413, "the request body is too large"));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(declared));
    let mut limited = Limited::new(body, MAX_BODY);
    let reading = async {
        while let Some(frame) = limited.frame().await {
            match frame {
                Ok(frame) => {
                    if let Some(data) = frame.data_ref() {
                        bytes.extend_from_slice(data);
                    }
                }
                Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                    return Err(ReadError::Http(413, "the request body is too large"));
                }
                Err(_) => return Err(ReadError::Closed),
            }
        }
        Ok(())
    };
    match tokio::time::timeout(READ_TIMEOUT, reading).await {
        Err(_) => return Err(ReadError::Http(408, "the request took too long to arrive")),
        Ok(read) => read?,
    }
    Ok(Request {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers,
        body: bytes,
    })
}

/// The simulator's answer as hyper's: headers that are no valid HTTP are left out (line
/// breaks are taken out of values first), `Connection: close` added; hyper adds
/// `Content-Length`.
fn to_hyper(response: Response) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() = hyper::StatusCode::from_u16(response.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &response.headers {
        let value: String = value
            .chars()
            .filter(|c| !matches!(c, '\r' | '\n'))
            .collect();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.headers_mut().append(name, value);
        }
    }
    out.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    out
}

/// The service's error when the simulator chose not to answer: hyper then closes the
/// connection without writing anything.
#[derive(Debug)]
struct Unanswered;

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("closed without an answer")
    }
}

impl std::error::Error for Unanswered {}

/// Serves one request on `stream` with hyper. `handle` gets the request (or why it could not
/// be read) and returns the answer, or `None` to close the connection without one (the
/// request was cut short, [`crate::sim::Fault::Drop`], a held request abandoned).
///
/// After an answer the stream is half-closed and what the peer still sends is drained
/// (briefly), so the peer reads the answer instead of a reset.
pub async fn serve<S, H, F>(stream: &mut S, handle: H)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    H: Fn(Result<Request, ReadError>) -> F + Clone + Send + Sync,
    F: Future<Output = Option<Response>> + Send,
{
    let unanswered = Arc::new(AtomicBool::new(false));
    let flag = unanswered.clone();
    let service = hyper::service::service_fn(move |req| {
        let handle = handle.clone();
        let flag = flag.clone();
        async move {
            let read = read(req).await;
            let closed = matches!(read, Err(ReadError::Closed));
            match handle(read).await {
                Some(response) if !closed => Ok(to_hyper(response)),
                _ => {
                    flag.store(true, Ordering::Relaxed);
                    Err(Unanswered)
                }
            }
        }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        // A peer that half-closes after its request still gets the answer.
        .half_close(true)
        .max_buf_size(MAX_HEAD)
        .max_headers(MAX_HEADERS)
        .title_case_headers(true)
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT)
        .serve_connection(TokioIo::new(&mut *stream), service)
        .await;
    drop(served);
    if unanswered.load(Ordering::Relaxed) {
        return;
    }
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        let mut total = 0usize;
        while total < MAX_BODY {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}
