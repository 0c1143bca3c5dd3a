//! The password change goes on a connection of its own. A server that closes a kept-alive
//! connection right after answering the token or info request must not swallow the change (it
//! used to: the change was written to the dead connection and reported `unknown` although the
//! provider received nothing), and a change whose connection cannot even be made is a
//! `network_error` — nothing was sent.
//!
//! Real HTTP over loopback: `rekey change` as a process, talking to a small keep-alive front
//! (started here on 127.0.0.1:0) in front of the built-in simulator.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::Env;
use rekey::sim::Route;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A new password that passes every client-side policy of every demo profile.
const NEW: &str = "New#Pass2025x";

/// The profiles whose change follows another request to the same host: a DCS token, a CIAM
/// token, and the BM API 2.0 `GetOutBandVPNAuthInfo`; with the route of that change.
const TWO_STEP: [(&str, Route); 3] = [
    ("redis-token", Route::DcsPassword),
    ("portal", Route::CiamPassword),
    ("bm-vpn-v2-sha1", Route::TencentV2Set),
];

/// A keep-alive front for the simulator. Each client connection gets exactly one request
/// forwarded (on its own upstream connection) and its answer back without `Connection: close`,
/// so the client keeps the connection for a next request. Whatever arrives next on it is read,
/// dropped and answered by closing the connection: what a server's idle timeout does to a
/// request that raced it. The simulator never sees such a request.
struct Front {
    addr: SocketAddr,
    /// Requests read after the first on a connection, and dropped.
    swallowed: Arc<AtomicUsize>,
}

impl Front {
    /// Starts in front of `upstream`; with `connections`, stops listening after that many
    /// (later connections are refused).
    async fn start(upstream: SocketAddr, connections: Option<usize>) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let swallowed = Arc::new(AtomicUsize::new(0));
        let counter = swallowed.clone();
        tokio::spawn(async move {
            let mut accepted = 0;
            let mut listener = Some(listener);
            while let Some(open) = &listener {
                let Ok((client, _)) = open.accept().await else {
                    return;
                };
                accepted += 1;
                if connections == Some(accepted) {
                    // Closed before this connection is served: the next connect is refused.
                    listener = None;
                }
                tokio::spawn(serve(client, upstream, counter.clone()));
            }
        });
        Front { addr, swallowed }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// One client connection: one request forwarded, then the connection dies on the next.
async fn serve(mut client: TcpStream, upstream: SocketAddr, swallowed: Arc<AtomicUsize>) {
    let Some(request) = read_message(&mut client).await else {
        return;
    };
    let Ok(mut sim) = TcpStream::connect(upstream).await else {
        return;
    };
    if sim.write_all(&request).await.is_err() {
        return;
    }
    let Some(answer) = read_message(&mut sim).await else {
        return;
    };
    if client.write_all(&keep_alive(&answer)).await.is_err() {
        return;
    }
    let mut byte = [0u8; 1];
    if matches!(client.read(&mut byte).await, Ok(n) if n > 0) {
        swallowed.fetch_add(1, Ordering::SeqCst);
    }
    // `client` drops here: closed without an answer.
}

/// One HTTP/1.1 message (head and `Content-Length` body), or `None` at end of stream.
async fn read_message(stream: &mut (impl AsyncRead + Unpin)) -> Option<Vec<u8>> {
    let mut message = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = message.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => message.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&message[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().expect("Content-Length"));
    while message.len() < head_end + length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => message.extend_from_slice(&buf[..n]),
        }
    }
    Some(message)
}

/// The answer without its `Connection` header: the client may keep the connection.
fn keep_alive(answer: &[u8]) -> Vec<u8> {
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head")
        + 2;
    let head = String::from_utf8_lossy(&answer[..head_end]);
    let mut out: Vec<u8> = head
        .split_inclusive("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .flat_map(|l| l.bytes())
        .collect();
    out.extend_from_slice(&answer[head_end..]);
    out
}

/// The simulator's profiles, every endpoint pointed at `front`.
fn through(env: &Env, front: &Front) {
    let text = std::fs::read_to_string(&env.config).expect("read profiles");
    let text = text.replace(&env.sim.base_url(), &front.base_url());
    std::fs::write(&env.config, text).expect("write profiles");
}

#[tokio::test]
async fn a_connection_closed_after_the_first_answer_cannot_swallow_the_change() {
    let env = Env::start("fresh-connection").await;
    let front = Front::start(env.sim.local_addr(), None).await;
    through(&env, &front);
    for (profile, route) in TWO_STEP {
        let before = env.sim.requests(route);
        let current = env.password(profile);
        let stdin = if profile.starts_with("bm-vpn") {
            format!("{NEW}\n")
        } else {
            format!("{current}\n{NEW}\n")
        };
        let run = env.change(profile, &stdin, &[]).await;
        assert_eq!(run.outcome(), "changed", "{profile}: {run:?}");
        assert_eq!(
            env.sim.requests(route) - before,
            1,
            "{profile}: the provider received exactly one change"
        );
        assert_eq!(env.password(profile), NEW, "{profile}");
    }
    assert_eq!(
        front.swallowed.load(Ordering::SeqCst),
        0,
        "no request was sent on a connection that had already been answered"
    );
}

#[tokio::test]
async fn a_change_whose_connection_cannot_be_made_is_a_network_error() {
    for (profile, route) in TWO_STEP {
        let env = Env::start(&format!("refused-change-{profile}")).await;
        // One connection (the token or info request); the change's connection is refused.
        let front = Front::start(env.sim.local_addr(), Some(1)).await;
        through(&env, &front);
        let current = env.password(profile);
        let stdin = if profile.starts_with("bm-vpn") {
            format!("{NEW}\n")
        } else {
            format!("{current}\n{NEW}\n")
        };
        let run = env.change(profile, &stdin, &[]).await;
        assert_eq!(run.outcome(), "network_error", "{profile}: {run:?}");
        assert_eq!(env.sim.requests(route), 0, "{profile}: nothing reached it");
        assert_eq!(env.password(profile), current, "{profile}: unchanged");
        assert_eq!(front.swallowed.load(Ordering::SeqCst), 0, "{profile}");
    }
}
