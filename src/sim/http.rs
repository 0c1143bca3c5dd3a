//! A small, strict HTTP/1.1 server side: reads one request (head capped, body by
//! `Content-Length` only), writes one answer with `Content-Length` and `Connection: close`.
//!
//! Nothing here panics on bad input: every malformed request becomes [`ReadError::Http`] with the
//! status to answer (400, 411, 413, 431, 505).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

/// The largest request head accepted (request line + headers + blank line).
pub const MAX_HEAD: usize = 64 * 1024;
/// The largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// The most header lines accepted.
pub const MAX_HEADERS: usize = 100;

/// One request as read from the socket. Header values and the body are zeroized on drop:
/// they carry passwords, tokens and signatures.
pub struct Request {
    /// Method, e.g. `POST` (case-sensitive, as sent).
    pub method: String,
    /// The raw path of the request target (no query), e.g. `/v3/auth/tokens`.
    pub path: String,
    /// The raw query string after `?` (empty when none).
    pub query: String,
    /// Headers in the order received; names as sent, values trimmed.
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

/// Why no request could be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The peer closed (or the socket failed) before a full request: nothing to answer.
    Closed,
    /// The request is malformed; answer with this status and reason.
    Http(u16, &'static str),
}

/// Where the head ends: the index just past the blank line, accepting CRLF or bare LF lines.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => {}
        }
        i = nl + 1;
    }
    None
}

/// Whether `b` may appear in a header name or method (RFC 9110 `tchar`).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The parsed head: request line and headers, plus the declared body length.
struct Head {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Zeroizing<String>)>,
    content_length: usize,
    expect_continue: bool,
}

/// Parses a request head (everything before the blank line).
fn parse_head(head: &[u8]) -> Result<Head, ReadError> {
    let bad = |why| Err(ReadError::Http(400, why));
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        // RFC 9112 §2.2: ignore empty lines before the request line.
        .skip_while(|l| l.is_empty());
    let Some(request_line) = lines.next() else {
        return bad("empty request");
    };
    let Ok(request_line) = std::str::from_utf8(request_line) else {
        return bad("the request line is not UTF-8");
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return bad("the request line is not `METHOD target HTTP/1.1`");
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return bad("invalid method");
    }
    match version {
        "HTTP/1.1" | "HTTP/1.0" => {}
        v if v.starts_with("HTTP/") => {
            return Err(ReadError::Http(505, "only HTTP/1.1 is supported"));
        }
        _ => return bad("invalid HTTP version"),
    }
    // Origin form `/path?query`; absolute form `http://host/path?query` is reduced to it.
    let origin = if target.starts_with('/') {
        target
    } else if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
            _ => "/",
        }
    } else {
        return bad("invalid request target");
    };
    if origin.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'#') {
        return bad("invalid request target");
    }
    let (path, query) = origin.split_once('?').unwrap_or((origin, ""));

    let mut headers = Vec::new();
    let mut content_length: Option<usize> = None;
    let mut expect_continue = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Http(431, "too many header fields"));
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return bad("obsolete line folding is not accepted");
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return bad("a header line has no colon");
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty() || !name.iter().copied().all(is_tchar) {
            return bad("invalid header name");
        }
        if value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return bad("a header value holds a control character");
        }
        let Ok(value) = std::str::from_utf8(value) else {
            return bad("a header value is not UTF-8");
        };
        // Both are valid UTF-8: the name is ASCII (tchar) and the value was just checked.
        let name = String::from_utf8_lossy(name).into_owned();
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ReadError::Http(
                411,
                "Transfer-Encoding is not supported; send Content-Length",
            ));
        }
        if name.eq_ignore_ascii_case("content-length") {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return bad("invalid Content-Length");
            }
            // Leading zeros parse; an overflow is simply too large (413 below).
            let n = value.parse::<usize>().unwrap_or(usize::MAX);
            if content_length.is_some_and(|c| c != n) {
                return bad("conflicting Content-Length headers");
            }
            content_length = Some(n);
        }
        if name.eq_ignore_ascii_case("expect") && value.eq_ignore_ascii_case("100-continue") {
            expect_continue = true;
        }
        headers.push((name, Zeroizing::new(value.to_owned())));
    }
    let content_length = content_length.unwrap_or(0);
    if content_length > MAX_BODY {
        return Err(ReadError::Http(413, "the request body is too large"));
    }
    if version == "HTTP/1.1"
        && headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
            .count()
            != 1
    {
        return bad("HTTP/1.1 needs exactly one Host header");
    }
    Ok(Head {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        content_length,
        expect_continue,
    })
}

