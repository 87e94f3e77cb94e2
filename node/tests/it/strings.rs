//! String commands against the real server: exact replies and error texts (Redis 7.0).

use crate::common::*;
use std::time::Duration;

async fn ttl_ms(c: &mut Raw, key: &str) -> i64 {
    int_of(c, &["PTTL", key]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_set_basics() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["GET", "k"], NIL).await;
    c.call(&["SET", "k", "v"], OK).await;
    c.call(&["GET", "k"], &bulk("v")).await;
    c.call(&["SET", "k", ""], OK).await;
    c.call(&["GET", "k"], b"$0\r\n\r\n").await;
    c.call(&["RPUSH", "list", "a"], b":1\r\n").await;
    c.call(&["GET", "list"], WRONGTYPE).await;
    c.call(&["SET", "list", "now a string"], OK).await;
    c.call(&["GET", "list"], &bulk("now a string")).await;
    c.call(
        &["SET", "k"],
        &err("ERR wrong number of arguments for 'set' command"),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_nx_xx_get_matrix() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SET", "k", "1", "XX"], NIL).await;
    c.call(&["EXISTS", "k"], b":0\r\n").await;
    c.call(&["SET", "k", "1", "nx"], OK).await;
    c.call(&["SET", "k", "2", "NX"], NIL).await;
    c.call(&["GET", "k"], &bulk("1")).await;
    c.call(&["SET", "k", "2", "xX"], OK).await;
    c.call(&["GET", "k"], &bulk("2")).await;
    // GET returns the old value whatever happens next.
    c.call(&["SET", "k", "3", "GET"], &bulk("2")).await;
    c.call(&["SET", "new", "x", "GET"], NIL).await;
    c.call(&["GET", "new"], &bulk("x")).await;
    c.call(&["SET", "k", "4", "NX", "GET"], &bulk("3")).await;
    c.call(&["GET", "k"], &bulk("3")).await;
    c.call(&["SET", "absent", "4", "XX", "GET"], NIL).await;
    c.call(&["EXISTS", "absent"], b":0\r\n").await;
    c.call(&["SET", "k", "5", "GET", "GET"], &bulk("3")).await;
    c.call(&["SET", "k", "3", "GET"], &bulk("5")).await;
    c.call(&["RPUSH", "list", "a"], b":1\r\n").await;
    c.call(&["SET", "list", "x", "GET"], WRONGTYPE).await;
    c.call(&["TYPE", "list"], b"+list\r\n").await;
    // Conflicting or unknown options.
    c.call(&["SET", "k", "v", "NX", "XX"], SYNTAX).await;
    c.call(&["SET", "k", "v", "XX", "NX"], SYNTAX).await;
    c.call(&["SET", "k", "v", "EX", "10", "PX", "100"], SYNTAX)
        .await;
    c.call(&["SET", "k", "v", "PX", "100", "EXAT", "100"], SYNTAX)
        .await;
    c.call(&["SET", "k", "v", "EXAT", "100", "PXAT", "100"], SYNTAX)
        .await;
    c.call(&["SET", "k", "v", "EX", "10", "KEEPTTL"], SYNTAX)
        .await;
    c.call(&["SET", "k", "v", "KEEPTTL", "PX", "10"], SYNTAX)
        .await;
    c.call(&["SET", "k", "v", "EX"], SYNTAX).await;
    c.call(&["SET", "k", "v", "PERSIST"], SYNTAX).await;
    c.call(&["SET", "k", "v", "FOO"], SYNTAX).await;
    c.call(&["GET", "k"], &bulk("3")).await;
    // The same expiry option twice: the last one wins.
    c.call(&["SET", "k", "v", "EX", "10", "EX", "1000"], OK)
        .await;
    assert!(ttl_ms(&mut c, "k").await > 10_000);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_expiry_options_and_errors() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let invalid = err("ERR invalid expire time in 'set' command");
    for (opt, v) in [
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "0"),
        ("EXAT", "0"),
        ("PXAT", "-5"),
        ("EX", "9223372036854775807"),
        ("EX", "9223372036854776"),
        ("PX", "9223372036854775807"),
        ("EXAT", "9223372036854776"),
    ] {
        c.call(&["SET", "k", "v", opt, v], &invalid).await;
    }
    c.call(&["SET", "k", "v", "EX", "ten"], NOT_INT).await;
    c.call(&["EXISTS", "k"], b":0\r\n").await;

    c.call(&["SET", "k", "v", "EX", "100"], OK).await;
    let t = int_of(&mut c, &["TTL", "k"]).await;
    assert!((99..=100).contains(&t), "ttl {t}");
    c.call(&["SET", "k", "v", "PX", "100000"], OK).await;
    let t = ttl_ms(&mut c, "k").await;
    assert!((1..=100_000).contains(&t), "pttl {t}");
    c.call(&["SET", "k", "v2", "KEEPTTL"], OK).await;
    let t = ttl_ms(&mut c, "k").await;
    assert!((1..=100_000).contains(&t), "KEEPTTL kept {t}");
    c.call(&["SET", "k", "v3"], OK).await;
    c.call(&["TTL", "k"], b":-1\r\n").await;

    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let at = now_ms + 60_000;
    c.call(&["SET", "k", "v", "PXAT", &at.to_string()], OK)
        .await;
    c.call(&["PEXPIRETIME", "k"], &int(at)).await;
    let at_s = now_ms / 1000 + 60;
    c.call(&["SET", "k", "v", "EXAT", &at_s.to_string()], OK)
        .await;
    c.call(&["EXPIRETIME", "k"], &int(at_s)).await;
    // A time already past: the write succeeds and the key is gone at once.
    c.call(&["SET", "k", "v", "PXAT", "1"], OK).await;
    c.call(&["GET", "k"], NIL).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_with_px_expires_lazily() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SET", "k", "v", "PX", "50"], OK).await;
    c.call(&["SET", "keep", "v"], OK).await;
    let addr = s.addr;
    wait_until(Duration::from_secs(5), || async move {
        let mut c = Raw::connect(addr).await;
        c.cmd(&["GET", "k"]).await;
        read_reply(&mut c).await == NIL
    })
    .await;
    c.call(&["TTL", "k"], b":-2\r\n").await;
    c.call(&["PTTL", "k"], b":-2\r\n").await;
    c.call(&["GET", "keep"], &bulk("v")).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setnx_setex_psetex_getset_getdel() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SETNX", "k", "1"], b":1\r\n").await;
    c.call(&["SETNX", "k", "2"], b":0\r\n").await;
    c.call(&["GET", "k"], &bulk("1")).await;

    c.call(&["SETEX", "k", "100", "v"], OK).await;
    let t = int_of(&mut c, &["TTL", "k"]).await;
    assert!((99..=100).contains(&t));
    c.call(
        &["SETEX", "k", "0", "v"],
        &err("ERR invalid expire time in 'setex' command"),
    )
    .await;
    c.call(&["SETEX", "k", "x", "v"], NOT_INT).await;
    c.call(&["PSETEX", "k", "100000", "w"], OK).await;
    let t = ttl_ms(&mut c, "k").await;
    assert!((1..=100_000).contains(&t));
    c.call(
        &["PSETEX", "k", "-1", "v"],
        &err("ERR invalid expire time in 'psetex' command"),
    )
    .await;
    c.call(&["GET", "k"], &bulk("w")).await;

    // GETSET drops the TTL, like any plain SET.
    c.call(&["GETSET", "k", "z"], &bulk("w")).await;
    c.call(&["TTL", "k"], b":-1\r\n").await;
    c.call(&["GETSET", "fresh", "z"], NIL).await;
    c.call(&["GET", "fresh"], &bulk("z")).await;

    c.call(&["GETDEL", "k"], &bulk("z")).await;
    c.call(&["EXISTS", "k"], b":0\r\n").await;
    c.call(&["GETDEL", "k"], NIL).await;

    c.call(&["RPUSH", "list", "a"], b":1\r\n").await;
    c.call(&["SETNX", "list", "x"], b":0\r\n").await;
    c.call(&["GETSET", "list", "x"], WRONGTYPE).await;
    c.call(&["GETDEL", "list"], WRONGTYPE).await;
    c.call(&["TYPE", "list"], b"+list\r\n").await;
    c.call(&["SETEX", "list", "100", "s"], OK).await;
    c.call(&["TYPE", "list"], b"+string\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getex_options() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["GETEX", "k"], NIL).await;
    // A missing key answers nil before its expire argument is even looked at.
    c.call(&["GETEX", "k", "EX", "0"], NIL).await;
    c.call(&["SET", "k", "v"], OK).await;
    c.call(&["GETEX", "k"], &bulk("v")).await;
    c.call(&["TTL", "k"], b":-1\r\n").await;
    c.call(&["GETEX", "k", "EX", "100"], &bulk("v")).await;
    let t = int_of(&mut c, &["TTL", "k"]).await;
    assert!((99..=100).contains(&t));
    c.call(&["GETEX", "k", "PX", "50000"], &bulk("v")).await;
    let t = ttl_ms(&mut c, "k").await;
    assert!((1..=50_000).contains(&t));
    c.call(&["GETEX", "k", "PERSIST"], &bulk("v")).await;
    c.call(&["TTL", "k"], b":-1\r\n").await;
    c.call(
        &["GETEX", "k", "EX", "0"],
        &err("ERR invalid expire time in 'getex' command"),
    )
    .await;
    c.call(
        &["GETEX", "k", "PX", "9223372036854775807"],
        &err("ERR invalid expire time in 'getex' command"),
    )
    .await;
    c.call(&["GETEX", "k", "KEEPTTL"], SYNTAX).await;
    c.call(&["GETEX", "k", "NX"], SYNTAX).await;
    c.call(&["GETEX", "k", "EX", "10", "PERSIST"], SYNTAX).await;
    c.call(&["GETEX", "k", "PERSIST", "EX", "10"], SYNTAX).await;
    c.call(&["GETEX", "k", "EX", "10", "PX", "10"], SYNTAX)
        .await;
    c.call(&["GETEX", "k", "EX"], SYNTAX).await;
    c.call(&["TTL", "k"], b":-1\r\n").await;
    // An absolute time in the past: the value is returned, then the key is deleted.
    c.call(&["GETEX", "k", "PXAT", "1"], &bulk("v")).await;
    c.call(&["EXISTS", "k"], b":0\r\n").await;
    c.call(&["RPUSH", "list", "a"], b":1\r\n").await;
    c.call(&["GETEX", "list", "EX", "10"], WRONGTYPE).await;
    c.call(&["TTL", "list"], b":-1\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mget_mset_msetnx() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["MSET", "a", "1", "b", "2"], OK).await;
    c.call(&["RPUSH", "list", "x"], b":1\r\n").await;
    c.call(
        &["MGET", "a", "b", "nokey", "list", "a"],
        b"*5\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n$-1\r\n$1\r\n1\r\n",
    )
    .await;
    c.call(
        &["MSET", "a", "1", "b"],
        &err("ERR wrong number of arguments for 'mset' command"),
    )
    .await;
    c.call(
        &["MSETNX", "a", "1", "b"],
        &err("ERR wrong number of arguments for 'msetnx' command"),
    )
    .await;
    // MSET drops any TTL.
    c.call(&["EXPIRE", "a", "100"], b":1\r\n").await;
    c.call(&["MSET", "a", "10"], OK).await;
    c.call(&["TTL", "a"], b":-1\r\n").await;
    // MSETNX writes all or nothing.
    c.call(&["MSETNX", "c", "3", "a", "x"], b":0\r\n").await;
    c.call(&["EXISTS", "c"], b":0\r\n").await;
    c.call(&["GET", "a"], &bulk("10")).await;
    c.call(&["MSETNX", "c", "3", "d", "4"], b":1\r\n").await;
    c.call(&["MGET", "c", "d"], b"*2\r\n$1\r\n3\r\n$1\r\n4\r\n")
        .await;
    // Later pairs win within one MSET.
    c.call(&["MSET", "e", "1", "e", "2"], OK).await;
    c.call(&["GET", "e"], &bulk("2")).await;
    s.stop().await;
}

/// Two clients race MSETNX over the same two keys (in different slots), in opposite orders:
/// exactly one wins each round and both keys end up with the winner's value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msetnx_is_atomic_across_slots() {
    let s = TestServer::start().await;
    let a = s.client().await;
    let b = s.client().await;
    let mut check = s.client().await;
    for round in 0..300 {
        let (x, y) = (format!("x{round}"), format!("y{round}"));
        let (ka, kb) = ((x.clone(), y.clone()), (x.clone(), y.clone()));
        let (mut ca, mut cb) = (a.clone(), b.clone());
        let ta = tokio::spawn(async move {
            let n: i64 = redis::cmd("MSETNX")
                .arg(&ka.0)
                .arg("A")
                .arg(&ka.1)
                .arg("A")
                .query_async(&mut ca)
                .await
                .unwrap();
            n
        });
        let tb = tokio::spawn(async move {
            let n: i64 = redis::cmd("MSETNX")
                .arg(&kb.1)
                .arg("B")
                .arg(&kb.0)
                .arg("B")
                .query_async(&mut cb)
                .await
                .unwrap();
            n
        });
        let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());
        assert_eq!(ra + rb, 1, "round {round}: both or neither won");
        let vals: Vec<String> = redis::cmd("MGET")
            .arg(&x)
            .arg(&y)
            .query_async(&mut check)
            .await
            .unwrap();
        let winner = if ra == 1 { "A" } else { "B" };
        assert_eq!(vals, vec![winner, winner], "round {round}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incr_decr_family() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["INCR", "n"], b":1\r\n").await;
    c.call(&["INCRBY", "n", "10"], b":11\r\n").await;
    c.call(&["DECR", "n"], b":10\r\n").await;
    c.call(&["DECRBY", "n", "15"], b":-5\r\n").await;
    c.call(&["INCRBY", "n", "-5"], b":-10\r\n").await;
    c.call(&["GET", "n"], &bulk("-10")).await;
    c.call(&["DECR", "fresh"], b":-1\r\n").await;
    c.call(&["INCRBY", "n", "abc"], NOT_INT).await;
    c.call(&["INCRBY", "n", "1.5"], NOT_INT).await;
    for bad in [
        "abc",
        " 1",
        "1 ",
        "01",
        "+1",
        "1.0",
        "",
        "99999999999999999999",
    ] {
        c.call(&["SET", "s", bad], OK).await;
        c.call(&["INCR", "s"], NOT_INT).await;
    }
    c.call(&["SET", "max", "9223372036854775807"], OK).await;
    c.call(
        &["INCR", "max"],
        &err("ERR increment or decrement would overflow"),
    )
    .await;
    c.call(&["SET", "min", "-9223372036854775808"], OK).await;
    c.call(
        &["DECR", "min"],
        &err("ERR increment or decrement would overflow"),
    )
    .await;
    c.call(
        &["INCRBY", "min", "-1"],
        &err("ERR increment or decrement would overflow"),
    )
    .await;
    c.call(
        &["DECRBY", "n", "-9223372036854775808"],
        &err("ERR decrement would overflow"),
    )
    .await;
    c.call(
        &["INCRBY", "zero", "-9223372036854775808"],
        b":-9223372036854775808\r\n",
    )
    .await;
    c.call(&["GET", "max"], &bulk("9223372036854775807")).await;
    c.call(&["RPUSH", "list", "a"], b":1\r\n").await;
    c.call(&["INCR", "list"], WRONGTYPE).await;
    // The TTL survives the rewrite.
    c.call(&["SET", "t", "5", "EX", "100"], OK).await;
    c.call(&["INCR", "t"], b":6\r\n").await;
    let t = int_of(&mut c, &["TTL", "t"]).await;
    assert!((99..=100).contains(&t));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incrbyfloat_output_and_errors() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["INCRBYFLOAT", "f", "1"], &bulk("1")).await;
    c.call(&["INCRBYFLOAT", "f", "0.25"], &bulk("1.25")).await;
    c.call(&["SET", "f", "10.5"], OK).await;
    c.call(&["INCRBYFLOAT", "f", "0.1"], &bulk("10.6")).await;
    // As redis-server 7.0 replies: 10.6 is inexact in a long double, and "%.17Lf" shows it.
    c.call(
        &["INCRBYFLOAT", "f", "5.0e3"],
        &bulk("5010.60000000000000009"),
    )
    .await;
    c.call(&["INCRBYFLOAT", "f", "-5010.6"], &bulk("0")).await;
    c.call(&["SET", "big", "17179869184"], OK).await;
    c.call(&["INCRBYFLOAT", "big", "1.5"], &bulk("17179869185.5"))
        .await;
    c.call(
        &["INCRBYFLOAT", "e", "1e20"],
        &bulk("100000000000000000000"),
    )
    .await;
    c.call(&["GET", "f"], &bulk("0")).await;
    c.call(&["INCRBYFLOAT", "f", "abc"], NOT_FLOAT).await;
    c.call(&["INCRBYFLOAT", "f", ""], NOT_FLOAT).await;
    c.call(&["INCRBYFLOAT", "f", "nan"], NOT_FLOAT).await;
    c.call(&["SET", "s", "abc"], OK).await;
    c.call(&["INCRBYFLOAT", "s", "1"], NOT_FLOAT).await;
    c.call(&["SET", "s", " 1"], OK).await;
    c.call(&["INCRBYFLOAT", "s", "1"], NOT_FLOAT).await;
    let nan_inf = err("ERR increment would produce NaN or Infinity");
    c.call(&["INCRBYFLOAT", "f", "inf"], &nan_inf).await;
    c.call(&["SET", "inf", "inf"], OK).await;
    c.call(&["INCRBYFLOAT", "inf", "-inf"], &nan_inf).await;
    c.call(&["INCRBYFLOAT", "inf", "1"], &nan_inf).await;
    c.call(&["GET", "inf"], &bulk("inf")).await;
    c.call(&["RPUSH", "list", "a"], b":1\r\n").await;
    c.call(&["INCRBYFLOAT", "list", "1"], WRONGTYPE).await;
    // Redis's long double: sums a double would round differently print as Redis prints them.
    c.call(&["INCRBYFLOAT", "tenth", "0.1"], &bulk("0.1")).await;
    c.call(&["INCRBYFLOAT", "tenth", "0.1"], &bulk("0.2")).await;
    c.call(&["INCRBYFLOAT", "tenth", "0.1"], &bulk("0.3")).await;
    c.call(&["SET", "max", "9223372036854775807"], OK).await;
    c.call(
        &["INCRBYFLOAT", "max", "1e-5"],
        &bulk("9223372036854775807"),
    )
    .await;
    c.call(&["SET", "hex", "0x10"], OK).await;
    c.call(&["INCRBYFLOAT", "hex", "0x1p4"], &bulk("32")).await;
    c.call(&["INCRBYFLOAT", "hex", "1e-99999"], NOT_FLOAT).await;
    c.call(&["SET", "t", "1.5", "EX", "100"], OK).await;
    c.call(&["INCRBYFLOAT", "t", "1"], &bulk("2.5")).await;
    let t = int_of(&mut c, &["TTL", "t"]).await;
    assert!((99..=100).contains(&t));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_and_strlen() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["STRLEN", "k"], b":0\r\n").await;
    c.call(&["APPEND", "k", "Hello"], b":5\r\n").await;
    c.call(&["APPEND", "k", " World"], b":11\r\n").await;
    c.call(&["GET", "k"], &bulk("Hello World")).await;
    c.call(&["STRLEN", "k"], b":11\r\n").await;
    c.call(&["APPEND", "k", ""], b":11\r\n").await;
    c.call(&["SET", "n", "12"], OK).await;
    c.call(&["APPEND", "n", "34"], b":4\r\n").await;
    c.call(&["GET", "n"], &bulk("1234")).await;
    c.call(&["RPUSH", "list", "a"], b":1\r\n").await;
    c.call(&["APPEND", "list", "x"], WRONGTYPE).await;
    c.call(&["STRLEN", "list"], WRONGTYPE).await;
    c.call(&["EXPIRE", "k", "100"], b":1\r\n").await;
    c.call(&["APPEND", "k", "!"], b":12\r\n").await;
    let t = int_of(&mut c, &["TTL", "k"]).await;
    assert!((99..=100).contains(&t), "APPEND keeps the TTL");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getrange_and_substr() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["GETRANGE", "k", "0", "-1"], b"$0\r\n\r\n").await;
    c.call(&["SET", "k", "This is a string"], OK).await;
    c.call(&["GETRANGE", "k", "0", "3"], &bulk("This")).await;
    c.call(&["GETRANGE", "k", "-3", "-1"], &bulk("ing")).await;
    c.call(&["GETRANGE", "k", "0", "-1"], &bulk("This is a string"))
        .await;
    c.call(&["GETRANGE", "k", "10", "100"], &bulk("string"))
        .await;
    c.call(&["GETRANGE", "k", "5", "3"], b"$0\r\n\r\n").await;
    c.call(&["GETRANGE", "k", "-1", "-5"], b"$0\r\n\r\n").await;
    c.call(&["GETRANGE", "k", "-100", "3"], &bulk("This")).await;
    c.call(&["GETRANGE", "k", "100", "200"], b"$0\r\n\r\n")
        .await;
    c.call(&["SUBSTR", "k", "0", "3"], &bulk("This")).await;
    c.call(&["GETRANGE", "k", "a", "3"], NOT_INT).await;
    c.call(&["GETRANGE", "k", "0", "b"], NOT_INT).await;
    c.call(&["SET", "n", "1234"], OK).await;
    c.call(&["GETRANGE", "n", "1", "2"], &bulk("23")).await;
    c.call(&["RPUSH", "list", "a"], b":1\r\n").await;
    c.call(&["GETRANGE", "list", "0", "1"], WRONGTYPE).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setrange_pads_and_checks_limits() {
    let s = TestServer::with(|c| c.proto_max_bulk_len = 100).await;
    let mut c = s.raw().await;
    c.call(&["SETRANGE", "k", "5", "x"], b":6\r\n").await;
    c.call(&["GET", "k"], b"$6\r\n\0\0\0\0\0x\r\n").await;
    c.call(&["SET", "k", "Hello World"], OK).await;
    c.call(&["SETRANGE", "k", "6", "Redis"], b":11\r\n").await;
    c.call(&["GET", "k"], &bulk("Hello Redis")).await;
    c.call(&["SETRANGE", "k", "9", "XYZ"], b":12\r\n").await;
    c.call(&["GET", "k"], &bulk("Hello RedXYZ")).await;
    // Writing nothing changes nothing, and creates no key.
    c.call(&["SETRANGE", "k", "50", ""], b":12\r\n").await;
    c.call(&["SETRANGE", "empty", "0", ""], b":0\r\n").await;
    c.call(&["EXISTS", "empty"], b":0\r\n").await;
    c.call(
        &["SETRANGE", "k", "-1", "x"],
        &err("ERR offset is out of range"),
    )
    .await;
    c.call(&["SETRANGE", "k", "x", "x"], NOT_INT).await;
    let too_big = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    c.call(&["SETRANGE", "k", "100", "x"], &too_big).await;
    c.call(&["SETRANGE", "new", "99", "xy"], &too_big).await;
    c.call(&["EXISTS", "new"], b":0\r\n").await;
    c.call(&["SETRANGE", "new", "99", "x"], b":100\r\n").await;
    c.call(&["SET", "a", &"a".repeat(60)], OK).await;
    c.call(&["APPEND", "a", &"b".repeat(40)], b":100\r\n").await;
    c.call(&["APPEND", "a", "c"], &too_big).await;
    c.call(&["STRLEN", "a"], b":100\r\n").await;
    c.call(&["RPUSH", "list", "a"], b":1\r\n").await;
    c.call(&["SETRANGE", "list", "0", "x"], WRONGTYPE).await;
    c.call(&["SETRANGE", "list", "0", ""], WRONGTYPE).await;
    c.call(&["SET", "t", "abc", "EX", "100"], OK).await;
    c.call(&["SETRANGE", "t", "1", "X"], b":3\r\n").await;
    let t = int_of(&mut c, &["TTL", "t"]).await;
    assert!((99..=100).contains(&t), "SETRANGE keeps the TTL");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_nulls_and_shapes() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.cmd(&["HELLO", "3"]).await;
    let hello = read_reply(&mut c).await;
    assert_eq!(hello[0], b'%', "HELLO 3 answers a map");
    c.call(&["GET", "k"], b"_\r\n").await;
    c.call(&["SET", "k", "v"], OK).await;
    c.call(&["SET", "k", "w", "NX"], b"_\r\n").await;
    c.call(&["SET", "k", "w", "GET"], &bulk("v")).await;
    c.call(&["MGET", "k", "nokey"], b"*2\r\n$1\r\nw\r\n_\r\n")
        .await;
    c.call(&["GETDEL", "nokey"], b"_\r\n").await;
    // INCRBYFLOAT stays a bulk string in RESP3, as in Redis.
    c.call(&["INCRBYFLOAT", "f", "1.5"], &bulk("1.5")).await;
    s.stop().await;
}

