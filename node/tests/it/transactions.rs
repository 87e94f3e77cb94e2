//! MULTI / EXEC / DISCARD / WATCH / UNWATCH with real connections and exact replies.

use crate::common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_commands_run_in_order_with_runtime_errors_in_place() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SET", "s", "text"], OK).await;
    c.call(&["MULTI"], OK).await;
    c.call(&["SET", "a", "1"], b"+QUEUED\r\n").await;
    c.call(&["INCR", "a"], b"+QUEUED\r\n").await;
    c.call(&["INCR", "s"], b"+QUEUED\r\n").await; // fails at run time only
    c.call(&["GET", "a"], b"+QUEUED\r\n").await;
    c.call(
        &["EXEC"],
        b"*4\r\n+OK\r\n:2\r\n-ERR value is not an integer or out of range\r\n$1\r\n2\r\n",
    )
    .await;
    c.call(&["EXEC"], b"-ERR EXEC without MULTI\r\n").await;
    c.call(&["DISCARD"], b"-ERR DISCARD without MULTI\r\n")
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queueing_errors_abort_the_transaction() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["MULTI"], OK).await;
    c.call(&["MULTI"], b"-ERR MULTI calls can not be nested\r\n")
        .await;
    c.call(&["SET", "k", "v"], b"+QUEUED\r\n").await;
    c.call(
        &["GET"],
        b"-ERR wrong number of arguments for 'get' command\r\n",
    )
    .await;
    c.call(
        &["NOSUCHCMD"],
        b"-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n",
    )
    .await;
    c.call(
        &["WATCH", "k"],
        b"-ERR WATCH inside MULTI is not allowed\r\n",
    )
    .await;
    c.call(
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    // Nothing ran.
    c.call(&["EXISTS", "k"], b":0\r\n").await;
    // DISCARD drops the queue.
    c.call(&["MULTI"], OK).await;
    c.call(&["SET", "k", "v"], b"+QUEUED\r\n").await;
    c.call(&["DISCARD"], OK).await;
    c.call(&["EXISTS", "k"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_detects_another_clients_write() {
    let s = TestServer::start().await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    a.call(&["SET", "balance", "10"], OK).await;
    a.call(&["WATCH", "balance"], OK).await;
    b.call(&["SET", "balance", "20"], OK).await;
    a.call(&["MULTI"], OK).await;
    a.call(&["SET", "balance", "0"], b"+QUEUED\r\n").await;
    a.call(&["EXEC"], b"*-1\r\n").await;
    a.call(&["GET", "balance"], &bulk("20")).await;

    // Without interference the same transaction runs; WATCH ends with EXEC.
    a.call(&["WATCH", "balance"], OK).await;
    a.call(&["MULTI"], OK).await;
    a.call(&["SET", "balance", "0"], b"+QUEUED\r\n").await;
    a.call(&["EXEC"], b"*1\r\n+OK\r\n").await;
    b.call(&["SET", "balance", "5"], OK).await;
    a.call(&["MULTI"], OK).await;
    a.call(&["GET", "balance"], b"+QUEUED\r\n").await;
    a.call(&["EXEC"], b"*1\r\n$1\r\n5\r\n").await;

    // UNWATCH forgets; a write to an unwatched key does not matter.
    a.call(&["WATCH", "balance"], OK).await;
    a.call(&["UNWATCH"], OK).await;
    b.call(&["SET", "balance", "6"], OK).await;
    a.call(&["MULTI"], OK).await;
    a.call(&["GET", "balance"], b"+QUEUED\r\n").await;
    a.call(&["EXEC"], b"*1\r\n$1\r\n6\r\n").await;

    // Deleting or expiring a watched key also counts as a change.
    a.call(&["WATCH", "balance"], OK).await;
    b.call(&["DEL", "balance"], b":1\r\n").await;
    a.call(&["MULTI"], OK).await;
    a.call(&["SET", "balance", "1"], b"+QUEUED\r\n").await;
    a.call(&["EXEC"], b"*-1\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ignores_writes_that_change_nothing() {
    let s = TestServer::start().await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    a.call(&["SADD", "set", "x"], b":1\r\n").await;
    a.call(&["HSET", "hash", "f", "v"], b":1\r\n").await;
    a.call(&["SET", "str", "v"], OK).await;
    a.call(&["WATCH", "set", "hash", "str"], OK).await;
    // As in Redis, none of these signals the key modified.
    b.call(&["SADD", "set", "x"], b":0\r\n").await;
    b.call(&["SREM", "set", "nope"], b":0\r\n").await;
    b.call(&["SPOP", "set", "0"], b"*0\r\n").await;
    b.call(&["SMOVE", "set", "set", "x"], b":1\r\n").await;
    b.call(&["HDEL", "hash", "nope"], b":0\r\n").await;
    b.call(&["HSETNX", "hash", "f", "w"], b":0\r\n").await;
    b.call(&["SADD", "str", "m"], WRONGTYPE).await;
    b.call(&["HSET", "str", "f", "v"], WRONGTYPE).await;
    b.call(&["GETEX", "str", "PERSIST"], &bulk("v")).await;
    a.call(&["MULTI"], OK).await;
    a.call(&["PING"], b"+QUEUED\r\n").await;
    a.call(&["EXEC"], b"*1\r\n+PONG\r\n").await;
    // Real changes do.
    for (write, reply) in [
        (&["SADD", "set", "y"][..], &b":1\r\n"[..]),
        (&["HDEL", "hash", "f"][..], &b":1\r\n"[..]),
        (&["SPOP", "set", "1"][..], &b"*1\r\n"[..]),
    ] {
        a.call(&["WATCH", write[1]], OK).await;
        b.cmd(write).await;
        b.expect(reply).await;
        if write[0] == "SPOP" {
            b.read_exact_len(7).await; // the popped member: $1 x or y
        }
        a.call(&["MULTI"], OK).await;
        a.call(&["PING"], b"+QUEUED\r\n").await;
        a.call(&["EXEC"], b"*-1\r\n").await;
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_exec_discards_the_transaction() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["MULTI"], OK).await;
    c.call(&["SET", "a", "1"], b"+QUEUED\r\n").await;
    c.call(
        &["EXEC", "x"],
        b"-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n",
    )
    .await;
    // Out of MULTI, nothing ran.
    c.call(&["GET", "a"], b"$-1\r\n").await;
    c.call(&["EXEC"], b"-ERR EXEC without MULTI\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_key_that_expires_aborts_exec() {
    let s = TestServer::start().await;
    let mut a = s.raw().await;
    a.call(&["SET", "lease", "x", "PX", "100"], OK).await;
    a.call(&["WATCH", "lease"], OK).await;
    // Wait until the deadline has passed by the server's clock, without touching the key.
    let c = s.client().await;
    let server_ms = |c: redis::aio::MultiplexedConnection| async move {
        let mut c = c;
        let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut c).await.unwrap();
        secs * 1000 + micros / 1000
    };
    let start = server_ms(c.clone()).await;
    wait_until(Duration::from_secs(5), || {
        let c = c.clone();
        async move { server_ms(c).await > start + 150 }
    })
    .await;
    a.call(&["MULTI"], OK).await;
    a.call(&["SET", "lease", "y"], b"+QUEUED\r\n").await;
    a.call(&["EXEC"], b"*-1\r\n").await;
    s.stop().await;
}

/// EXEC is atomic: another client's INCRs never land between the transaction's commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_is_atomic_against_concurrent_writers() {
    let s = TestServer::start().await;
    let writer = {
        let addr = s.addr;
        tokio::spawn(async move {
            let mut w = Raw::connect(addr).await;
            for _ in 0..2_000 {
                w.call(&["INCR", "{t}counter"], b":").await;
                // read the rest of the integer line
                let mut line = Vec::new();
                while !line.ends_with(b"\r\n") {
                    line.extend(w.read_exact_len(1).await);
                }
            }
        })
    };
    let mut c = s.client().await;
    for _ in 0..200 {
        let (first, second): (i64, i64) = redis::pipe()
            .atomic()
            .cmd("INCRBY")
            .arg("{t}counter")
            .arg(0)
            .cmd("INCRBY")
            .arg("{t}counter")
            .arg(0)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(first, second, "a write interleaved inside EXEC");
    }
    writer.await.unwrap();
    s.stop().await;
}
