//! Pub/sub with real connections: channels, patterns, shard channels, RESP2 subscriber-mode
//! restrictions, RESP3 pushes, and the output limit for subscribers that do not read.

use crate::common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_subscribers_and_a_pattern() {
    let s = TestServer::start().await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    let mut p = s.raw().await;
    a.call(&["SUBSCRIBE", "news", "sport"], b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n").await;
    b.call(
        &["PSUBSCRIBE", "n*"],
        b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n",
    )
    .await;
    p.call(&["PUBLISH", "news", "hello"], b":2\r\n").await;
    a.expect(b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n")
        .await;
    b.expect(b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nhello\r\n")
        .await;
    p.call(&["PUBLISH", "sport", "goal"], b":1\r\n").await;
    a.expect(b"*3\r\n$7\r\nmessage\r\n$5\r\nsport\r\n$4\r\ngoal\r\n")
        .await;
    p.call(&["PUBLISH", "nobody", "x"], b":1\r\n").await; // b's pattern n* matches
    b.expect(b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$6\r\nnobody\r\n$1\r\nx\r\n")
        .await;
    p.call(&["PUBLISH", "other", "x"], b":0\r\n").await;

    p.call(
        &["PUBSUB", "NUMSUB", "news", "none"],
        b"*4\r\n$4\r\nnews\r\n:1\r\n$4\r\nnone\r\n:0\r\n",
    )
    .await;
    p.call(&["PUBSUB", "NUMPAT"], b":1\r\n").await;
    p.call(&["PUBSUB", "CHANNELS", "s*"], b"*1\r\n$5\r\nsport\r\n")
        .await;

    // Subscriber mode in RESP2 allows only the pub/sub commands, PING, QUIT, RESET.
    a.call(&["GET", "k"], b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n").await;
    a.call(
        &["UNSUBSCRIBE", "news"],
        b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n",
    )
    .await;
    a.call(
        &["UNSUBSCRIBE"],
        b"*3\r\n$11\r\nunsubscribe\r\n$5\r\nsport\r\n:0\r\n",
    )
    .await;
    a.call(
        &["UNSUBSCRIBE"],
        b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
    )
    .await;
    // Out of subscriber mode: ordinary commands again.
    a.call(&["GET", "k"], b"$-1\r\n").await;
    b.call(
        &["PUNSUBSCRIBE", "n*"],
        b"*3\r\n$12\r\npunsubscribe\r\n$2\r\nn*\r\n:0\r\n",
    )
    .await;
    p.call(&["PUBLISH", "news", "late"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_channels() {
    let s = TestServer::start().await;
    let mut a = s.raw().await;
    let mut p = s.raw().await;
    a.call(
        &["SSUBSCRIBE", "orders"],
        b"*3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n",
    )
    .await;
    p.call(&["SPUBLISH", "orders", "o1"], b":1\r\n").await;
    a.expect(b"*3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$2\r\no1\r\n")
        .await;
    // A plain PUBLISH does not reach shard subscribers.
    p.call(&["PUBLISH", "orders", "o2"], b":0\r\n").await;
    p.call(&["PUBSUB", "SHARDCHANNELS"], b"*1\r\n$6\r\norders\r\n")
        .await;
    p.call(
        &["PUBSUB", "SHARDNUMSUB", "orders"],
        b"*2\r\n$6\r\norders\r\n:1\r\n",
    )
    .await;
    a.call(
        &["SUNSUBSCRIBE"],
        b"*3\r\n$12\r\nsunsubscribe\r\n$6\r\norders\r\n:0\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_disconnect_cleans_up() {
    let s = TestServer::start().await;
    let mut p = s.raw().await;
    {
        let mut a = s.raw().await;
        a.call(
            &["SUBSCRIBE", "gone"],
            b"*3\r\n$9\r\nsubscribe\r\n$4\r\ngone\r\n:1\r\n",
        )
        .await;
    }
    wait_until(Duration::from_secs(5), || {
        let addr = s.addr;
        async move {
            let mut c = Raw::connect(addr).await;
            c.cmd(&["PUBSUB", "NUMSUB", "gone"]).await;
            c.read_exact_len(18).await == b"*2\r\n$4\r\ngone\r\n:0\r\n"
        }
    })
    .await;
    p.call(&["PUBLISH", "gone", "x"], b":0\r\n").await;
    s.stop().await;
}

/// A subscriber that never reads is disconnected once its pending output passes the hard
/// limit, instead of growing the server's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_is_disconnected_at_the_output_limit() {
    let s = TestServer::start().await;
    let mut a = s.raw().await;
    a.call(
        &["SUBSCRIBE", "flood"],
        b"*3\r\n$9\r\nsubscribe\r\n$5\r\nflood\r\n:1\r\n",
    )
    .await;
    let c = s.client().await;
    let payload = "z".repeat(256 * 1024);
    let mut delivered_to_none = false;
    // 64 MB at most: twice the 32 MB hard limit plus kernel socket buffers.
    for _ in 0..256 {
        let n: i64 = redis::cmd("PUBLISH")
            .arg("flood")
            .arg(&payload)
            .query_async(&mut c.clone())
            .await
            .unwrap();
        if n == 0 {
            delivered_to_none = true;
            break;
        }
    }
    assert!(
        delivered_to_none,
        "the non-reading subscriber was never cut off"
    );
    a.expect_closed().await;
    s.stop().await;
}