/// APPEND and SETRANGE change a long value in place (with spare room past 1 KiB, as Redis's
/// sds strings): 2,000 appends build a 2 MB value byte-exact, its TTL kept, SETRANGE pads
/// with zeros, WATCH sees the change, and in tiered mode the value survives a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_values_grow_in_place() {
    for tiered in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let start = || {
            let data_dir = dir.path().to_path_buf();
            TestServer::with(move |c| {
                if tiered {
                    c.storage = autocache_node::config::Storage::Tiered;
                    c.data_dir = data_dir;
                }
            })
        };
        let s = start().await;
        let mut c = s.client().await;
        let mut expected = b"start".to_vec();
        let _: () = redis::cmd("SET")
            .arg("log")
            .arg("start")
            .arg("EX")
            .arg(1000)
            .query_async(&mut c)
            .await
            .unwrap();
        let mut watcher = s.raw().await;
        watcher.call(&["WATCH", "log"], b"+OK\r\n").await;
        for round in 0..20 {
            let mut p = redis::pipe();
            for i in 0..100 {
                let chunk = vec![b'a' + ((round * 100 + i) % 26) as u8; 1024];
                expected.extend_from_slice(&chunk);
                p.cmd("APPEND").arg("log").arg(chunk);
            }
            let lens: Vec<usize> = p.query_async(&mut c).await.unwrap();
            assert_eq!(*lens.last().unwrap(), expected.len());
        }
        let end = expected.len();
        let set: usize = redis::cmd("SETRANGE")
            .arg("log")
            .arg(end + 3)
            .arg("tail")
            .query_async(&mut c)
            .await
            .unwrap();
        expected.extend_from_slice(b"\0\0\0tail");
        assert_eq!(set, expected.len());
        let set: usize = redis::cmd("SETRANGE")
            .arg("log")
            .arg(2)
            .arg("ART")
            .query_async(&mut c)
            .await
            .unwrap();
        expected[2..5].copy_from_slice(b"ART");
        assert_eq!(set, expected.len());
        let got: Vec<u8> = redis::cmd("GET")
            .arg("log")
            .query_async(&mut c)
            .await
            .unwrap();
        assert!(
            got == expected,
            "value differs (len {} vs {})",
            got.len(),
            expected.len()
        );
        let ttl: i64 = redis::cmd("TTL")
            .arg("log")
            .query_async(&mut c)
            .await
            .unwrap();
        assert!((990..=1000).contains(&ttl), "TTL kept: {ttl}");
        watcher.call(&["MULTI"], b"+OK\r\n").await;
        watcher.call(&["GET", "nothing"], b"+QUEUED\r\n").await;
        watcher.call(&["EXEC"], b"*-1\r\n").await;
        // A copy under another key is exact too (and DUMP/RESTORE carries it).
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg("log")
            .query_async(&mut c)
            .await
            .unwrap();
        let _: () = redis::cmd("RESTORE")
            .arg("copy")
            .arg(0)
            .arg(dump)
            .query_async(&mut c)
            .await
            .unwrap();
        let copy: Vec<u8> = redis::cmd("GET")
            .arg("copy")
            .query_async(&mut c)
            .await
            .unwrap();
        assert!(copy == expected, "restored copy differs");
        if tiered {
            s.stop().await;
            let s = start().await;
            let mut c = s.client().await;
            let got: Vec<u8> = redis::cmd("GET")
                .arg("log")
                .query_async(&mut c)
                .await
                .unwrap();
            assert!(got == expected, "after a restart (len {})", got.len());
            s.stop().await;
        } else {
            s.stop().await;
        }
    }
}

