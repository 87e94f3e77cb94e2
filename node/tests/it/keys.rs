//! Generic key commands against the real server: exact replies and error texts (Redis 7.0),
//! SCAN's guarantee under concurrent writes, DUMP/RESTORE round trips.

use crate::common::*;
use autocache_node::db::evict::Policy;
use std::collections::HashSet;
use std::time::Duration;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn del_unlink_exists_touch_type() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["MSET", "a", "1", "b", "2", "c", "3"], OK).await;
    c.call(&["RPUSH", "list", "x"], b":1\r\n").await;
    c.call(&["EXISTS", "a", "a", "nokey", "list"], b":3\r\n")
        .await;
    c.call(&["TOUCH", "a", "b", "nokey"], b":2\r\n").await;
    c.call(&["TYPE", "a"], b"+string\r\n").await;
    c.call(&["TYPE", "list"], b"+list\r\n").await;
    c.call(&["TYPE", "nokey"], b"+none\r\n").await;
    c.call(&["DEL", "a", "a", "nokey"], b":1\r\n").await;
    c.call(&["UNLINK", "b", "list"], b":2\r\n").await;
    c.call(&["EXISTS", "a", "b", "list", "c"], b":1\r\n").await;
    c.call(
        &["DEL"],
        &err("ERR wrong number of arguments for 'del' command"),
    )
    .await;
    // An expired key is absent to every command, DEL included.
    c.call(&["SET", "gone", "v", "PXAT", "1"], OK).await;
    c.call(&["DEL", "gone"], b":0\r\n").await;
    c.call(&["EXISTS", "gone"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_with_nx_xx_gt_lt() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["EXPIRE", "nokey", "100"], b":0\r\n").await;
    c.call(&["SET", "k", "v"], OK).await;
    // No TTL yet: NX and LT apply, XX and GT do not.
    c.call(&["EXPIRE", "k", "100", "XX"], b":0\r\n").await;
    c.call(&["EXPIRE", "k", "100", "GT"], b":0\r\n").await;
    c.call(&["TTL", "k"], b":-1\r\n").await;
    c.call(&["EXPIRE", "k", "100", "nx"], b":1\r\n").await;
    c.call(&["EXPIRE", "k", "200", "NX"], b":0\r\n").await;
    c.call(&["EXPIRE", "k", "200", "XX"], b":1\r\n").await;
    c.call(&["EXPIRE", "k", "100", "GT"], b":0\r\n").await;
    c.call(&["EXPIRE", "k", "300", "GT"], b":1\r\n").await;
    c.call(&["EXPIRE", "k", "400", "LT"], b":0\r\n").await;
    c.call(&["EXPIRE", "k", "50", "LT"], b":1\r\n").await;
    c.call(&["EXPIRE", "k", "60", "XX", "GT"], b":1\r\n").await;
    let t = int_of(&mut c, &["TTL", "k"]).await;
    assert!((59..=60).contains(&t), "ttl {t}");
    c.call(&["PERSIST", "k"], b":1\r\n").await;
    c.call(&["EXPIRE", "k", "10", "LT"], b":1\r\n").await;

    let nx_err = err("ERR NX and XX, GT or LT options at the same time are not compatible");
    c.call(&["EXPIRE", "k", "10", "NX", "XX"], &nx_err).await;
    c.call(&["EXPIRE", "k", "10", "NX", "GT"], &nx_err).await;
    c.call(&["EXPIRE", "k", "10", "LT", "NX"], &nx_err).await;
    c.call(
        &["EXPIRE", "k", "10", "GT", "LT"],
        &err("ERR GT and LT options at the same time are not compatible"),
    )
    .await;
    c.call(
        &["EXPIRE", "k", "10", "FOO"],
        &err("ERR Unsupported option FOO"),
    )
    .await;
    c.call(&["EXPIRE", "k", "ten"], NOT_INT).await;
    // Options are checked before the time argument.
    c.call(
        &["EXPIRE", "k", "ten", "FOO"],
        &err("ERR Unsupported option FOO"),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_overflow_and_past_times() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SET", "k", "v"], OK).await;
    let max = "9223372036854775807";
    c.call(
        &["EXPIRE", "k", max],
        &err("ERR invalid expire time in 'expire' command"),
    )
    .await;
    c.call(
        &["EXPIRE", "k", "-9223372036854775808"],
        &err("ERR invalid expire time in 'expire' command"),
    )
    .await;
    c.call(
        &["PEXPIRE", "k", max],
        &err("ERR invalid expire time in 'pexpire' command"),
    )
    .await;
    c.call(
        &["EXPIREAT", "k", "9223372036854776"],
        &err("ERR invalid expire time in 'expireat' command"),
    )
    .await;
    c.call(&["TTL", "k"], b":-1\r\n").await;
    c.call(&["PEXPIREAT", "k", max], b":1\r\n").await;
    c.call(&["PEXPIRETIME", "k"], &int(i64::MAX)).await;
    // A time already past deletes the key and still answers 1.
    c.call(&["EXPIRE", "k", "-1"], b":1\r\n").await;
    c.call(&["EXISTS", "k"], b":0\r\n").await;
    c.call(&["SET", "k", "v"], OK).await;
    c.call(&["EXPIREAT", "k", "1"], b":1\r\n").await;
    c.call(&["EXISTS", "k"], b":0\r\n").await;
    c.call(&["SET", "k", "v"], OK).await;
    c.call(&["PEXPIRE", "k", "0"], b":1\r\n").await;
    c.call(&["EXISTS", "k"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_pttl_expiretime_persist() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        c.call(&[cmd, "nokey"], b":-2\r\n").await;
    }
    c.call(&["SET", "k", "v"], OK).await;
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        c.call(&[cmd, "k"], b":-1\r\n").await;
    }
    c.call(&["PEXPIRE", "k", "100000"], b":1\r\n").await;
    let pttl = int_of(&mut c, &["PTTL", "k"]).await;
    assert!((99_000..=100_000).contains(&pttl), "pttl {pttl}");
    let ttl = int_of(&mut c, &["TTL", "k"]).await;
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    let at = now_ms() + 3_600_500;
    c.call(&["PEXPIREAT", "k", &at.to_string()], b":1\r\n")
        .await;
    c.call(&["PEXPIRETIME", "k"], &int(at)).await;
    c.call(&["EXPIRETIME", "k"], &int((at + 500) / 1000)).await;
    c.call(&["EXPIREAT", "k", &(at / 1000).to_string()], b":1\r\n")
        .await;
    c.call(&["PEXPIRETIME", "k"], &int(at / 1000 * 1000)).await;
    c.call(&["PERSIST", "k"], b":1\r\n").await;
    c.call(&["PERSIST", "k"], b":0\r\n").await;
    c.call(&["PERSIST", "nokey"], b":0\r\n").await;
    c.call(&["TTL", "k"], b":-1\r\n").await;
    c.call(&["GET", "k"], &bulk("v")).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_with_glob_patterns() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "foo", "f*o", "x",
    ] {
        let () = redis::cmd("SET")
            .arg(k)
            .arg("1")
            .query_async(&mut c)
            .await
            .unwrap();
    }
    let () = redis::cmd("SET")
        .arg("expired")
        .arg("1")
        .arg("PXAT")
        .arg(1)
        .query_async(&mut c)
        .await
        .unwrap();
    async fn keys(c: &mut redis::aio::MultiplexedConnection, p: &str) -> Vec<String> {
        let mut v: Vec<String> = redis::cmd("KEYS").arg(p).query_async(c).await.unwrap();
        v.sort();
        v
    }
    assert_eq!(keys(&mut c, "h?llo").await, ["hallo", "hello", "hxllo"]);
    assert_eq!(
        keys(&mut c, "h*llo").await,
        ["hallo", "heeeello", "hello", "hllo", "hxllo"]
    );
    assert_eq!(keys(&mut c, "h[ae]llo").await, ["hallo", "hello"]);
    assert_eq!(keys(&mut c, "h[^e]llo").await, ["hallo", "hxllo"]);
    assert_eq!(keys(&mut c, "h[a-b]llo").await, ["hallo"]);
    assert_eq!(keys(&mut c, "f\\*o").await, ["f*o"]);
    assert_eq!(keys(&mut c, "nomatch*").await, Vec::<String>::new());
    assert_eq!(
        keys(&mut c, "*").await.len(),
        8,
        "expired keys are not listed"
    );
    s.stop().await;
}

