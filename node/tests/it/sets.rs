//! Set commands against the real server: exact replies (RESP2, and RESP3 where the shapes
//! differ), errors, WRONGTYPE, empty-set deletion, TTL kept across changes, the set algebra
//! and its STORE forms, OBJECT ENCODING transitions and SSCAN full iterations.

use crate::common::*;
use std::collections::HashMap;

/// The RESP3 set of bulk strings `items`.
fn set3(items: &[&str]) -> Vec<u8> {
    let mut b = bulks(items);
    b[0] = b'~';
    b
}

type Conn = redis::aio::MultiplexedConnection;

async fn sadd(c: &mut Conn, key: &str, members: impl IntoIterator<Item = String>) -> usize {
    let mut cmd = redis::cmd("SADD");
    cmd.arg(key);
    for m in members {
        cmd.arg(m);
    }
    cmd.query_async(c).await.unwrap()
}

async fn sorted(c: &mut Conn, cmd: &mut redis::Cmd) -> Vec<String> {
    let mut v: Vec<String> = cmd.query_async(c).await.unwrap();
    v.sort();
    v
}

async fn encoding(c: &mut Conn, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query_async(c)
        .await
        .unwrap()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_remove_membership() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SADD", "s", "a", "b", "a"], b":2\r\n").await;
    c.call(&["SADD", "s", "b", "c"], b":1\r\n").await;
    c.call(&["SCARD", "s"], b":3\r\n").await;
    c.call(&["SCARD", "missing"], b":0\r\n").await;
    c.call(&["SISMEMBER", "s", "a"], b":1\r\n").await;
    c.call(&["SISMEMBER", "s", "z"], b":0\r\n").await;
    c.call(&["SISMEMBER", "missing", "a"], b":0\r\n").await;
    c.call(
        &["SMISMEMBER", "s", "a", "z", "c"],
        b"*3\r\n:1\r\n:0\r\n:1\r\n",
    )
    .await;
    c.call(&["SMISMEMBER", "missing", "a"], b"*1\r\n:0\r\n")
        .await;
    c.call(&["SREM", "s", "a", "z"], b":1\r\n").await;
    c.call(&["SREM", "missing", "a"], b":0\r\n").await;
    c.call(&["SREM", "s", "b", "c"], b":2\r\n").await;
    c.call(&["EXISTS", "s"], b":0\r\n").await;
    // Numbers that are not canonical integers stay distinct strings.
    c.call(&["SADD", "n", "1", "01", "+1", "1"], b":3\r\n")
        .await;
    c.call(&["SISMEMBER", "n", "01"], b":1\r\n").await;
    c.call(&["SREM", "n", "1"], b":1\r\n").await;
    c.call(&["SISMEMBER", "n", "01"], b":1\r\n").await;
    c.call(&["SISMEMBER", "n", "1"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smembers_orders_and_resp3_shapes() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    // An intset is sorted; a listpack keeps insertion order.
    c.call(&["SADD", "ints", "3", "-1", "2"], b":3\r\n").await;
    c.call(&["SMEMBERS", "ints"], &bulks(&["-1", "2", "3"]))
        .await;
    c.call(&["SADD", "strs", "b", "a", "c"], b":3\r\n").await;
    c.call(&["SMEMBERS", "strs"], &bulks(&["b", "a", "c"]))
        .await;
    c.call(&["SMEMBERS", "missing"], b"*0\r\n").await;
    hello3(&mut c).await;
    c.call(&["SMEMBERS", "ints"], &set3(&["-1", "2", "3"]))
        .await;
    c.call(&["SMEMBERS", "missing"], b"~0\r\n").await;
    c.call(&["SINTER", "ints", "ints"], &set3(&["-1", "2", "3"]))
        .await;
    c.call(&["SUNION", "missing"], b"~0\r\n").await;
    c.call(&["SPOP", "missing"], b"_\r\n").await;
    c.call(&["SPOP", "missing", "2"], b"~0\r\n").await;
    c.call(&["SRANDMEMBER", "missing"], b"_\r\n").await;
    c.call(&["SRANDMEMBER", "missing", "2"], b"*0\r\n").await;
    c.call(&["SADD", "one", "x"], b":1\r\n").await;
    // SRANDMEMBER answers an array even in RESP3 (picks may repeat); SPOP a set.
    c.call(&["SRANDMEMBER", "one", "-2"], &bulks(&["x", "x"]))
        .await;
    c.call(&["SRANDMEMBER", "one", "2"], &bulks(&["x"])).await;
    c.call(&["SPOP", "one", "5"], &set3(&["x"])).await;
    c.call(&["EXISTS", "one"], b":0\r\n").await;
    c.call(&["SMISMEMBER", "ints", "2"], b"*1\r\n:1\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spop_and_srandmember() {
    let s = TestServer::start().await;
    let mut raw = s.raw().await;
    raw.call(&["SPOP", "missing"], b"$-1\r\n").await;
    raw.call(&["SPOP", "missing", "3"], b"*0\r\n").await;
    raw.call(&["SRANDMEMBER", "missing"], b"$-1\r\n").await;
    raw.call(&["SRANDMEMBER", "missing", "3"], b"*0\r\n").await;
    raw.call(&["SADD", "one", "x"], b":1\r\n").await;
    raw.call(&["SRANDMEMBER", "one"], &bulk("x")).await;
    raw.call(&["SRANDMEMBER", "one", "0"], b"*0\r\n").await;
    raw.call(&["SRANDMEMBER", "one", "-3"], &bulks(&["x", "x", "x"]))
        .await;
    raw.call(&["SPOP", "one", "0"], b"*0\r\n").await;
    raw.call(&["SPOP", "one", "1", "2"], &err("ERR syntax error"))
        .await;
    raw.call(&["SRANDMEMBER", "one", "1", "2"], &err("ERR syntax error"))
        .await;
    let not_positive = err("ERR value is out of range, must be positive");
    raw.call(&["SPOP", "one", "-1"], &not_positive).await;
    raw.call(&["SPOP", "one", "x"], &not_positive).await;
    raw.call(
        &["SRANDMEMBER", "one", "x"],
        &err("ERR value is not an integer or out of range"),
    )
    .await;
    raw.call(
        &["SRANDMEMBER", "one", "-9223372036854775808"],
        &err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    )
    .await;
    raw.call(&["SPOP", "one"], &bulk("x")).await;
    raw.call(&["EXISTS", "one"], b":0\r\n").await;

    let mut c = s.client().await;
    // Each encoding: intset, listpack, hashtable.
    for (key, members) in [
        ("ints", (0..20).map(|i| i.to_string()).collect::<Vec<_>>()),
        ("lp", (0..20).map(|i| format!("m{i}")).collect()),
        ("ht", (0..300).map(|i| format!("m{i}")).collect()),
    ] {
        let n = members.len();
        assert_eq!(sadd(&mut c, key, members.clone()).await, n);
        let picks = sorted(&mut c, redis::cmd("SRANDMEMBER").arg(key).arg(5)).await;
        let mut distinct = picks.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 5, "{key}: distinct picks {picks:?}");
        assert!(picks.iter().all(|p| members.contains(p)));
        let all = sorted(&mut c, redis::cmd("SRANDMEMBER").arg(key).arg(n + 5)).await;
        let mut want = members.clone();
        want.sort();
        assert_eq!(
            all, want,
            "{key}: a count past the size gives the whole set"
        );
        let repeats: Vec<String> = redis::cmd("SRANDMEMBER")
            .arg(key)
            .arg(-(3 * n as i64))
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(repeats.len(), 3 * n);
        assert!(repeats.iter().all(|p| members.contains(p)));

        let popped = sorted(&mut c, redis::cmd("SPOP").arg(key).arg(7)).await;
        let mut distinct = popped.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 7, "{key}");
        let card: usize = redis::cmd("SCARD")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(card, n - 7);
        for p in &popped {
            let is: i64 = redis::cmd("SISMEMBER")
                .arg(key)
                .arg(p)
                .query_async(&mut c)
                .await
                .unwrap();
            assert_eq!(is, 0, "{key}: popped {p} is gone");
        }
        let one: String = redis::cmd("SPOP")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert!(members.contains(&one) && !popped.contains(&one));
        let rest = sorted(&mut c, redis::cmd("SPOP").arg(key).arg(n)).await;
        assert_eq!(rest.len(), n - 8);
        let mut everything: Vec<String> = popped.into_iter().chain([one]).chain(rest).collect();
        everything.sort();
        assert_eq!(everything, want, "{key}: every member popped exactly once");
        let exists: i64 = redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(exists, 0, "{key}: emptied by SPOP");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smove_cases() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SADD", "src", "a", "b", "c"], b":3\r\n").await;
    c.call(&["SET", "str", "v"], b"+OK\r\n").await;
    c.call(&["SMOVE", "src", "dst", "a"], b":1\r\n").await;
    c.call(&["SMEMBERS", "dst"], &bulks(&["a"])).await;
    c.call(&["SISMEMBER", "src", "a"], b":0\r\n").await;
    c.call(&["SMOVE", "src", "dst", "zz"], b":0\r\n").await;
    c.call(&["SMOVE", "missing", "dst", "a"], b":0\r\n").await;
    // A missing source answers 0 before the destination's type is checked.
    c.call(&["SMOVE", "missing", "str", "a"], b":0\r\n").await;
    c.call(&["SMOVE", "src", "str", "b"], WRONGTYPE).await;
    c.call(&["SMOVE", "str", "dst", "b"], WRONGTYPE).await;
    c.call(&["SISMEMBER", "src", "b"], b":1\r\n").await;
    c.call(&["SMOVE", "src", "src", "b"], b":1\r\n").await;
    c.call(&["SMOVE", "src", "src", "zz"], b":0\r\n").await;
    c.call(&["SADD", "dst", "b"], b":1\r\n").await;
    c.call(&["EXPIRE", "dst", "1000"], b":1\r\n").await;
    c.call(&["SMOVE", "src", "dst", "b"], b":1\r\n").await;
    c.call(&["SCARD", "dst"], b":2\r\n").await;
    c.call(&["SMOVE", "src", "dst", "c"], b":1\r\n").await;
    c.call(&["EXISTS", "src"], b":0\r\n").await;
    c.call(&["SMEMBERS", "dst"], &bulks(&["a", "b", "c"])).await;
    let mut typed = s.client().await;
    let ttl: i64 = redis::cmd("TTL")
        .arg("dst")
        .query_async(&mut typed)
        .await
        .unwrap();
    assert!((999..=1000).contains(&ttl), "TTL kept: {ttl}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inter_union_diff() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SADD", "a", "1", "2", "3", "4"], b":4\r\n").await;
    c.call(&["SADD", "b", "3", "4", "5"], b":3\r\n").await;
    c.call(&["SADD", "c", "x", "4"], b":2\r\n").await;
    // Integer results come back as intsets: sorted.
    c.call(&["SINTER", "a", "b"], &bulks(&["3", "4"])).await;
    c.call(&["SINTER", "a", "b", "c"], &bulks(&["4"])).await;
    c.call(&["SINTER", "a"], &bulks(&["1", "2", "3", "4"]))
        .await;
    c.call(&["SINTER", "a", "missing"], b"*0\r\n").await;
    c.call(&["SUNION", "a", "b"], &bulks(&["1", "2", "3", "4", "5"]))
        .await;
    c.call(&["SUNION", "a", "missing"], &bulks(&["1", "2", "3", "4"]))
        .await;
    c.call(&["SUNION", "missing"], b"*0\r\n").await;
    c.call(&["SDIFF", "a", "b"], &bulks(&["1", "2"])).await;
    c.call(&["SDIFF", "a", "b", "c"], &bulks(&["1", "2"])).await;
    c.call(&["SDIFF", "a", "a"], b"*0\r\n").await;
    c.call(&["SDIFF", "a", "missing"], &bulks(&["1", "2", "3", "4"]))
        .await;
    c.call(&["SDIFF", "missing", "a"], b"*0\r\n").await;
    // WRONGTYPE wherever the string is, even after a missing key.
    c.call(&["SET", "str", "v"], b"+OK\r\n").await;
    c.call(&["SINTER", "missing", "str"], WRONGTYPE).await;
    c.call(&["SINTER", "a", "str"], WRONGTYPE).await;
    c.call(&["SUNION", "a", "str"], WRONGTYPE).await;
    c.call(&["SDIFF", "a", "str"], WRONGTYPE).await;
    c.call(&["SDIFF", "missing", "str"], WRONGTYPE).await;
    c.call(&["SINTERSTORE", "d", "a", "str"], WRONGTYPE).await;
    c.call(&["SINTERCARD", "2", "a", "str"], WRONGTYPE).await;

    let mut t = s.client().await;
    let got = sorted(&mut t, redis::cmd("SUNION").arg("a").arg("c")).await;
    assert_eq!(got, strings(&["1", "2", "3", "4", "x"]));
    let got = sorted(&mut t, redis::cmd("SDIFF").arg("c").arg("a")).await;
    assert_eq!(got, strings(&["x"]));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_forms() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SADD", "a", "1", "2", "3", "4"], b":4\r\n").await;
    c.call(&["SADD", "b", "3", "4", "5"], b":3\r\n").await;
    c.call(&["SINTERSTORE", "d", "a", "b"], b":2\r\n").await;
    c.call(&["SMEMBERS", "d"], &bulks(&["3", "4"])).await;
    c.call(&["SUNIONSTORE", "d", "a", "b"], b":5\r\n").await;
    c.call(&["SMEMBERS", "d"], &bulks(&["1", "2", "3", "4", "5"]))
        .await;
    c.call(&["SDIFFSTORE", "d", "a", "b"], b":2\r\n").await;
    c.call(&["SMEMBERS", "d"], &bulks(&["1", "2"])).await;
    // An empty result deletes the destination.
    c.call(&["SDIFFSTORE", "d", "a", "a"], b":0\r\n").await;
    c.call(&["EXISTS", "d"], b":0\r\n").await;
    c.call(&["SADD", "d", "x"], b":1\r\n").await;
    c.call(&["SINTERSTORE", "d", "a", "missing"], b":0\r\n")
        .await;
    c.call(&["EXISTS", "d"], b":0\r\n").await;
    c.call(&["SUNIONSTORE", "d", "missing"], b":0\r\n").await;
    c.call(&["EXISTS", "d"], b":0\r\n").await;
    // The destination is replaced whatever it held, and its TTL goes.
    c.call(&["SET", "d", "string", "EX", "1000"], b"+OK\r\n")
        .await;
    c.call(&["SUNIONSTORE", "d", "b"], b":3\r\n").await;
    c.call(&["TYPE", "d"], b"+set\r\n").await;
    c.call(&["TTL", "d"], b":-1\r\n").await;
    // The destination may be a source.
    c.call(&["SINTERSTORE", "a", "a", "b"], b":2\r\n").await;
    c.call(&["SMEMBERS", "a"], &bulks(&["3", "4"])).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sintercard_and_its_errors() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SADD", "a", "1", "2", "3", "4"], b":4\r\n").await;
    c.call(&["SADD", "b", "2", "3", "4", "5"], b":4\r\n").await;
    c.call(&["SINTERCARD", "2", "a", "b"], b":3\r\n").await;
    c.call(&["SINTERCARD", "2", "a", "b", "LIMIT", "2"], b":2\r\n")
        .await;
    c.call(&["SINTERCARD", "2", "a", "b", "limit", "0"], b":3\r\n")
        .await;
    c.call(&["SINTERCARD", "2", "a", "b", "LIMIT", "10"], b":3\r\n")
        .await;
    c.call(&["SINTERCARD", "1", "a"], b":4\r\n").await;
    c.call(&["SINTERCARD", "2", "a", "missing"], b":0\r\n")
        .await;
    let numkeys = err("ERR numkeys should be greater than 0");
    c.call(&["SINTERCARD", "0", "a"], &numkeys).await;
    c.call(&["SINTERCARD", "-1", "a"], &numkeys).await;
    c.call(&["SINTERCARD", "x", "a"], &numkeys).await;
    c.call(
        &["SINTERCARD", "3", "a", "b"],
        &err("ERR Number of keys can't be greater than number of args"),
    )
    .await;
    let negative = err("ERR LIMIT can't be negative");
    c.call(&["SINTERCARD", "2", "a", "b", "LIMIT", "-1"], &negative)
        .await;
    c.call(&["SINTERCARD", "2", "a", "b", "LIMIT", "x"], &negative)
        .await;
    c.call(
        &["SINTERCARD", "2", "a", "b", "LIMIT"],
        &err("ERR syntax error"),
    )
    .await;
    c.call(&["SINTERCARD", "1", "a", "b"], &err("ERR syntax error"))
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_type_everywhere() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SET", "str", "v"], b"+OK\r\n").await;
    let cmds: &[&[&str]] = &[
        &["SADD", "str", "m"],
        &["SREM", "str", "m"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "m"],
        &["SMISMEMBER", "str", "m"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "2"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SINTER", "str"],
        &["SUNION", "str"],
        &["SDIFF", "str"],
        &["SUNIONSTORE", "d", "str"],
        &["SDIFFSTORE", "d", "str"],
        &["SINTERCARD", "1", "str"],
        &["SSCAN", "str", "0"],
    ];
    for cmd in cmds {
        c.call(cmd, WRONGTYPE).await;
    }
    c.call(&["EXISTS", "d"], b":0\r\n").await;
    c.call(&["SADD", "s", "m"], b":1\r\n").await;
    c.call(&["GET", "s"], WRONGTYPE).await;
    c.call(&["HSET", "s", "f", "v"], WRONGTYPE).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_survives_in_place_changes() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SADD", "s", "a", "b", "c"], b":3\r\n").await;
    c.call(&["EXPIRE", "s", "1000"], b":1\r\n").await;
    c.call(&["SADD", "s", "d"], b":1\r\n").await;
    c.call(&["SREM", "s", "a"], b":1\r\n").await;
    c.call(&["SPOP", "s", "1"], b"*1\r\n").await;
    let _ = c.read_exact_len(b"$1\r\nx\r\n".len()).await;
    let mut typed = s.client().await;
    let ttl: i64 = redis::cmd("TTL")
        .arg("s")
        .query_async(&mut typed)
        .await
        .unwrap();
    assert!((999..=1000).contains(&ttl), "TTL kept: {ttl}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_encoding_transitions() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    // intset → listpack → hashtable.
    sadd(&mut c, "s", (0..10).map(|i| i.to_string())).await;
    assert_eq!(encoding(&mut c, "s").await, "intset");
    sadd(&mut c, "s", ["a".to_string()]).await;
    assert_eq!(encoding(&mut c, "s").await, "listpack");
    sadd(&mut c, "s", (0..117).map(|i| format!("m{i}"))).await;
    assert_eq!(encoding(&mut c, "s").await, "listpack");
    sadd(&mut c, "s", ["one more".to_string()]).await;
    assert_eq!(encoding(&mut c, "s").await, "hashtable");
    // Never back.
    let _: Vec<String> = redis::cmd("SPOP")
        .arg("s")
        .arg(128)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(encoding(&mut c, "s").await, "hashtable");

    // intset → hashtable past 512 integers.
    sadd(&mut c, "ints", (0..512).map(|i| i.to_string())).await;
    assert_eq!(encoding(&mut c, "ints").await, "intset");
    sadd(&mut c, "ints", ["512".to_string()]).await;
    assert_eq!(encoding(&mut c, "ints").await, "hashtable");
    // A large intset takes no detour through listpack.
    sadd(&mut c, "ints2", (0..200).map(|i| i.to_string())).await;
    sadd(&mut c, "ints2", ["text".to_string()]).await;
    assert_eq!(encoding(&mut c, "ints2").await, "hashtable");
    // Long members skip listpack.
    sadd(&mut c, "long", ["1".to_string(), "y".repeat(65)]).await;
    assert_eq!(encoding(&mut c, "long").await, "hashtable");
    sadd(&mut c, "edge", ["z".repeat(64)]).await;
    assert_eq!(encoding(&mut c, "edge").await, "listpack");
    // Non-canonical numbers are strings.
    sadd(&mut c, "lead", ["007".to_string()]).await;
    assert_eq!(encoding(&mut c, "lead").await, "listpack");
    // A STORE result is encoded for what it holds.
    let n: usize = redis::cmd("SINTERSTORE")
        .arg("small")
        .arg("ints")
        .arg("ints")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 513);
    assert_eq!(encoding(&mut c, "small").await, "hashtable");
    sadd(&mut c, "mix", strings(&["a", "b", "3"])).await;
    let n: usize = redis::cmd("SDIFFSTORE")
        .arg("small")
        .arg("mix")
        .arg("ints")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(encoding(&mut c, "small").await, "listpack");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sscan_small_errors_and_match() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SSCAN", "missing", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n")
        .await;
    c.call(&["SSCAN", "missing", "x"], &err("ERR invalid cursor"))
        .await;
    c.call(&["SADD", "ints", "3", "1", "2"], b":3\r\n").await;
    c.call(
        &["SSCAN", "ints", "0"],
        b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    )
    .await;
    c.call(
        &["SSCAN", "ints", "0", "MATCH", "[12]"],
        b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
    )
    .await;
    c.call(&["SADD", "lp", "apple", "banana", "avocado"], b":3\r\n")
        .await;
    c.call(
        &["SSCAN", "lp", "0", "MATCH", "a*", "COUNT", "1"],
        b"*2\r\n$1\r\n0\r\n*2\r\n$5\r\napple\r\n$7\r\navocado\r\n",
    )
    .await;
    c.call(
        &["SSCAN", "lp", "0", "COUNT", "0"],
        &err("ERR syntax error"),
    )
    .await;
    c.call(
        &["SSCAN", "lp", "0", "COUNT", "-5"],
        &err("ERR syntax error"),
    )
    .await;
    c.call(
        &["SSCAN", "lp", "0", "TYPE", "set"],
        &err("ERR syntax error"),
    )
    .await;
    c.call(&["SSCAN", "lp", "-"], &err("ERR invalid cursor"))
        .await;
    s.stop().await;
}

/// Runs a full SSCAN of `key`, calling `between` after each step; returns how often each
/// member came.
async fn full_sscan(
    c: &mut Conn,
    key: &str,
    count: usize,
    mut between: impl FnMut(usize) -> Option<redis::Cmd>,
) -> HashMap<String, usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("SSCAN")
            .arg(key)
            .arg(&cursor)
            .arg("COUNT")
            .arg(count)
            .query_async(c)
            .await
            .unwrap();
        for m in items {
            *seen.entry(m).or_default() += 1;
        }
        if let Some(cmd) = between(step) {
            let _: redis::Value = cmd.query_async(c).await.unwrap();
        }
        step += 1;
        assert!(step < 10_000, "SSCAN does not terminate");
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sscan_full_iteration_of_a_large_set() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    sadd(&mut c, "big", (0..1000).map(|i| format!("m{i}"))).await;
    assert_eq!(encoding(&mut c, "big").await, "hashtable");
    let seen = full_sscan(&mut c, "big", 10, |_| None).await;
    assert_eq!(seen.len(), 1000);
    assert!(seen.values().all(|&n| n >= 1));
    // Members added (the table grows) and removed meanwhile: the others all still come.
    let seen = full_sscan(&mut c, "big", 20, |step| {
        let mut cmd = redis::cmd("SADD");
        cmd.arg("big");
        for j in 0..60 {
            cmd.arg(format!("extra{step}_{j}"));
        }
        Some(cmd)
    })
    .await;
    for i in 0..1000 {
        assert!(seen.contains_key(&format!("m{i}")), "m{i} missed");
    }
    let seen = full_sscan(&mut c, "big", 7, |step| {
        let mut cmd = redis::cmd("SREM");
        cmd.arg("big");
        for j in 0..60 {
            cmd.arg(format!("extra{step}_{j}"));
        }
        Some(cmd)
    })
    .await;
    for i in 0..1000 {
        assert!(seen.contains_key(&format!("m{i}")), "m{i} missed");
    }
    // An intset of 500 integers answers in one call.
    sadd(&mut c, "ints", (0..500).map(|i| i.to_string())).await;
    let (next, items): (String, Vec<String>) = redis::cmd("SSCAN")
        .arg("ints")
        .arg(0)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(next, "0");
    assert_eq!(items.len(), 500);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_key_commands_inside_multi() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["MULTI"], b"+OK\r\n").await;
    c.call(&["SADD", "a", "1", "2"], b"+QUEUED\r\n").await;
    c.call(&["SADD", "b", "2", "3"], b"+QUEUED\r\n").await;
    c.call(&["SUNIONSTORE", "d", "a", "b"], b"+QUEUED\r\n")
        .await;
    c.call(&["SMOVE", "a", "b", "1"], b"+QUEUED\r\n").await;
    c.call(&["SINTER", "a", "b"], b"+QUEUED\r\n").await;
    c.call(
        &["EXEC"],
        b"*5\r\n:2\r\n:2\r\n:3\r\n:1\r\n*1\r\n$1\r\n2\r\n",
    )
    .await;
    c.call(&["SMEMBERS", "d"], &bulks(&["1", "2", "3"])).await;
    s.stop().await;
}
