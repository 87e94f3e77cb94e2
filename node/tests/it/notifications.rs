//! Keyspace notifications (`notify-keyspace-events`) against a real redis-server 7.0: the
//! same commands run on both, a `PSUBSCRIBE __key*__:*` client on each collects what is
//! published, and the two streams of messages (and every reply) must be identical.

use crate::common::*;
use crate::differential::Pair;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_match_redis() {
    compare(TestServer::start().await, true).await;
}

/// Tiered: the same events, RocksDB under memory changes none of them. Eviction is left
/// out: it moves a key down a tier, where it still exists (no `evicted`).
#[cfg(feature = "tiered")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_match_redis_tiered() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::tiered(dir.path()).await;
    compare(server, false).await;
}

async fn compare(server: TestServer, eviction: bool) {
    let mut p = Pair::start(server).await;

    // Off by default: nothing is published.
    let none = p
        .same(&[
            &["CONFIG", "GET", "notify-keyspace-events"],
            &["SET", "k", "v"],
            &["DEL", "k"],
        ])
        .await;
    assert!(none.is_empty(), "{none:?}");

    // The setting: parsed, shown in canonical order, bad characters refused.
    p.same(&[
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
        &["CONFIG", "GET", "notify-keyspace-events"],
        &["CONFIG", "SET", "notify-keyspace-events", "Ex$"],
        &["CONFIG", "GET", "notify-keyspace-events"],
        &["CONFIG", "SET", "notify-keyspace-events", "Kq"],
        &["CONFIG", "GET", "notify-keyspace-events"],
        &["CONFIG", "SET", "notify-keyspace-events", "g$lshzxeKEnm"],
        &["CONFIG", "GET", "notify-keyspace-events"],
    ])
    .await;

    // Strings and generic commands.
    let events = p
        .same(&[
            &["SET", "s", "1"],
            &["SET", "s", "2", "EX", "100"],
            &["SET", "s", "3", "KEEPTTL"],
            &["SET", "s", "4", "NX"],
            &["SETNX", "s2", "x"],
            &["SETEX", "s3", "100", "x"],
            &["PSETEX", "s4", "100000", "x"],
            &["GETSET", "s", "5"],
            &["GETEX", "s", "EX", "50"],
            &["GETEX", "s", "PERSIST"],
            &["GETEX", "s", "PERSIST"],
            &["GETEX", "s4", "PXAT", "1"],
            &["GETDEL", "s3"],
            &["GETDEL", "s3"],
            &["GET", "missing"],
            &["EXISTS", "missing", "s"],
            &["TYPE", "missing"],
            &["TTL", "missing"],
            &["TOUCH", "missing"],
            &["OBJECT", "ENCODING", "missing"],
            &["STRLEN", "missing"],
            &["MSET", "m1", "1", "m2", "2"],
            &["MSETNX", "m1", "1", "m3", "3"],
            &["MSETNX", "m4", "1", "m5", "3"],
            &["INCR", "n"],
            &["INCRBY", "n", "5"],
            &["DECR", "n"],
            &["DECRBY", "n", "2"],
            &["INCRBYFLOAT", "n", "1.5"],
            &["APPEND", "n", "x"],
            &["SETRANGE", "n", "1", "yy"],
            &["SETRANGE", "n", "1", ""],
            &["SETRANGE", "empty", "1", ""],
            &["DEL", "m1", "m2", "nope"],
            &["UNLINK", "m4"],
            &["EXPIRE", "s2", "100"],
            &["EXPIRE", "s2", "200", "NX"],
            &["PEXPIRE", "s2", "500000", "XX"],
            &["PERSIST", "s2"],
            &["PERSIST", "s2"],
            &["EXPIRE", "s2", "-1"],
            &["EXPIRE", "gone", "10"],
            &["SET", "a", "1"],
            &["RENAME", "a", "b"],
            &["SET", "c", "1"],
            &["RENAME", "b", "c"],
            &["RENAMENX", "c", "m5"],
            &["RENAMENX", "c", "d"],
            &["RENAME", "d", "d"],
            &["COPY", "d", "e"],
            &["COPY", "d", "e"],
            &["COPY", "d", "e", "REPLACE"],
            &["SET", "t", "v", "PX", "1000000"],
            &["TOUCH", "t"],
            &["FLUSHALL"],
        ])
        .await;
    assert!(events.len() > 80, "{}", events.len());

    // RESTORE, with a payload Redis made.
    let payload = {
        p.r.call(&[b"SET", b"src", b"value"]).await;
        let reply = p.r.call(&[b"DUMP", b"src"]).await;
        p.r.call(&[b"DEL", b"src"]).await;
        p.r.messages().await;
        let body_at = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
        reply[body_at..reply.len() - 2].to_vec()
    };
    for (key, extra) in [("rk", None), ("rk", Some("REPLACE")), ("rk2", None)] {
        let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), b"0", &payload];
        args.extend(extra.map(str::as_bytes));
        assert_eq!(p.o.call(&args).await, p.r.call(&args).await, "{args:?}");
    }
    // Already expired: a replaced key is deleted, a new one never created.
    let past: [&[u8]; 6] = [b"RESTORE", b"rk", b"1", &payload, b"REPLACE", b"ABSTTL"];
    assert_eq!(p.o.call(&past).await, p.r.call(&past).await);
    let past: [&[u8]; 5] = [b"RESTORE", b"rk3", b"1", &payload, b"ABSTTL"];
    assert_eq!(p.o.call(&past).await, p.r.call(&past).await);
    let (om, rm) = (p.o.messages().await, p.r.messages().await);
    assert_eq!(om, rm, "RESTORE");
    assert!(om.iter().any(|m| m.contains("restore")), "{om:?}");

    // Lists.
    let events = p
        .same(&[
            &["LPUSH", "l", "a", "b"],
            &["RPUSH", "l", "c"],
            &["LPUSHX", "nol", "a"],
            &["RPUSHX", "l", "d"],
            &["LINSERT", "l", "BEFORE", "c", "x"],
            &["LINSERT", "l", "BEFORE", "zz", "x"],
            &["LSET", "l", "0", "B"],
            &["LREM", "l", "0", "zz"],
            &["LREM", "l", "1", "x"],
            &["LTRIM", "l", "0", "-1"],
            &["LPOP", "l"],
            &["RPOP", "l", "0"],
            &["RPOP", "l", "1"],
            &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
            &["RPOPLPUSH", "l", "l2"],
            &["LMOVE", "l2", "l2", "LEFT", "LEFT"],
            &["LMPOP", "2", "nol", "l2", "RIGHT", "COUNT", "5"],
            &["RPUSH", "q", "1", "2"],
            &["BLPOP", "nol", "q", "0"],
            &["BRPOPLPUSH", "q", "q2", "0"],
            &["RPUSH", "t", "1", "2", "3"],
            &["LTRIM", "t", "5", "10"],
        ])
        .await;
    assert!(events.iter().any(|m| m.contains("lpush")), "{events:?}");

    // Sets.
    let events = p
        .same(&[
            &["SADD", "s", "a", "b"],
            &["SADD", "s", "a"],
            &["SREM", "s", "zz"],
            &["SREM", "s", "b"],
            &["SMOVE", "s", "s2", "a"],
            &["SMOVE", "s2", "s2", "a"],
            &["SMOVE", "s2", "s3", "zz"],
            &["SADD", "p", "only"],
            &["SPOP", "p"],
            &["SADD", "p", "x"],
            &["SPOP", "p", "0"],
            &["SPOP", "p", "5"],
            &["SADD", "u1", "1", "2"],
            &["SADD", "u2", "2", "3"],
            &["SINTERSTORE", "dst", "u1", "u2"],
            &["SUNIONSTORE", "dst", "u1", "u2"],
            &["SDIFFSTORE", "dst", "u1", "u1"],
            &["SDIFFSTORE", "dst", "u1", "u1"],
        ])
        .await;
    assert!(
        events.iter().any(|m| m.contains("sinterstore")),
        "{events:?}"
    );

    // Hashes.
    let events = p
        .same(&[
            &["HSET", "h", "f", "1", "g", "2"],
            &["HSET", "h", "f", "1"],
            &["HSETNX", "h", "f", "x"],
            &["HSETNX", "h", "n", "x"],
            &["HMSET", "h", "m", "1"],
            &["HINCRBY", "h", "f", "2"],
            &["HINCRBYFLOAT", "h", "f", "0.5"],
            &["HDEL", "h", "zz"],
            &["HDEL", "h", "f", "g", "n", "m"],
            &["HINCRBY", "h2", "f", "1"],
        ])
        .await;
    assert!(
        events.iter().any(|m| m.contains("hincrbyfloat")),
        "{events:?}"
    );

    // Sorted sets.
    let events = p
        .same(&[
            &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
            &["ZADD", "z", "1", "a"],
            &["ZADD", "z", "5", "a"],
            &["ZADD", "z", "NX", "9", "a"],
            &["ZADD", "z", "INCR", "1", "b"],
            &["ZINCRBY", "z", "1", "c"],
            &["ZREM", "z", "zz"],
            &["ZREM", "z", "a"],
            &["ZADD", "z", "1", "d", "2", "e", "3", "f"],
            &["ZREMRANGEBYSCORE", "z", "100", "200"],
            &["ZREMRANGEBYSCORE", "z", "1", "1"],
            &["ZREMRANGEBYRANK", "z", "0", "0"],
            &["ZADD", "lex", "0", "a", "0", "b"],
            &["ZREMRANGEBYLEX", "lex", "[a", "[a"],
            &["ZREMRANGEBYLEX", "lex", "-", "+"],
            &["ZPOPMIN", "z"],
            &["ZPOPMAX", "z", "0"],
            &["ZPOPMAX", "z", "10"],
            &["ZADD", "z1", "1", "a", "2", "b"],
            &["ZADD", "z2", "1", "b"],
            &["ZUNIONSTORE", "zd", "2", "z1", "z2"],
            &["ZINTERSTORE", "zd", "2", "z1", "z2"],
            &["ZDIFFSTORE", "zd", "1", "z2"],
            &["ZDIFFSTORE", "zd", "2", "z2", "z2"],
            &["ZDIFFSTORE", "zd", "2", "z2", "z2"],
            &["ZRANGESTORE", "zr", "z1", "0", "0"],
            &["ZRANGESTORE", "zr", "z1", "5", "9"],
            &["BZPOPMIN", "nokey", "z1", "0"],
            &["ZMPOP", "1", "z1", "MAX", "COUNT", "3"],
        ])
        .await;
    assert!(
        events.iter().any(|m| m.contains("zrangestore")),
        "{events:?}"
    );

    // A key that reaches its expiry is reported when it goes (whether lazily or actively);
    // without `m`, as the polling reads below differ in number.
    p.same(&[
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
        &["SET", "soon", "v", "PX", "20"],
    ])
    .await;
    for side in [&mut p.o, &mut p.r] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while side.call(&[b"EXISTS", b"soon"]).await != b":0\r\n" {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: soon never expired",
                side.name
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let (om, rm) = (p.o.messages().await, p.r.messages().await);
    assert_eq!(om, rm, "expiry");
    assert!(om.iter().any(|m| m.contains("expired")), "{om:?}");

    if !eviction {
        p.stop().await;
        return;
    }
    // Eviction: with one key and a maxmemory nothing fits under, that key goes.
    let events = p
        .same(&[
            &["FLUSHALL"],
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
            &["SET", "victim", "v"],
            &["CONFIG", "SET", "maxmemory", "1"],
            &["CONFIG", "SET", "maxmemory", "0"],
            &["EXISTS", "victim"],
        ])
        .await;
    assert!(events.iter().any(|m| m.contains("evicted")), "{events:?}");
    p.stop().await;
}