async fn full_scan(c: &mut redis::aio::MultiplexedConnection, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    loop {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg(extra)
            .query_async(c)
            .await
            .unwrap();
        all.extend(keys);
        if next == "0" {
            return all;
        }
        cursor = next;
    }
}

/// While full SCANs (COUNT 7) run, other clients delete a fifth of the keys and add more than
/// there were: every key present throughout must come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_returns_every_stable_key_under_churn() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    let mut pipe = redis::pipe();
    for i in 0..5_000 {
        let key = if i % 5 == 0 {
            format!("del:{i}")
        } else {
            format!("keep:{i}")
        };
        pipe.cmd("SET").arg(key).arg(i).ignore();
    }
    let () = pipe.query_async(&mut c).await.unwrap();

    let keep: Vec<String> = (0..5_000)
        .filter(|i| i % 5 != 0)
        .map(|i| format!("keep:{i}"))
        .collect();
    let assert_all_kept = |seen: &HashSet<String>, pass: &str| {
        let missing: Vec<&String> = keep.iter().filter(|k| !seen.contains(*k)).collect();
        assert!(
            missing.is_empty(),
            "{pass}: missed {} keys, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    };

    // First pass: writes between every two pages, so the iteration certainly overlaps them
    // (and slot tables grow under the cursor).
    let mut w = s.client().await;
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor = "0".to_string();
    let mut pages = 0;
    loop {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(7)
            .query_async(&mut c)
            .await
            .unwrap();
        seen.extend(keys);
        let mut p = redis::pipe();
        p.cmd("DEL")
            .arg(format!("del:{}", (pages * 5) % 5_000))
            .ignore();
        for j in 0..5 {
            p.cmd("SET")
                .arg(format!("inter:{pages}:{j}"))
                .arg(j)
                .ignore();
        }
        let () = p.query_async(&mut w).await.unwrap();
        pages += 1;
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert!(
        pages > 500,
        "COUNT 7 over 5000 keys took only {pages} pages"
    );
    assert_all_kept(&seen, "interleaved pass");

    // Second phase: another client writes concurrently; scan until it is done.
    let churn = tokio::spawn(async move {
        for i in 0..5_000 {
            let mut p = redis::pipe();
            if i % 5 == 0 {
                p.cmd("DEL").arg(format!("del:{i}")).ignore();
            }
            p.cmd("SET").arg(format!("new:{i}")).arg(i).ignore();
            let () = p.query_async(&mut w).await.unwrap();
        }
    });
    let mut scans = 0;
    loop {
        let done = churn.is_finished();
        let seen: HashSet<String> = full_scan(&mut c, &["COUNT", "7"])
            .await
            .into_iter()
            .collect();
        scans += 1;
        assert_all_kept(&seen, &format!("concurrent pass {scans}"));
        if done {
            break;
        }
    }
    churn.await.unwrap();
    // Quiet keyspace: each key exactly once.
    let all = full_scan(&mut c, &["COUNT", "7"]).await;
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "duplicates without concurrent writes"
    );
    assert_eq!(all.len(), 4_000 + 5_000 + 5 * pages);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_match_type_and_errors() {
    let s = TestServer::start().await;
    let mut raw = s.raw().await;
    raw.call(&["SCAN", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n").await;
    let mut c = s.client().await;
    for i in 0..200 {
        let () = redis::cmd("SET")
            .arg(format!("user:{i}"))
            .arg(i)
            .query_async(&mut c)
            .await
            .unwrap();
        let () = redis::cmd("SET")
            .arg(format!("item:{i}"))
            .arg(i)
            .query_async(&mut c)
            .await
            .unwrap();
    }
    for i in 0..30 {
        let _: i64 = redis::cmd("RPUSH")
            .arg(format!("queue:{i}"))
            .arg("x")
            .query_async(&mut c)
            .await
            .unwrap();
    }
    let () = redis::cmd("SET")
        .arg("user:expired")
        .arg(1)
        .arg("PXAT")
        .arg(1)
        .query_async(&mut c)
        .await
        .unwrap();
    let mut users = full_scan(&mut c, &["MATCH", "user:*"]).await;
    users.sort();
    let mut want: Vec<String> = (0..200).map(|i| format!("user:{i}")).collect();
    want.sort();
    assert_eq!(users, want);
    let lists = full_scan(&mut c, &["TYPE", "list", "COUNT", "1000"]).await;
    assert_eq!(lists.len(), 30);
    assert!(lists.iter().all(|k| k.starts_with("queue:")));
    let strings = full_scan(&mut c, &["type", "STRING", "match", "item:1*"]).await;
    assert_eq!(strings.len(), 111, "item:1, item:10-19, item:100-199");
    assert!(full_scan(&mut c, &["TYPE", "hash"]).await.is_empty());
    assert_eq!(full_scan(&mut c, &["MATCH", "*"]).await.len(), 430);

    // One call with a big COUNT returns everything and ends the iteration.
    let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(10_000)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!((next.as_str(), keys.len()), ("0", 430));

    raw.call(&["SCAN", "abc"], &err("ERR invalid cursor")).await;
    raw.call(&["SCAN", "1 "], &err("ERR invalid cursor")).await;
    // strtoul's reading, as Redis: a sign (a negative one wraps) and "" are cursors.
    for cursor in ["+0", "", "-1"] {
        let r: redis::RedisResult<(String, Vec<String>)> =
            redis::cmd("SCAN").arg(cursor).query_async(&mut c).await;
        assert!(r.is_ok(), "SCAN {cursor:?}: {r:?}");
    }
    raw.call(&["SCAN", "0", "COUNT", "0"], SYNTAX).await;
    raw.call(&["SCAN", "0", "COUNT", "x"], NOT_INT).await;
    raw.call(&["SCAN", "0", "COUNT"], SYNTAX).await;
    raw.call(&["SCAN", "0", "FOO", "bar"], SYNTAX).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomkey() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["RANDOMKEY"], NIL).await;
    c.call(&["SET", "gone", "v", "PXAT", "1"], OK).await;
    c.call(&["RANDOMKEY"], NIL).await;
    c.call(&["SET", "only", "v"], OK).await;
    c.call(&["RANDOMKEY"], &bulk("only")).await;
    let mut cl = s.client().await;
    for i in 0..50 {
        let () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query_async(&mut cl)
            .await
            .unwrap();
    }
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let k: String = redis::cmd("RANDOMKEY").query_async(&mut cl).await.unwrap();
        assert!(k == "only" || k.starts_with('k'), "{k}");
        seen.insert(k);
    }
    assert!(
        seen.len() > 5,
        "RANDOMKEY keeps returning the same few keys: {seen:?}"
    );
    c.call(&["HELLO", "3"], b"").await;
    let _ = read_reply(&mut c).await;
    c.call(&["FLUSHALL"], OK).await;
    c.call(&["RANDOMKEY"], b"_\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_and_renamenx() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["RENAME", "nokey", "x"], &err("ERR no such key"))
        .await;
    c.call(&["RENAMENX", "nokey", "x"], &err("ERR no such key"))
        .await;
    c.call(&["RENAME", "nokey", "nokey"], &err("ERR no such key"))
        .await;
    c.call(&["SET", "a", "1", "EX", "100"], OK).await;
    c.call(&["RENAME", "a", "b"], OK).await;
    c.call(&["EXISTS", "a"], b":0\r\n").await;
    c.call(&["GET", "b"], &bulk("1")).await;
    let t = int_of(&mut c, &["TTL", "b"]).await;
    assert!((99..=100).contains(&t), "RENAME keeps the TTL ({t})");
    c.call(&["RENAME", "b", "b"], OK).await;
    c.call(&["GET", "b"], &bulk("1")).await;
    c.call(&["RPUSH", "list", "x", "y"], b":2\r\n").await;
    c.call(&["RENAMENX", "b", "list"], b":0\r\n").await;
    c.call(&["RENAMENX", "b", "b"], b":0\r\n").await;
    c.call(&["RENAMENX", "b", "c"], b":1\r\n").await;
    c.call(&["GET", "c"], &bulk("1")).await;
    // Overwriting replaces type and TTL with the source's.
    c.call(&["RENAME", "list", "c"], OK).await;
    c.call(&["LRANGE", "c", "0", "-1"], b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n")
        .await;
    c.call(&["TTL", "c"], b":-1\r\n").await;
    c.call(&["EXISTS", "list"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_with_replace_and_db() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["COPY", "nokey", "b"], b":0\r\n").await;
    c.call(&["SET", "a", "1", "EX", "100"], OK).await;
    c.call(&["COPY", "a", "b"], b":1\r\n").await;
    c.call(&["GET", "b"], &bulk("1")).await;
    c.call(&["GET", "a"], &bulk("1")).await;
    let t = int_of(&mut c, &["TTL", "b"]).await;
    assert!((99..=100).contains(&t), "COPY keeps the TTL ({t})");
    c.call(&["SET", "a", "2"], OK).await;
    c.call(&["COPY", "a", "b"], b":0\r\n").await;
    c.call(&["GET", "b"], &bulk("1")).await;
    c.call(&["COPY", "a", "b", "REPLACE"], b":1\r\n").await;
    c.call(&["GET", "b"], &bulk("2")).await;
    c.call(&["TTL", "b"], b":-1\r\n").await;
    c.call(&["COPY", "a", "b", "DB", "0", "replace"], b":1\r\n")
        .await;
    c.call(
        &["COPY", "a", "a"],
        &err("ERR source and destination objects are the same"),
    )
    .await;
    c.call(
        &["COPY", "a", "b", "DB", "1"],
        &err("ERR DB index is out of range"),
    )
    .await;
    c.call(&["COPY", "a", "b", "DB", "x"], NOT_INT).await;
    c.call(&["COPY", "a", "b", "DB"], SYNTAX).await;
    c.call(&["COPY", "a", "b", "FOO"], SYNTAX).await;
    // A copied collection is independent of its source.
    c.call(&["RPUSH", "l1", "x"], b":1\r\n").await;
    c.call(&["COPY", "l1", "l2"], b":1\r\n").await;
    c.call(&["RPUSH", "l2", "y"], b":2\r\n").await;
    c.call(&["LRANGE", "l1", "0", "-1"], b"*1\r\n$1\r\nx\r\n")
        .await;
    c.call(
        &["LRANGE", "l2", "0", "-1"],
        b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_encoding_refcount_idletime_freq() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["OBJECT", "ENCODING", "nokey"], NIL).await;
    for (value, enc) in [
        ("12345", "int"),
        ("-1", "int"),
        ("0", "int"),
        ("9223372036854775807", "int"),
        ("9223372036854775808", "embstr"),
        ("01", "embstr"),
        ("1.5", "embstr"),
        ("", "embstr"),
    ] {
        c.call(&["SET", "k", value], OK).await;
        c.call(&["OBJECT", "ENCODING", "k"], &bulk(enc)).await;
    }
    c.call(&["SET", "k", &"x".repeat(44)], OK).await;
    c.call(&["OBJECT", "encoding", "k"], &bulk("embstr")).await;
    c.call(&["SET", "k", &"x".repeat(45)], OK).await;
    c.call(&["OBJECT", "ENCODING", "k"], &bulk("raw")).await;
    c.call(&["RPUSH", "list", "a"], b":1\r\n").await;
    c.cmd(&["OBJECT", "ENCODING", "list"]).await;
    let enc = read_reply(&mut c).await;
    assert!(
        enc == bulk("listpack") || enc == bulk("quicklist"),
        "{}",
        String::from_utf8_lossy(&enc)
    );

    c.call(&["SET", "n", "100"], OK).await;
    c.call(&["OBJECT", "REFCOUNT", "n"], b":2147483647\r\n")
        .await;
    c.call(&["OBJECT", "REFCOUNT", "k"], b":1\r\n").await;
    c.call(&["OBJECT", "REFCOUNT", "nokey"], NIL).await;
    let idle = int_of(&mut c, &["OBJECT", "IDLETIME", "k"]).await;
    assert!((0..=1).contains(&idle), "just written, idle {idle}");
    c.call(&["OBJECT", "IDLETIME", "nokey"], NIL).await;
    c.call(
        &["OBJECT", "FREQ", "k"],
        &err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
    )
    .await;
    c.call(&["OBJECT", "FREQ", "nokey"], NIL).await;

    c.cmd(&["OBJECT", "HELP"]).await;
    let help = read_reply(&mut c).await;
    let text = String::from_utf8_lossy(&help);
    assert!(
        text.starts_with(
            "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("+HELP\r\n+    Prints this help.\r\n"),
        "{text}"
    );
    c.call(
        &["OBJECT", "FOO", "k"],
        &err("ERR unknown subcommand 'FOO'. Try OBJECT HELP."),
    )
    .await;
    c.call(
        &["OBJECT", "ENCODING"],
        &err("ERR wrong number of arguments for 'object|encoding' command"),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_under_lfu_policy() {
    let s = TestServer::with(|c| c.maxmemory_policy = Policy::AllKeysLfu).await;
    let mut c = s.raw().await;
    c.call(&["SET", "k", "v"], OK).await;
    // A new key starts at Redis's LFU_INIT_VAL, 5 (4 if a minute boundary just passed).
    let freq = int_of(&mut c, &["OBJECT", "FREQ", "k"]).await;
    assert!((4..=5).contains(&freq), "new key freq {freq}");
    for _ in 0..200 {
        c.call(&["GET", "k"], &bulk("v")).await;
    }
    let freq = int_of(&mut c, &["OBJECT", "FREQ", "k"]).await;
    assert!(freq > 5, "accesses raise the counter ({freq})");
    c.call(
        &["OBJECT", "IDLETIME", "k"],
        &err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_restore_round_trip() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    let mut raw = s.raw().await;
    raw.call(&["DUMP", "nokey"], NIL).await;
    let () = redis::cmd("SET")
        .arg("src")
        .arg(b"bin\0\r\nary")
        .arg("PX")
        .arg(100_000)
        .query_async(&mut c)
        .await
        .unwrap();
    let payload: Vec<u8> = redis::cmd("DUMP")
        .arg("src")
        .query_async(&mut c)
        .await
        .unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg("src")
        .query_async(&mut c)
        .await
        .unwrap();
    let () = redis::cmd("RESTORE")
        .arg("dst")
        .arg(pttl)
        .arg(&payload)
        .query_async(&mut c)
        .await
        .unwrap();
    let v: Vec<u8> = redis::cmd("GET")
        .arg("dst")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, b"bin\0\r\nary");
    let t: i64 = redis::cmd("PTTL")
        .arg("dst")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(t > 0 && t <= pttl, "restored ttl {t} vs {pttl}");

    let restore = |key: &str, ttl: &str, extra: &[&str]| {
        let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), &payload];
        args.extend(extra.iter().map(|a| a.as_bytes()));
        encode_bin(&args)
    };
    raw.send(&restore("dst", "0", &[])).await;
    raw.expect(b"-BUSYKEY Target key name already exists.\r\n")
        .await;
    raw.send(&restore("dst", "0", &["REPLACE"])).await;
    raw.expect(OK).await;
    raw.call(&["TTL", "dst"], b":-1\r\n").await;
    raw.send(&restore(
        "abs",
        &(now_ms() + 60_000).to_string(),
        &["ABSTTL"],
    ))
    .await;
    raw.expect(OK).await;
    let t = int_of(&mut raw, &["TTL", "abs"]).await;
    assert!((59..=60).contains(&t), "ABSTTL {t}");
    // An absolute TTL in the past: OK, but no key (and REPLACE still removed the old one).
    raw.send(&restore("dst", "1", &["ABSTTL", "REPLACE"])).await;
    raw.expect(OK).await;
    raw.call(&["EXISTS", "dst"], b":0\r\n").await;
    raw.send(&restore("idle", "0", &["IDLETIME", "1000"])).await;
    raw.expect(OK).await;
    let idle = int_of(&mut raw, &["OBJECT", "IDLETIME", "idle"]).await;
    assert!((1000..1010).contains(&idle), "idle {idle}");

    raw.send(&restore("x", "-1", &[])).await;
    raw.expect(b"-ERR Invalid TTL value, must be >= 0\r\n")
        .await;
    raw.send(&restore("x", "abc", &[])).await;
    raw.expect(NOT_INT).await;
    raw.send(&restore("x", "0", &["IDLETIME", "-1"])).await;
    raw.expect(b"-ERR Invalid IDLETIME value, must be >= 0\r\n")
        .await;
    raw.send(&restore("x", "0", &["FREQ", "256"])).await;
    raw.expect(b"-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n")
        .await;
    raw.send(&restore("x", "0", &["FREQ", "1", "IDLETIME", "1"]))
        .await;
    raw.expect(SYNTAX).await;
    raw.send(&restore("x", "0", &["FOO"])).await;
    raw.expect(SYNTAX).await;

    // Corrupted payloads: a flipped byte, a truncation, plain garbage.
    let bad = err("ERR DUMP payload version or checksum are wrong");
    let mut flipped = payload.clone();
    flipped[1] ^= 0x40;
    for p in [
        flipped,
        payload[..payload.len() - 1].to_vec(),
        b"garbage".to_vec(),
        Vec::new(),
    ] {
        raw.send(&encode_bin(&[b"RESTORE", b"x", b"0", &p])).await;
        raw.expect(&bad).await;
    }
    raw.call(&["EXISTS", "x"], b":0\r\n").await;

    // Collections round-trip too.
    let _: i64 = redis::cmd("RPUSH")
        .arg("list")
        .arg("a")
        .arg("b")
        .arg("c")
        .query_async(&mut c)
        .await
        .unwrap();
    let lp: Vec<u8> = redis::cmd("DUMP")
        .arg("list")
        .query_async(&mut c)
        .await
        .unwrap();
    let () = redis::cmd("RESTORE")
        .arg("list2")
        .arg(0)
        .arg(&lp)
        .query_async(&mut c)
        .await
        .unwrap();
    let items: Vec<String> = redis::cmd("LRANGE")
        .arg("list2")
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(items, ["a", "b", "c"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_usage() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["MEMORY", "USAGE", "nokey"], NIL).await;
    c.call(&["SET", "k", &"v".repeat(1000)], OK).await;
    let n = int_of(&mut c, &["MEMORY", "USAGE", "k"]).await;
    assert!((1001..2000).contains(&n), "usage {n}");
    let n2 = int_of(&mut c, &["MEMORY", "USAGE", "k", "SAMPLES", "0"]).await;
    assert_eq!(n, n2);
    c.call(&["MEMORY", "USAGE", "k", "SAMPLES", "-1"], SYNTAX)
        .await;
    c.call(&["MEMORY", "USAGE", "k", "SAMPLES"], SYNTAX).await;
    c.call(&["MEMORY", "USAGE", "k", "FOO", "1"], SYNTAX).await;
    c.call(&["MEMORY", "USAGE", "k", "SAMPLES", "x"], NOT_INT)
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_key_is_gone_for_ttl_and_type() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SET", "k", "v", "PX", "50"], OK).await;
    let addr = s.addr;
    wait_until(Duration::from_secs(5), || async move {
        let mut c = Raw::connect(addr).await;
        c.cmd(&["TYPE", "k"]).await;
        read_reply(&mut c).await == b"+none\r\n"
    })
    .await;
    c.call(&["TTL", "k"], b":-2\r\n").await;
    c.call(&["EXISTS", "k"], b":0\r\n").await;
    s.stop().await;
}
