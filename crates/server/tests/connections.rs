//! The accept loop over real sockets: header, body and idle timeouts, the
//! connection cap, many idle connections, and draining on shutdown.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use server::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server on 127.0.0.1:0 with `limits`; send on the sender to shut it down.
struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(app: axum::Router, limits: Limits) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve_with(
            listener,
            app,
            async move {
                let _ = rx.await;
            },
            limits,
        ));
        Running {
            addr,
            stop: Some(tx),
            task,
        }
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("shutdown drains in time")
            .unwrap()
            .unwrap();
    }
}

fn limits(header_ms: u64, idle_ms: u64, max_connections: usize) -> Limits {
    Limits {
        header_timeout: Duration::from_millis(header_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        max_connections,
    }
}

/// Reads until the server closes the connection; panics after `within`.
async fn read_to_close(s: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open for {within:?}; got {:?}",
                String::from_utf8_lossy(&out)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response whose body has a Content-Length.
async fn read_response(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "closed mid-response: {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_string)
                })
                .and_then(|v| v.trim().parse::<usize>().ok())
                .expect("content-length");
            if out.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";

async fn health_on_new_connection(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(HEALTH).await.unwrap();
    read_response(&mut s).await
}

#[tokio::test]
async fn a_slow_header_client_is_dropped_after_the_header_timeout() {
    let server = Running::start(gemma_app(options("gemma")), limits(400, 10_000, 64)).await;
    let started = Instant::now();
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // Drip-feeding the head does not reset the clock.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        slow.write_all(b"a").await.unwrap();
    }
    let got = read_to_close(&mut slow, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"), "{got:?}");
    assert!(took >= Duration::from_millis(350), "closed too early: {took:?}");
    read_to_close(&mut silent, Duration::from_secs(5)).await;
    // Others are served meanwhile and after.
    assert!(health_on_new_connection(server.addr)
        .await
        .starts_with("HTTP/1.1 200"));
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    // Idle timeout longer than the header timeout: kept-alive connections
    // live by the idle one.
    let server = Running::start(gemma_app(options("gemma")), limits(300, 1200, 64)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(HEALTH).await.unwrap();
    assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
    // Still open after more than the header timeout: a second request works.
    tokio::time::sleep(Duration::from_millis(700)).await;
    s.write_all(HEALTH).await.unwrap();
    assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
    let idle_from = Instant::now();
    let rest = read_to_close(&mut s, Duration::from_secs(6)).await;
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    let idle = idle_from.elapsed();
    assert!(idle >= Duration::from_millis(1100), "closed after {idle:?}");
    assert!(idle < Duration::from_secs(4), "closed after {idle:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_stalled_request_body_gets_400() {
    let server = Running::start(gemma_app(options("gemma")), limits(400, 10_000, 64)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"prompt\": ",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let resp = read_response(&mut s).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("request body"), "{resp}");
    assert!(started.elapsed() < Duration::from_secs(5));
    server.shutdown().await;
}

#[tokio::test]
async fn hundreds_of_idle_connections_do_not_block_service() {
    let server = Running::start(gemma_app(options("gemma")), limits(10_000, 60_000, 512)).await;
    let mut idle = Vec::new();
    for i in 0..300 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 0 {
            s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localh")
                .await
                .unwrap();
        }
        idle.push(s);
    }
    for _ in 0..5 {
        let started = Instant::now();
        let resp = health_on_new_connection(server.addr).await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    // A generation too.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let body = r#"{"prompt": "hi", "max_tokens": 3}"#;
    s.write_all(
        format!(
            "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
    drop(idle);
    server.shutdown().await;
}

#[tokio::test]
async fn at_the_connection_cap_idle_connections_make_room() {
    let server = Running::start(gemma_app(options("gemma")), limits(30_000, 60_000, 8)).await;
    // Eight connections: four kept alive after a request, four silent.
    let mut held = Vec::new();
    for i in 0..8 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 0 {
            s.write_all(HEALTH).await.unwrap();
            assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
        }
        held.push(s);
    }
    let started = Instant::now();
    let resp = health_on_new_connection(server.addr).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(held);
    server.shutdown().await;
}

#[tokio::test]
async fn at_the_connection_cap_silent_connections_make_room() {
    let server = Running::start(gemma_app(options("gemma")), limits(30_000, 60_000, 4)).await;
    let held: Vec<TcpStream> =
        futures_util::future::join_all((0..4).map(|_| TcpStream::connect(server.addr)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    // The fifth waits until the silent ones have had a second, then is served.
    let started = Instant::now();
    let resp = health_on_new_connection(server.addr).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "{took:?}");
    // A connection sending its head is not cut to make room.
    let mut sending = TcpStream::connect(server.addr).await.unwrap();
    sending.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let mut other = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sending.write_all(b"Host: localhost\r\n\r\n").await.unwrap();
    assert!(read_response(&mut sending).await.starts_with("HTTP/1.1 200"));
    other.write_all(HEALTH).await.unwrap();
    assert!(read_response(&mut other).await.starts_with("HTTP/1.1 200"));
    drop(held);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_drains_a_stream_in_flight() {
    let engine = scripted(GEMMA, &"word ".repeat(300), config(1, 1024, 4));
    let app = server::router(server::AppState::new(engine, options("gemma")));
    let server = Running::start(app, limits(2_000, 2_000, 64)).await;
    let addr = server.addr;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = r#"{"prompt": "hi", "stream": true}"#;
    s.write_all(
        format!(
            "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut first = [0u8; 64];
    let n = s.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    // An idle connection, closed by the shutdown rather than waited for.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(HEALTH).await.unwrap();
    read_response(&mut idle).await;
    let reader = tokio::spawn(async move { read_to_close(&mut s, Duration::from_secs(30)).await });
    let started = Instant::now();
    server.shutdown().await;
    let rest = String::from_utf8_lossy(&reader.await.unwrap()).into_owned();
    assert!(rest.contains("data: [DONE]"), "the stream was cut: {rest}");
    assert!(rest.contains("\"finish_reason\":\"length\"") || rest.contains("\"finish_reason\":\"stop\""));
    assert!(read_to_close(&mut idle, Duration::from_secs(1)).await.is_empty());
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}
