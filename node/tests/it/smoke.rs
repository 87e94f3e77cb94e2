//! The server starts, answers, pipelines, and stops.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_set_get_over_raw_resp() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["PING"], b"+PONG\r\n").await;
    c.call(&["SET", "k", "v"], b"+OK\r\n").await;
    c.call(&["GET", "k"], b"$1\r\nv\r\n").await;
    c.call(&["GET", "missing"], b"$-1\r\n").await;
    c.send(b"PING\r\n").await;
    c.expect(b"+PONG\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pipelined_commands_in_one_write() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for i in 0..10_000 {
        let v = format!("v{i}");
        batch.extend(encode(&["SET", &format!("k{i}"), &v]));
        batch.extend(encode(&["GET", &format!("k{i}")]));
        expected.extend_from_slice(b"+OK\r\n");
        expected.extend(format!("${}\r\n{v}\r\n", v.len()).into_bytes());
    }
    c.send(&batch).await;
    c.expect(&expected).await;
    s.stop().await;
}
