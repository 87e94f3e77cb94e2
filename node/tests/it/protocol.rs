//! Malformed and oversized input: each gets Redis's exact `-ERR Protocol error: …` and a
//! closed connection (or, past the query buffer limit, just the close), never a crash or an
//! allocation sized by what the client claimed. After each, the server still answers.

use crate::common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `input` on a fresh connection, expects exactly `error` and the close, then checks a
/// new client still gets PONG.
async fn rejects(s: &TestServer, input: &[u8], error: &str) {
    let mut c = s.raw().await;
    c.send(input).await;
    c.expect(format!("-ERR Protocol error: {error}\r\n").as_bytes())
        .await;
    c.expect_closed().await;
    still_serving(s).await;
}

async fn still_serving(s: &TestServer) {
    let mut p = s.raw().await;
    p.call(&["PING"], b"+PONG\r\n").await;
}

async fn used_memory(s: &TestServer) -> u64 {
    let mut c = s.raw().await;
    c.cmd(&["INFO", "memory"]).await;
    let mut header = Vec::new();
    while !header.ends_with(b"\r\n") {
        header.extend(c.read_exact_len(1).await);
    }
    let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    let body = String::from_utf8(c.read_exact_len(len + 2).await).unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .expect("used_memory field")
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_multibulk_frames() {
    let s = TestServer::start().await;
    rejects(&s, b"*1\r\n+OK\r\n", "expected '$', got '+'").await;
    rejects(&s, b"*2\r\n$3\r\nGET\r\n:1\r\n", "expected '$', got ':'").await;
    rejects(&s, b"*abc\r\n", "invalid multibulk length").await;
    rejects(&s, b"*3000000000\r\n", "invalid multibulk length").await;
    rejects(&s, b"*1\r\n$-5\r\n", "invalid bulk length").await;
    rejects(&s, b"*1\r\n$abc\r\n", "invalid bulk length").await;
    // Above the default proto-max-bulk-len (512 MB).
    rejects(&s, b"*1\r\n$600000000\r\n", "invalid bulk length").await;
    // Count lines longer than an inline request.
    let mut long = b"*".to_vec();
    long.extend(std::iter::repeat_n(b'1', 70 * 1024));
    rejects(&s, &long, "too big mbulk count string").await;
    let mut long = b"*1\r\n$".to_vec();
    long.extend(std::iter::repeat_n(b'1', 70 * 1024));
    rejects(&s, &long, "too big bulk count string").await;
    // Replies to the commands before the bad frame still arrive first.
    let mut c = s.raw().await;
    let mut input = encode(&["SET", "before", "1"]);
    input.extend_from_slice(b"*1\r\n+PING\r\n");
    input.extend(encode(&["SET", "after", "1"]));
    c.send(&input).await;
    c.expect(b"+OK\r\n-ERR Protocol error: expected '$', got '+'\r\n")
        .await;
    c.expect_closed().await;
    let mut d = s.raw().await;
    d.call(&["EXISTS", "before", "after"], b":1\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_inline_requests() {
    let s = TestServer::start().await;
    rejects(&s, b"set a \"b\r\n", "unbalanced quotes in request").await;
    rejects(&s, b"set a 'b\r\n", "unbalanced quotes in request").await;
    rejects(&s, b"set \"a\"b c\r\n", "unbalanced quotes in request").await;
    // 70 KB with no newline: past Redis's 64 KB inline limit.
    let long = vec![b'a'; 70 * 1024];
    rejects(&s, &long, "too big inline request").await;
    // Well-formed inline requests work, quotes and escapes included.
    let mut c = s.raw().await;
    c.send(b"set k \"a b\\x41\"\r\nget k\r\n").await;
    c.expect(b"+OK\r\n$4\r\na bA\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_above_proto_max_bulk_len_is_refused_unallocated() {
    let s = TestServer::with(|c| c.proto_max_bulk_len = 1024 * 1024).await;
    rejects(
        &s,
        b"*2\r\n$3\r\nSET\r\n$2000000\r\n",
        "invalid bulk length",
    )
    .await;
    let mut c = s.raw().await;
    c.call(
        &["CONFIG", "GET", "proto-max-bulk-len"],
        b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n",
    )
    .await;
    // Exactly at the limit is fine.
    let value = "x".repeat(1024 * 1024);
    c.call(&["SET", "big", &value], b"+OK\r\n").await;
    c.call(&["STRLEN", "big"], b":1048576\r\n").await;
    // Raising the limit takes effect for the next request.
    c.call(
        &["CONFIG", "SET", "proto-max-bulk-len", "512mb"],
        b"+OK\r\n",
    )
    .await;
    c.call(&["SET", "bigger", &format!("{value}x")], b"+OK\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_lengths_are_not_allocated_up_front() {
    let s = TestServer::start().await;
    let before = used_memory(&s).await;
    // A client claims a 500 MB argument (allowed) and a huge argument count, then stalls.
    let mut bulk = s.raw().await;
    bulk.send(b"*2\r\n$3\r\nSET\r\n$500000000\r\nabc").await;
    let mut count = s.raw().await;
    count.send(b"*2000000000\r\n$3\r\nSET\r\n").await;
    still_serving(&s).await;
    let after = used_memory(&s).await;
    assert!(
        after < before + 64 * 1024 * 1024,
        "server allocated for declared lengths: {before} -> {after}"
    );
    drop(bulk);
    drop(count);
    still_serving(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_buffer_over_the_limit_closes_the_connection() {
    let s = TestServer::with(|c| c.client_query_buffer_limit = 256 * 1024).await;
    let stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    // One request whose argument never completes: the query buffer only grows.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(b"*2\r\n$3\r\nSET\r\n$100000000\r\n").await;
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0usize;
        while sent < 16 * 1024 * 1024 {
            if wr.write_all(&chunk).await.is_err() {
                return sent;
            }
            sent += chunk.len();
        }
        sent
    });
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), rd.read(&mut buf))
        .await
        .expect("connection was not closed");
    // Closed without a reply (Redis frees such a client outright).
    assert!(matches!(read, Ok(0) | Err(_)), "unexpected reply {read:?}");
    let sent = writer.await.unwrap();
    assert!(
        sent < 16 * 1024 * 1024,
        "the server kept reading past the limit"
    );
    still_serving(&s).await;

    // A pipelined stream of complete commands is consumed as it arrives: no limit hit.
    let mut c = s.raw().await;
    let mut batch = Vec::new();
    let value = "v".repeat(40);
    for i in 0..10_000 {
        batch.extend(encode(&["SET", &format!("k{i}"), &value]));
    }
    assert!(batch.len() > 2 * 256 * 1024);
    c.send(&batch).await;
    c.expect(&b"+OK\r\n".repeat(10_000)).await;
    c.call(&["DBSIZE"], b":10000\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_clients_get_tighter_limits() {
    let s = TestServer::with(|c| c.requirepass = "pw".into()).await;
    rejects_unauth(&s, b"*11\r\n", "unauthenticated multibulk length").await;
    rejects_unauth(
        &s,
        b"*2\r\n$4\r\nAUTH\r\n$16385\r\n",
        "unauthenticated bulk length",
    )
    .await;
    // Within the limits, an unauthenticated client just gets NOAUTH.
    let mut c = s.raw().await;
    let mut ten = vec!["SET", "k", "v"];
    ten.extend(std::iter::repeat_n("x", 7));
    c.call(&ten, b"-NOAUTH Authentication required.\r\n").await;
    // After AUTH the limits are the usual ones.
    c.call(&["AUTH", "pw"], b"+OK\r\n").await;
    let mut args = vec!["DEL"];
    args.extend(std::iter::repeat_n("k", 20));
    c.call(&args, b":0\r\n").await;
    let big = "v".repeat(20_000);
    c.call(&["SET", "k", &big], b"+OK\r\n").await;
}

async fn rejects_unauth(s: &TestServer, input: &[u8], error: &str) {
    let mut c = s.raw().await;
    c.send(input).await;
    c.expect(format!("-ERR Protocol error: {error}\r\n").as_bytes())
        .await;
    c.expect_closed().await;
    let mut p = s.raw().await;
    p.call(&["AUTH", "pw"], b"+OK\r\n").await;
    p.call(&["PING"], b"+PONG\r\n").await;
}