/// Reads one request: the head (at most [`MAX_HEAD`] bytes), then exactly `Content-Length`
/// body bytes. Answers `100 Continue` when asked. Partial reads of any size are fine.
pub async fn read_request<S>(stream: &mut S) -> Result<Request, ReadError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Sized once so it never reallocates (a reallocation would leave a copy of secrets behind).
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_HEAD + 1));
    let mut chunk = Zeroizing::new([0u8; 4096]);
    let mut scanned: usize = 0;
    let end = loop {
        // Only the new bytes (and the 3 before them) can complete the blank line.
        let from = scanned.saturating_sub(3);
        if let Some(end) = head_end(&buf[from..]).map(|e| e + from) {
            if end > MAX_HEAD {
                return Err(ReadError::Http(431, "the request head is too large"));
            }
            break end;
        }
        if buf.len() >= MAX_HEAD {
            return Err(ReadError::Http(431, "the request head is too large"));
        }
        let room = (MAX_HEAD + 1 - buf.len()).min(chunk.len());
        let n = match stream.read(&mut chunk[..room]).await {
            Ok(0) | Err(_) => return Err(ReadError::Closed),
            Ok(n) => n,
        };
        scanned = buf.len();
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = parse_head(&buf[..end])?;
    let mut body = Zeroizing::new(Vec::with_capacity(head.content_length));
    let already = &buf[end..];
    body.extend_from_slice(&already[..already.len().min(head.content_length)]);
    if body.len() < head.content_length && head.expect_continue {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }
    while body.len() < head.content_length {
        let room = (head.content_length - body.len()).min(chunk.len());
        match stream.read(&mut chunk[..room]).await {
            Ok(0) | Err(_) => return Err(ReadError::Closed),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(Request {
        method: head.method,
        path: head.path,
        query: head.query,
        headers: head.headers,
        body,
    })
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

    /// The bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            // Values come from this module's own code; strip line breaks all the same.
            let value: String = value
                .chars()
                .filter(|c| !matches!(c, '\r' | '\n'))
                .collect();
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// The reason phrase for a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// Writes `response`, half-closes, and drains what the peer still sends (briefly), so the
/// peer reads the answer instead of a reset.
pub async fn write_response<S>(stream: &mut S, response: &Response)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if stream.write_all(&response.to_bytes()).await.is_err() {
        return;
    }
    let _ = stream.flush().await;
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
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn read_from(bytes: &[u8], piece: usize) -> Result<Request, ReadError> {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let bytes = bytes.to_vec();
        let writer = tokio::spawn(async move {
            for part in bytes.chunks(piece.max(1)) {
                if client.write_all(part).await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
            // Keep the client open until the reader is done so EOF is not the cause.
            let mut sink = Vec::new();
            let _ = client.read_to_end(&mut sink).await;
        });
        let out = read_request(&mut server).await;
        drop(server);
        let _ = writer.await;
        out
    }

    #[tokio::test]
    async fn reads_byte_by_byte_and_in_one_go() {
        let raw = b"POST /v3/auth/tokens?nocatalog=true HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\
                    content-length: 5\r\nX-Thing:  spaced  \r\n\r\nhello";
        for piece in [1, 3, 7, 4096] {
            let r = read_from(raw, piece).await.expect("parses");
            assert_eq!(r.method, "POST");
            assert_eq!(r.path, "/v3/auth/tokens");
            assert_eq!(r.query, "nocatalog=true");
            assert_eq!(r.header("CONTENT-LENGTH"), Some("5"));
            assert_eq!(r.header("x-thing"), Some("spaced"));
            assert_eq!(&r.body[..], b"hello");
        }
        // Bare LF line endings and leading blank lines are tolerated.
        let r = read_from(b"\r\nGET /x HTTP/1.0\nA: b\n\n", 2)
            .await
            .expect("parses");
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/x"));
        // Absolute form is reduced to the path.
        let r = read_from(b"GET http://h:1/p?q=1 HTTP/1.1\r\nHost: h:1\r\n\r\n", 5)
            .await
            .expect("parses");
        assert_eq!((r.path.as_str(), r.query.as_str()), ("/p", "q=1"));
    }

    #[tokio::test]
    async fn rejects_bad_requests_with_the_right_status() {
        let big_head = {
            let mut v = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
            v.extend(std::iter::repeat_n(b'a', MAX_HEAD));
            v.extend_from_slice(b"\r\n\r\n");
            v
        };
        let many = {
            let mut v = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
            for k in 0..=MAX_HEADERS {
                v.extend_from_slice(format!("X-{k}: y\r\n").as_bytes());
            }
            v.extend_from_slice(b"\r\n");
            v
        };
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (big_head, 431),
            (many, 431),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                    .to_vec(),
                411,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999\r\n\r\n".to_vec(),
                413,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999999999999999999\r\n\r\n"
                    .to_vec(),
                413,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
                    .to_vec(),
                400,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n".to_vec(),
                400,
            ),
            (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n".to_vec(), 505),
            (b"GET / FTP/1.0\r\n\r\n".to_vec(), 400),
            (b"GET /\r\n\r\n".to_vec(), 400),
            (b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(), 400),
            (b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(), 400),
            (b"GET nope HTTP/1.1\r\nHost: h\r\n\r\n".to_vec(), 400),
            (b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
                400,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n".to_vec(),
                400,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n".to_vec(),
                400,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n".to_vec(),
                400,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nX: \xff\xfe\r\n\r\n".to_vec(),
                400,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n".to_vec(),
                400,
            ),
            (b"\xff\xfe / HTTP/1.1\r\n\r\n".to_vec(), 400),
            (b"\r\n\r\n\r\n\r\n".to_vec(), 400),
        ];
        for (raw, status) in cases {
            match read_from(&raw, 1000).await {
                Err(ReadError::Http(s, _)) => {
                    assert_eq!(s, status, "{:?}", &raw[..raw.len().min(60)])
                }
                other => panic!("expected {status}, got {:?}", other.map(|r| r.method)),
            }
        }
    }

    #[tokio::test]
    async fn early_eof_is_closed_not_a_panic() {
        for raw in [
            &b""[..],
            b"GET / HTTP/1.1\r\nHost",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
        ] {
            let (mut client, mut server) = tokio::io::duplex(1024);
            client.write_all(raw).await.expect("write");
            drop(client);
            assert_eq!(
                read_request(&mut server).await.map(|r| r.method),
                Err(ReadError::Closed)
            );
        }
    }

    #[test]
    fn head_end_finds_crlf_and_lf() {
        assert_eq!(head_end(b"a\r\n\r\nrest"), Some(5));
        assert_eq!(head_end(b"a\n\nrest"), Some(3));
        assert_eq!(head_end(b"a\r\nb\r\n"), None);
        assert_eq!(head_end(b""), None);
    }

    #[test]
    fn responses_carry_length_and_close() {
        let r = Response::raw(200, "text/plain", "hi").with_header("X-Request-Id", "a\r\nb");
        let text = String::from_utf8(r.to_bytes()).expect("utf8");
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Request-Id: ab\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
    }
}
