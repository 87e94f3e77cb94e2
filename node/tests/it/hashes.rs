//! Hash commands against the real server: exact replies (RESP2, and RESP3 where the shapes
//! differ), errors, WRONGTYPE, empty-hash deletion, TTL kept across changes, OBJECT ENCODING
//! transitions and HSCAN full iterations.

use crate::common::*;
use std::collections::HashMap;

/// Fills `key` with `n` fields `f0..` holding `v0..`.
async fn fill(c: &mut redis::aio::MultiplexedConnection, key: &str, n: usize) {
    let mut cmd = redis::cmd("HSET");
    cmd.arg(key);
    for i in 0..n {
        cmd.arg(format!("f{i}")).arg(format!("v{i}"));
    }
    let added: usize = cmd.query_async(c).await.unwrap();
    assert_eq!(added, n);
}

async fn encoding(c: &mut redis::aio::MultiplexedConnection, key: &str) -> String {
    redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query_async(c)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_get_and_friends() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["HSET", "h", "f1", "v1", "f2", "v2"], b":2\r\n")
        .await;
    c.call(&["HSET", "h", "f1", "v1x", "f3", "v3"], b":1\r\n")
        .await;
    c.call(&["HGET", "h", "f1"], &bulk("v1x")).await;
    c.call(&["HGET", "h", "nope"], b"$-1\r\n").await;
    c.call(&["HGET", "missing", "f"], b"$-1\r\n").await;
    c.call(&["HMSET", "h", "f4", "v4"], b"+OK\r\n").await;
    c.call(&["HSETNX", "h", "f1", "other"], b":0\r\n").await;
    c.call(&["HSETNX", "h", "f5", "v5"], b":1\r\n").await;
    c.call(&["HSETNX", "fresh", "a", "b"], b":1\r\n").await;
    c.call(&["HGET", "h", "f1"], &bulk("v1x")).await;
    c.call(&["HLEN", "h"], b":5\r\n").await;
    c.call(&["HLEN", "missing"], b":0\r\n").await;
    c.call(&["HEXISTS", "h", "f2"], b":1\r\n").await;
    c.call(&["HEXISTS", "h", "nope"], b":0\r\n").await;
    c.call(&["HEXISTS", "missing", "f2"], b":0\r\n").await;
    c.call(&["HSTRLEN", "h", "f1"], b":3\r\n").await;
    c.call(&["HSTRLEN", "h", "nope"], b":0\r\n").await;
    c.call(&["HSTRLEN", "missing", "f1"], b":0\r\n").await;
    c.call(
        &["HMGET", "h", "f1", "nope", "f2"],
        b"*3\r\n$3\r\nv1x\r\n$-1\r\n$2\r\nv2\r\n",
    )
    .await;
    c.call(&["HMGET", "missing", "a", "b"], b"*2\r\n$-1\r\n$-1\r\n")
        .await;
    // Odd field/value counts, by the dispatcher (too few) or the command (unpaired).
    c.call(
        &["HSET", "h", "f"],
        &err("ERR wrong number of arguments for 'hset' command"),
    )
    .await;
    c.call(
        &["HSET", "h", "a", "1", "b"],
        &err("ERR wrong number of arguments for 'hset' command"),
    )
    .await;
    c.call(
        &["HMSET", "h", "a", "1", "b"],
        &err("ERR wrong number of arguments for 'hmset' command"),
    )
    .await;
    c.call(&["HEXISTS", "h", "a"], b":0\r\n").await;
    // Empty fields and values are legal.
    c.call(&["HSET", "h", "", ""], b":1\r\n").await;
    c.call(&["HGET", "h", ""], b"$0\r\n\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getall_keys_vals_in_insertion_order() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["HSET", "h", "b", "2", "a", "1", "c", "3"], b":3\r\n")
        .await;
    c.call(&["HGETALL", "h"], &bulks(&["b", "2", "a", "1", "c", "3"]))
        .await;
    c.call(&["HKEYS", "h"], &bulks(&["b", "a", "c"])).await;
    c.call(&["HVALS", "h"], &bulks(&["2", "1", "3"])).await;
    c.call(&["HGETALL", "missing"], b"*0\r\n").await;
    c.call(&["HKEYS", "missing"], b"*0\r\n").await;
    c.call(&["HVALS", "missing"], b"*0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_shapes() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    hello3(&mut c).await;
    c.call(&["HSET", "h", "f", "v", "g", "w"], b":2\r\n").await;
    c.call(
        &["HGETALL", "h"],
        b"%2\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n",
    )
    .await;
    c.call(&["HGETALL", "missing"], b"%0\r\n").await;
    c.call(&["HGET", "h", "nope"], b"_\r\n").await;
    c.call(&["HMGET", "h", "f", "nope"], b"*2\r\n$1\r\nv\r\n_\r\n")
        .await;
    c.call(&["HRANDFIELD", "missing"], b"_\r\n").await;
    c.call(&["HSET", "one", "f", "v"], b":1\r\n").await;
    // WITHVALUES nests each pair in RESP3.
    c.call(
        &["HRANDFIELD", "one", "1", "WITHVALUES"],
        b"*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    )
    .await;
    c.call(
        &["HRANDFIELD", "one", "-2", "WITHVALUES"],
        b"*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    )
    .await;
    c.call(&["HRANDFIELD", "one", "-2"], &bulks(&["f", "f"]))
        .await;
    c.call(&["HINCRBYFLOAT", "h", "n", "1.5"], &bulk("1.5"))
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdel_deletes_the_emptied_key_and_ttl_survives_changes() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["HSET", "h", "a", "1", "b", "2", "c", "3"], b":3\r\n")
        .await;
    c.call(&["EXPIRE", "h", "1000"], b":1\r\n").await;
    c.call(&["HSET", "h", "d", "4"], b":1\r\n").await;
    c.call(&["HINCRBY", "h", "n", "1"], b":1\r\n").await;
    c.call(&["HDEL", "h", "a", "nope", "b"], b":2\r\n").await;
    let mut typed = s.client().await;
    let ttl: i64 = redis::cmd("TTL")
        .arg("h")
        .query_async(&mut typed)
        .await
        .unwrap();
    assert!((999..=1000).contains(&ttl), "TTL kept: {ttl}");
    c.call(&["HDEL", "h", "c", "d", "n"], b":3\r\n").await;
    c.call(&["EXISTS", "h"], b":0\r\n").await;
    c.call(&["HDEL", "h", "a"], b":0\r\n").await;
    c.call(&["HDEL", "missing", "a"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hincrby_and_its_errors() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["HINCRBY", "h", "n", "5"], b":5\r\n").await;
    c.call(&["HINCRBY", "h", "n", "-10"], b":-5\r\n").await;
    c.call(&["HGET", "h", "n"], &bulk("-5")).await;
    c.call(
        &[
            "HSET",
            "h",
            "s",
            "abc",
            "lead",
            "01",
            "big",
            "9223372036854775807",
        ],
        b":3\r\n",
    )
    .await;
    let not_int = err("ERR hash value is not an integer");
    c.call(&["HINCRBY", "h", "s", "1"], &not_int).await;
    c.call(&["HINCRBY", "h", "lead", "1"], &not_int).await;
    c.call(
        &["HINCRBY", "h", "n", "x"],
        &err("ERR value is not an integer or out of range"),
    )
    .await;
    c.call(
        &["HINCRBY", "h", "big", "1"],
        &err("ERR increment or decrement would overflow"),
    )
    .await;
    c.call(&["HSET", "h", "small", "-9223372036854775808"], b":1\r\n")
        .await;
    c.call(
        &["HINCRBY", "h", "small", "-1"],
        &err("ERR increment or decrement would overflow"),
    )
    .await;
    c.call(&["HINCRBY", "h", "big", "-1"], b":9223372036854775806\r\n")
        .await;
    // A failed increment on a missing key creates nothing.
    c.call(
        &["HINCRBY", "fresh", "n", "x"],
        &err("ERR value is not an integer or out of range"),
    )
    .await;
    c.call(&["EXISTS", "fresh"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hincrbyfloat_formats_like_incrbyfloat() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["HINCRBYFLOAT", "h", "f", "10.5"], &bulk("10.5"))
        .await;
    c.call(&["HINCRBYFLOAT", "h", "f", "0.1"], &bulk("10.6"))
        .await;
    c.call(&["HINCRBYFLOAT", "h", "f", "-10.6"], &bulk("0"))
        .await;
    c.call(&["HINCRBYFLOAT", "h", "e", "5.0e3"], &bulk("5000"))
        .await;
    c.call(
        &["HINCRBYFLOAT", "h", "e2", "1e20"],
        &bulk("100000000000000000000"),
    )
    .await;
    c.call(
        &["HSET", "h", "i", "5", "s", "abc", "huge", "1e4932"],
        b":3\r\n",
    )
    .await;
    c.call(&["HINCRBYFLOAT", "h", "i", "1.5"], &bulk("6.5"))
        .await;
    c.call(&["HGET", "h", "i"], &bulk("6.5")).await;
    c.call(
        &["HINCRBYFLOAT", "h", "s", "1"],
        &err("ERR hash value is not a float"),
    )
    .await;
    c.call(
        &["HINCRBYFLOAT", "h", "f", "abc"],
        &err("ERR value is not a valid float"),
    )
    .await;
    c.call(
        &["HINCRBYFLOAT", "h", "f", "inf"],
        &err("ERR value is NaN or Infinity"),
    )
    .await;
    c.call(
        &["HINCRBYFLOAT", "h", "huge", "1e4932"],
        &err("ERR increment would produce NaN or Infinity"),
    )
    .await;
    c.call(&["HGET", "h", "huge"], &bulk("1e4932")).await;
    // Redis's long double: 0.1 + 0.2 is 0.3, hexadecimal reads, past a double's range.
    c.call(&["HSET", "h", "x", "0.1", "hex", "0x10"], b":2\r\n")
        .await;
    c.call(&["HINCRBYFLOAT", "h", "x", "0.2"], &bulk("0.3"))
        .await;
    c.call(&["HINCRBYFLOAT", "h", "hex", "1"], &bulk("17"))
        .await;
    c.call(&["HSET", "h", "d", "1.7e308"], b":1\r\n").await;
    // What redis-server 7.0 (x86-64) replies: 3.4e308 to a long double's 64-bit precision.
    let sum = call_text(&mut c, &["HINCRBYFLOAT", "h", "d", "1.7e308"]).await;
    assert_eq!(
        sum,
        concat!(
            "34000000000000000000627355605039519359054042777938826746608717152640491210241164",
            "19881237391778006006739570476837712634253228069978360015869614572748200333930949",
            "01317200013624802610872515245814124760542925564488876540887382670905522638137419",
            "003805178364056052028734561012664811529831035124023358619554802565120"
        )
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_type_everywhere() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SET", "str", "v"], b"+OK\r\n").await;
    let cmds: &[&[&str]] = &[
        &["HSET", "str", "f", "v"],
        &["HMSET", "str", "f", "v"],
        &["HSETNX", "str", "f", "v"],
        &["HGET", "str", "f"],
        &["HMGET", "str", "f"],
        &["HGETALL", "str"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HDEL", "str", "f"],
        &["HEXISTS", "str", "f"],
        &["HLEN", "str"],
        &["HSTRLEN", "str", "f"],
        &["HINCRBY", "str", "f", "1"],
        &["HINCRBYFLOAT", "str", "f", "1"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "2"],
        &["HSCAN", "str", "0"],
    ];
    for cmd in cmds {
        c.call(cmd, WRONGTYPE).await;
    }
    c.call(&["GET", "str"], &bulk("v")).await;
    // And a hash is not a string.
    c.call(&["HSET", "h", "f", "v"], b":1\r\n").await;
    c.call(&["GET", "h"], WRONGTYPE).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hrandfield_counts_and_errors() {
    let s = TestServer::start().await;
    let mut raw = s.raw().await;
    raw.call(&["HRANDFIELD", "missing"], b"$-1\r\n").await;
    raw.call(&["HRANDFIELD", "missing", "3"], b"*0\r\n").await;
    raw.call(&["HRANDFIELD", "missing", "-3", "WITHVALUES"], b"*0\r\n")
        .await;
    raw.call(&["HSET", "one", "f", "v"], b":1\r\n").await;
    raw.call(&["HRANDFIELD", "one"], &bulk("f")).await;
    raw.call(&["HRANDFIELD", "one", "0"], b"*0\r\n").await;
    raw.call(&["HRANDFIELD", "one", "5"], &bulks(&["f"])).await;
    raw.call(&["HRANDFIELD", "one", "-3"], &bulks(&["f", "f", "f"]))
        .await;
    raw.call(
        &["HRANDFIELD", "one", "1", "WITHVALUES"],
        &bulks(&["f", "v"]),
    )
    .await;
    raw.call(
        &["HRANDFIELD", "one", "-2", "withvalues"],
        &bulks(&["f", "v", "f", "v"]),
    )
    .await;
    raw.call(&["HRANDFIELD", "one", "1", "2"], &err("ERR syntax error"))
        .await;
    raw.call(
        &["HRANDFIELD", "one", "1", "WITHVALUES", "x"],
        &err("ERR syntax error"),
    )
    .await;
    raw.call(
        &["HRANDFIELD", "one", "x"],
        &err("ERR value is not an integer or out of range"),
    )
    .await;
    raw.call(
        &["HRANDFIELD", "one", "-9223372036854775808"],
        &err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    )
    .await;
    raw.call(
        &["HRANDFIELD", "one", "4611686018427387904", "WITHVALUES"],
        &err("ERR value is out of range"),
    )
    .await;

    let mut c = s.client().await;
    for n in [5usize, 300] {
        let key = format!("h{n}");
        fill(&mut c, &key, n).await;
        let picks: Vec<String> = redis::cmd("HRANDFIELD")
            .arg(&key)
            .arg(3)
            .query_async(&mut c)
            .await
            .unwrap();
        let mut distinct = picks.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "distinct picks: {picks:?}");
        let all: Vec<String> = redis::cmd("HRANDFIELD")
            .arg(&key)
            .arg(n + 10)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(all.len(), n, "a count past the size gives every field once");
        let mut all_sorted = all.clone();
        all_sorted.sort();
        all_sorted.dedup();
        assert_eq!(all_sorted.len(), n);
        let repeats: Vec<String> = redis::cmd("HRANDFIELD")
            .arg(&key)
            .arg(-(2 * n as i64))
            .arg("WITHVALUES")
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(repeats.len(), 4 * n);
        for pair in repeats.chunks(2) {
            let i = pair[0].strip_prefix('f').expect("a field");
            assert_eq!(pair[1], format!("v{i}"), "value belongs to its field");
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hscan_small_errors_and_match() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["HSCAN", "missing", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n")
        .await;
    // The cursor is checked first, the options only against an existing hash.
    c.call(&["HSCAN", "missing", "x"], &err("ERR invalid cursor"))
        .await;
    c.call(
        &["HSCAN", "missing", "0", "BOGUS"],
        b"*2\r\n$1\r\n0\r\n*0\r\n",
    )
    .await;
    c.call(&["HSET", "h", "a1", "1", "b1", "2", "a2", "3"], b":3\r\n")
        .await;
    c.call(&["HSCAN", "h", "0"], b"*2\r\n$1\r\n0\r\n*6\r\n$2\r\na1\r\n$1\r\n1\r\n$2\r\nb1\r\n$1\r\n2\r\n$2\r\na2\r\n$1\r\n3\r\n")
        .await;
    // A listpack hash answers in one go whatever the cursor and COUNT.
    c.call(
        &["HSCAN", "h", "17", "COUNT", "1", "MATCH", "a*"],
        b"*2\r\n$1\r\n0\r\n*4\r\n$2\r\na1\r\n$1\r\n1\r\n$2\r\na2\r\n$1\r\n3\r\n",
    )
    .await;
    c.call(
        &["HSCAN", "h", "0", "MATCH", "zz*"],
        b"*2\r\n$1\r\n0\r\n*0\r\n",
    )
    .await;
    c.call(&["HSCAN", "h", "1.5"], &err("ERR invalid cursor"))
        .await;
    c.call(&["HSCAN", "h", "0", "COUNT", "0"], &err("ERR syntax error"))
        .await;
    c.call(
        &["HSCAN", "h", "0", "COUNT", "x"],
        &err("ERR value is not an integer or out of range"),
    )
    .await;
    c.call(&["HSCAN", "h", "0", "MATCH"], &err("ERR syntax error"))
        .await;
    c.call(&["HSCAN", "h", "0", "NOVALUES"], &err("ERR syntax error"))
        .await;
    s.stop().await;
}

/// Runs a full HSCAN of `key`, calling `between` after each step; returns how often each
/// field came and the values seen.
async fn full_hscan(
    c: &mut redis::aio::MultiplexedConnection,
    key: &str,
    count: usize,
    pattern: Option<&str>,
    mut between: impl FnMut(usize) -> Option<redis::Cmd>,
) -> HashMap<String, (usize, String)> {
    let mut seen: HashMap<String, (usize, String)> = HashMap::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let mut cmd = redis::cmd("HSCAN");
        cmd.arg(key).arg(&cursor).arg("COUNT").arg(count);
        if let Some(p) = pattern {
            cmd.arg("MATCH").arg(p);
        }
        let (next, items): (String, Vec<String>) = cmd.query_async(c).await.unwrap();
        for pair in items.chunks(2) {
            let e = seen.entry(pair[0].clone()).or_insert((0, pair[1].clone()));
            e.0 += 1;
        }
        if let Some(cmd) = between(step) {
            let _: redis::Value = cmd.query_async(c).await.unwrap();
        }
        step += 1;
        assert!(step < 10_000, "HSCAN does not terminate");
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hscan_full_iteration_of_a_large_hash() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    fill(&mut c, "big", 1000).await;
    assert_eq!(encoding(&mut c, "big").await, "hashtable");
    let seen = full_hscan(&mut c, "big", 10, None, |_| None).await;
    assert_eq!(seen.len(), 1000);
    for i in 0..1000 {
        let (times, value) = &seen[&format!("f{i}")];
        assert!(*times >= 1);
        assert_eq!(value, &format!("v{i}"));
    }
    // Fields added and removed meanwhile (the table grows): the others all still come.
    let seen = full_hscan(&mut c, "big", 25, None, |step| {
        let mut cmd = redis::cmd("HSET");
        cmd.arg("big");
        for j in 0..50 {
            cmd.arg(format!("extra{step}_{j}")).arg("x");
        }
        Some(cmd)
    })
    .await;
    for i in 0..1000 {
        assert!(seen.contains_key(&format!("f{i}")), "f{i} missed");
    }
    let seen = full_hscan(&mut c, "big", 10, None, |step| {
        let mut cmd = redis::cmd("HDEL");
        cmd.arg("big");
        for j in 0..50 {
            cmd.arg(format!("extra{step}_{j}"));
        }
        Some(cmd)
    })
    .await;
    for i in 0..1000 {
        assert!(seen.contains_key(&format!("f{i}")), "f{i} missed");
    }
    // COUNT is a hint: the largest one returns everything in one step (it once reserved
    // that many entries up front and panicked).
    let (next, items): (String, Vec<String>) = redis::cmd("HSCAN")
        .arg("big")
        .arg(0)
        .arg("COUNT")
        .arg(i64::MAX)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!((next.as_str(), items.len()), ("0", 2000));
    // MATCH filters but the iteration still covers everything.
    let seen = full_hscan(&mut c, "big", 10, Some("f9*"), |_| None).await;
    let mut want: Vec<String> = (0..1000)
        .map(|i| format!("f{i}"))
        .filter(|f| f.starts_with("f9"))
        .collect();
    want.sort();
    let mut got: Vec<String> = seen.keys().cloned().collect();
    got.sort();
    assert_eq!(got, want);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_encoding_transitions() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    fill(&mut c, "h", 128).await;
    assert_eq!(encoding(&mut c, "h").await, "listpack");
    let _: usize = redis::cmd("HSET")
        .arg("h")
        .arg("f128")
        .arg("x")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(encoding(&mut c, "h").await, "hashtable");
    // Never back, even when small again.
    let mut del = redis::cmd("HDEL");
    del.arg("h");
    for i in 0..128 {
        del.arg(format!("f{i}"));
    }
    let removed: usize = del.query_async(&mut c).await.unwrap();
    assert_eq!(removed, 128);
    assert_eq!(encoding(&mut c, "h").await, "hashtable");

    let mut raw = s.raw().await;
    raw.call(&["HSET", "v", "f", &"x".repeat(64)], b":1\r\n")
        .await;
    raw.call(&["OBJECT", "ENCODING", "v"], &bulk("listpack"))
        .await;
    raw.call(&["HSET", "v", "g", &"x".repeat(65)], b":1\r\n")
        .await;
    raw.call(&["OBJECT", "ENCODING", "v"], &bulk("hashtable"))
        .await;
    raw.call(&["HSET", "k", &"k".repeat(65), "v"], b":1\r\n")
        .await;
    raw.call(&["OBJECT", "ENCODING", "k"], &bulk("hashtable"))
        .await;
    raw.call(&["HINCRBYFLOAT", "n", "f", "1"], &bulk("1")).await;
    raw.call(&["OBJECT", "ENCODING", "n"], &bulk("listpack"))
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_hash_behaves_like_a_small_one() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    fill(&mut c, "big", 500).await;
    let mut raw = s.raw().await;
    raw.call(&["HGET", "big", "f42"], &bulk("v42")).await;
    raw.call(&["HSET", "big", "f42", "new"], b":0\r\n").await;
    raw.call(&["HGET", "big", "f42"], &bulk("new")).await;
    raw.call(&["HLEN", "big"], b":500\r\n").await;
    raw.call(&["HEXISTS", "big", "f499"], b":1\r\n").await;
    raw.call(&["HINCRBY", "big", "counter", "7"], b":7\r\n")
        .await;
    raw.call(&["HDEL", "big", "f0", "f1", "counter"], b":3\r\n")
        .await;
    raw.call(&["HLEN", "big"], b":498\r\n").await;
    let all: HashMap<String, String> = redis::cmd("HGETALL")
        .arg("big")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(all.len(), 498);
    assert_eq!(all["f42"], "new");
    assert_eq!(all["f7"], "v7");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_writes_inside_multi() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["MULTI"], b"+OK\r\n").await;
    c.call(&["HSET", "h", "a", "1"], b"+QUEUED\r\n").await;
    c.call(&["HINCRBY", "h", "a", "2"], b"+QUEUED\r\n").await;
    c.call(&["HGETALL", "h"], b"+QUEUED\r\n").await;
    c.call(&["EXEC"], b"*3\r\n:1\r\n:3\r\n*2\r\n$1\r\na\r\n$1\r\n3\r\n")
        .await;
    s.stop().await;
}

/// Repeated picks (a negative count) are built whole, so a reply that would pass
/// proto-max-bulk-len is refused up front instead of taking the node's memory and the shard
/// for minutes. The same guard covers HRANDFIELD, SRANDMEMBER and ZRANDMEMBER.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_picks_past_proto_max_bulk_len_are_refused() {
    const TOO_MANY: &str =
        "ERR count is out of range: that many picks would make a reply larger than proto-max-bulk-len";
    let s = TestServer::start().await;
    let mut raw = s.raw().await;
    raw.call(&["HSET", "h", "f", "v"], b":1\r\n").await;
    raw.call(&["SADD", "s", "m"], b":1\r\n").await;
    raw.call(&["ZADD", "z", "1", "m"], b":1\r\n").await;
    for (cmd, key) in [
        ("HRANDFIELD", "h"),
        ("SRANDMEMBER", "s"),
        ("ZRANDMEMBER", "z"),
    ] {
        raw.call(&[cmd, key, "-4294967296"], &err(TOO_MANY)).await;
        // Distinct picks are bounded by the collection: any count is fine.
        raw.call(
            &[cmd, key, "4294967296"],
            &bulks(&[if key == "h" { "f" } else { "m" }]),
        )
        .await;
    }
    raw.call(
        &["HRANDFIELD", "h", "-4294967296", "WITHVALUES"],
        &err(TOO_MANY),
    )
    .await;
    raw.call(
        &["ZRANDMEMBER", "z", "-4294967296", "WITHSCORES"],
        &err(TOO_MANY),
    )
    .await;
    // The limit follows the setting: at 1 MB, 1,000 picks pass and 1,000,000 do not.
    raw.call(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"], b"+OK\r\n")
        .await;
    let thousand = bulks(&vec!["m"; 1000]);
    raw.call(&["SRANDMEMBER", "s", "-1000"], &thousand).await;
    raw.call(&["ZRANDMEMBER", "z", "-1000"], &thousand).await;
    raw.call(&["HRANDFIELD", "h", "-1000"], &bulks(&vec!["f"; 1000]))
        .await;
    for (cmd, key) in [
        ("HRANDFIELD", "h"),
        ("SRANDMEMBER", "s"),
        ("ZRANDMEMBER", "z"),
    ] {
        raw.call(&[cmd, key, "-1000000"], &err(TOO_MANY)).await;
    }
    raw.call(&["PING"], b"+PONG\r\n").await;
    s.stop().await;
}