/// LCS against redis-server 7.0: fixed edge cases, then random strings over a small
/// alphabet with every option; replies must be identical (the match ranges included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lcs_matches_redis() {
    use crate::differential::{xorshift, Pair};
    let mut p = Pair::start(TestServer::start().await).await;
    p.same(&[
        &["MSET", "k1", "ohmytext", "k2", "mynewtext"],
        &["LCS", "k1", "k2"],
        &["LCS", "k1", "k2", "LEN"],
        &["LCS", "k1", "k2", "IDX"],
        &["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
        &[
            "LCS",
            "k1",
            "k2",
            "idx",
            "minmatchlen",
            "-5",
            "withmatchlen",
        ],
        &["LCS", "k1", "k2", "LEN", "IDX"],
        &["LCS", "k1", "k2", "MINMATCHLEN"],
        &["LCS", "k1", "k2", "MINMATCHLEN", "x"],
        &["LCS", "k1", "k2", "FOO"],
        &["LCS", "k1", "nokey"],
        &["LCS", "nokey", "nokey2", "IDX"],
        &["LPUSH", "list", "a"],
        &["LCS", "k1", "list"],
        &["LCS", "list", "k1", "FOO"],
        &["LCS", "k1"],
    ])
    .await;
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..60 {
        let word = |next: &mut dyn FnMut(u64) -> u64| -> String {
            (0..next(30))
                .map(|_| (b'a' + next(4) as u8) as char)
                .collect()
        };
        let (a, b) = (word(&mut next), word(&mut next));
        let min = next(4).to_string();
        p.same(&[
            &["MSET", "x", &a, "y", &b],
            &["LCS", "x", "y"],
            &["LCS", "y", "x", "LEN"],
            &["LCS", "x", "y", "IDX", "WITHMATCHLEN"],
            &["LCS", "x", "y", "IDX", "MINMATCHLEN", &min],
        ])
        .await;
    }
    p.stop().await;
}
