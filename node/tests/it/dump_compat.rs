//! DUMP/RESTORE interoperability with a real redis-server 7.0 (what migration tools such as
//! redis-shake and RIOT rely on): every value we DUMP restores into Redis and reads back
//! identical, every encoding Redis DUMPs (and the Redis 6 ones it still loads) restores into
//! us identical, TTLs apply, and broken payloads fail with the same errors on both.

use crate::common::*;
use autocache_node::dump::crc64::crc64;
use redis::aio::MultiplexedConnection;

/// Both servers, each with a typed and a raw connection.
struct Pair {
    ours: TestServer,
    redis: RedisServer,
    o: MultiplexedConnection,
    r: MultiplexedConnection,
}

impl Pair {
    async fn start() -> Pair {
        let ours = TestServer::start().await;
        let redis = RedisServer::start().await;
        let o = ours.client().await;
        let r = connect(&redis.url()).await;
        Pair { ours, redis, o, r }
    }
}

/// Runs a command of binary arguments.
async fn run<T: redis::FromRedisValue>(c: &mut MultiplexedConnection, args: &[&[u8]]) -> T {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(c)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&args.concat())))
}

async fn dump(c: &mut MultiplexedConnection, key: &str) -> Vec<u8> {
    run::<Option<Vec<u8>>>(c, &[b"DUMP", key.as_bytes()])
        .await
        .unwrap_or_else(|| panic!("no key {key}"))
}

async fn restore(c: &mut MultiplexedConnection, key: &str, ttl_ms: u64, payload: &[u8]) {
    let ttl = ttl_ms.to_string();
    run::<()>(c, &[b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload]).await;
}

/// A key's value as read back, comparable across servers: lists in order, sets and hashes
/// sorted, sorted sets in order with their exact scores.
#[derive(Debug, PartialEq)]
enum Content {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    ZSet(Vec<(Vec<u8>, f64)>),
}

fn pairs(flat: Vec<Vec<u8>>) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
    let mut it = flat.into_iter();
    std::iter::from_fn(move || Some((it.next()?, it.next().expect("even reply"))))
}

async fn read(c: &mut MultiplexedConnection, key: &str) -> Content {
    let k = key.as_bytes();
    let ty: String = run(c, &[b"TYPE", k]).await;
    match ty.as_str() {
        "string" => Content::Str(run(c, &[b"GET", k]).await),
        "list" => Content::List(run(c, &[b"LRANGE", k, b"0", b"-1"]).await),
        "set" => {
            let mut m: Vec<Vec<u8>> = run(c, &[b"SMEMBERS", k]).await;
            m.sort();
            Content::Set(m)
        }
        "hash" => {
            let mut m: Vec<_> = pairs(run(c, &[b"HGETALL", k]).await).collect();
            m.sort();
            Content::Hash(m)
        }
        "zset" => {
            let flat = run(c, &[b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"]).await;
            Content::ZSet(
                pairs(flat)
                    .map(|(m, s)| (m, std::str::from_utf8(&s).unwrap().parse().unwrap()))
                    .collect(),
            )
        }
        other => panic!("{key}: unexpected type {other:?}"),
    }
}

/// One value to exchange: the command that builds it (run on both servers), and how the
/// payloads must start: Redis's (type byte, and for strings the encoding byte, proving the
/// encoding under test is the one Redis chose) and ours.
struct Case {
    key: &'static str,
    build: Vec<Vec<u8>>,
    redis_prefix: &'static [u8],
    ours_type: u8,
}

fn case(
    key: &'static str,
    build: Vec<Vec<u8>>,
    redis_prefix: &'static [u8],
    ours_type: u8,
) -> Case {
    Case {
        key,
        build,
        redis_prefix,
        ours_type,
    }
}

fn args(cmd: &str, key: &str, rest: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut v = vec![cmd.as_bytes().to_vec(), key.as_bytes().to_vec()];
    v.extend(rest);
    v
}

fn b(s: impl AsRef<[u8]>) -> Vec<u8> {
    s.as_ref().to_vec()
}

/// A long element: more than 64 bytes, so collections holding it take the large encoding.
fn long(i: usize) -> Vec<u8> {
    format!("{i:06}-{}", "payload-".repeat(10)).into_bytes()
}

fn cases() -> Vec<Case> {
    // 100 kB of poorly compressible bytes: a raw string with a 32-bit length.
    let mut rng = fastrand::Rng::with_seed(5);
    let noise: Vec<u8> = (0..100_000).map(|_| rng.u8(..)).collect();
    let str_case = |key, v: Vec<u8>, prefix| case(key, args("SET", key, [v]), prefix, 0);
    vec![
        str_case("s:raw", b("hello world"), b"\x00\x0b"),
        str_case("s:empty", b(""), b"\x00\x00"),
        str_case("s:int8", b("-5"), b"\x00\xc0"),
        str_case("s:int16", b("12345"), b"\x00\xc1"),
        str_case("s:int32", b("123456789"), b"\x00\xc2"),
        str_case("s:int64", b("12345678901"), b"\x00\x0b"),
        str_case("s:not-canonical", b("007"), b"\x00\x03"),
        str_case("s:lzf", vec![b'a'; 1000], b"\x00\xc3"),
        str_case("s:binary", b(b"\x00\r\n\xff bin"), b"\x00\x08"),
        str_case("s:noise", noise, b"\x00\x80"),
        case(
            "l:small",
            args(
                "RPUSH",
                "l:small",
                // Every listpack integer encoding, at its bounds.
                [
                    "a",
                    "",
                    "0",
                    "127",
                    "128",
                    "-1",
                    "-5",
                    "300",
                    "3000",
                    "-3000",
                    "4095",
                    "-4096",
                    "4096",
                    "-4097",
                    "32767",
                    "-32768",
                    "32768",
                    "70000",
                    "-70000",
                    "8388607",
                    "-8388608",
                    "8388608",
                    "2147483647",
                    "-2147483648",
                    "2147483648",
                    "9223372036854775807",
                    "-9223372036854775808",
                    "007",
                    "-0",
                ]
                .map(b),
            ),
            b"\x12\x01\x02",
            18,
        ),
        case(
            "l:large",
            args(
                "RPUSH",
                "l:large",
                (0..1000).map(|i| {
                    if i % 3 == 0 {
                        b(i.to_string())
                    } else {
                        long(i)
                    }
                }),
            ),
            b"\x12",
            18,
        ),
        case(
            "st:intset",
            args(
                "SADD",
                "st:intset",
                ["1", "2", "3", "-70000", "100000"].map(b),
            ),
            b"\x0b",
            2,
        ),
        case(
            "st:strings",
            args("SADD", "st:strings", ["a", "b", "c"].map(b)),
            b"\x02",
            2,
        ),
        case(
            "st:large",
            args("SADD", "st:large", (0..300).map(long)),
            b"\x02",
            2,
        ),
        case(
            "st:many-ints",
            args(
                "SADD",
                "st:many-ints",
                (0..1000).map(|i| b((i * 7).to_string())),
            ),
            b"\x02",
            2,
        ),
        case(
            "h:small",
            args("HSET", "h:small", ["f1", "v1", "f2", "17", "f3", ""].map(b)),
            b"\x10",
            4,
        ),
        case(
            "h:large",
            args(
                "HSET",
                "h:large",
                (0..200).flat_map(|i| [b(format!("field{i}")), long(i)]),
            ),
            b"\x04",
            4,
        ),
        case(
            "z:small",
            args(
                "ZADD",
                "z:small",
                [
                    "1.5", "a", "-2", "b", "inf", "c", "3", "d", "-inf", "e", "0.1", "f",
                ]
                .map(b),
            ),
            b"\x11",
            5,
        ),
        case(
            "z:large",
            args(
                "ZADD",
                "z:large",
                (0..300).flat_map(|i| [b(format!("{}", i as f64 / 7.0 - 10.0)), long(i)]),
            ),
            b"\x05",
            5,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_moves_both_ways() {
    let mut p = Pair::start().await;
    for c in cases() {
        let build: Vec<&[u8]> = c.build.iter().map(|a| &a[..]).collect();
        let _: redis::Value = run(&mut p.r, &build).await;
        let _: redis::Value = run(&mut p.o, &build).await;
        let want = read(&mut p.r, c.key).await;
        assert_eq!(
            read(&mut p.o, c.key).await,
            want,
            "{}: same commands",
            c.key
        );

        let from_redis = dump(&mut p.r, c.key).await;
        assert!(
            from_redis.starts_with(c.redis_prefix),
            "{}: Redis payload starts {:02x?}",
            c.key,
            &from_redis[..from_redis.len().min(4)]
        );
        let k = format!("{}:from-redis", c.key);
        restore(&mut p.o, &k, 0, &from_redis).await;
        assert_eq!(read(&mut p.o, &k).await, want, "{k}");

        let from_ours = dump(&mut p.o, c.key).await;
        assert_eq!(from_ours[0], c.ours_type, "{}: our payload's type", c.key);
        let k = format!("{}:from-ours", c.key);
        restore(&mut p.r, &k, 0, &from_ours).await;
        assert_eq!(read(&mut p.r, &k).await, want, "{k}");

        // And our payload of the value restored from Redis goes back to Redis too.
        let again = dump(&mut p.o, &format!("{}:from-redis", c.key)).await;
        let k = format!("{}:round-trip", c.key);
        restore(&mut p.r, &k, 0, &again).await;
        assert_eq!(read(&mut p.r, &k).await, want, "{k}");
    }
    p.ours.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_and_compressed_quicklist_nodes_restore() {
    let mut p = Pair::start().await;
    // Elements of 100 bytes or more become plain nodes (LZF-compressed when they compress),
    // and listpack nodes of repetitive elements are stored LZF-compressed.
    let _: () = run(&mut p.r, &[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"100"]).await;
    let mut items: Vec<Vec<u8>> = vec![b("head")];
    items.push(vec![b'x'; 150]);
    items.extend((0..50).map(|_| b("repeat-repeat-repeat")));
    items.push(noise_of(300));
    items.push(b("42"));
    let mut cmd: Vec<&[u8]> = vec![b"RPUSH", b"plain"];
    cmd.extend(items.iter().map(|v| &v[..]));
    let _: i64 = run(&mut p.r, &cmd).await;
    let from_redis = dump(&mut p.r, "plain").await;
    // Five nodes: packed, plain, packed (compressed), plain, packed.
    assert_eq!(&from_redis[..3], b"\x12\x05\x02");
    restore(&mut p.o, "plain", 0, &from_redis).await;
    assert_eq!(read(&mut p.o, "plain").await, Content::List(items.clone()));
    let _: () = run(&mut p.r, &[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"0"]).await;
    p.ours.stop().await;
}

fn noise_of(n: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(9);
    (0..n).map(|_| rng.u8(..)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_applies_both_ways() {
    let mut p = Pair::start().await;
    let _: () = run(&mut p.r, &[b"SET", b"k", b"v"]).await;
    let _: i64 = run(&mut p.o, &[b"RPUSH", b"l", b"a", b"b"]).await;
    let from_redis = dump(&mut p.r, "k").await;
    let from_ours = dump(&mut p.o, "l").await;
    restore(&mut p.o, "k", 100_000, &from_redis).await;
    restore(&mut p.r, "l", 100_000, &from_ours).await;
    for (c, key) in [(&mut p.o, "k"), (&mut p.r, "l")] {
        let pttl: i64 = run(c, &[b"PTTL", key.as_bytes()]).await;
        assert!(pttl > 90_000 && pttl <= 100_000, "{key}: PTTL {pttl}");
    }
    assert_eq!(read(&mut p.o, "k").await, Content::Str(b("v")));
    assert_eq!(
        read(&mut p.r, "l").await,
        Content::List(vec![b("a"), b("b")])
    );
    // Without a TTL the restored key is persistent.
    restore(&mut p.o, "k2", 0, &from_redis).await;
    let pttl: i64 = run(&mut p.o, &[b"PTTL", b"k2"]).await;
    assert_eq!(pttl, -1);
    p.ours.stop().await;
}

/// `body` with a Redis DUMP footer: RDB `version` and CRC-64.
fn framed(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

fn rdb_len(out: &mut Vec<u8>, n: usize) {
    match n {
        0..=63 => out.push(n as u8),
        64..=16383 => out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]),
        _ => {
            out.push(0x80);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

fn rdb_string(out: &mut Vec<u8>, s: &[u8]) {
    rdb_len(out, s.len());
    out.extend_from_slice(s);
}

/// A ziplist as Redis ≤ 6 writes one, every integer in its smallest encoding.
fn ziplist(items: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    let mut last = 10;
    for it in items {
        let start = body.len();
        last = 10 + start;
        if prev < 254 {
            body.push(prev as u8);
        } else {
            body.push(0xfe);
            body.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        let int = std::str::from_utf8(it)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|n| n.to_string().as_bytes() == &it[..]);
        match int {
            Some(n @ 0..=12) => body.push(0xf1 + n as u8),
            Some(n) if i8::try_from(n).is_ok() => body.extend_from_slice(&[0xfe, n as u8]),
            Some(n) if i16::try_from(n).is_ok() => {
                body.push(0xc0);
                body.extend_from_slice(&(n as i16).to_le_bytes());
            }
            Some(n) if (-(1 << 23)..(1 << 23)).contains(&n) => {
                body.push(0xf0);
                body.extend_from_slice(&n.to_le_bytes()[..3]);
            }
            Some(n) if i32::try_from(n).is_ok() => {
                body.push(0xd0);
                body.extend_from_slice(&(n as i32).to_le_bytes());
            }
            Some(n) => {
                body.push(0xe0);
                body.extend_from_slice(&n.to_le_bytes());
            }
            None if it.len() < 64 => {
                body.push(it.len() as u8);
                body.extend_from_slice(it);
            }
            None if it.len() < 16384 => {
                body.extend_from_slice(&[0x40 | (it.len() >> 8) as u8, it.len() as u8]);
                body.extend_from_slice(it);
            }
            None => {
                body.push(0x80);
                body.extend_from_slice(&(it.len() as u32).to_be_bytes());
                body.extend_from_slice(it);
            }
        }
        prev = body.len() - start;
    }
    let total = 10 + body.len() + 1;
    let mut zl = Vec::with_capacity(total);
    zl.extend_from_slice(&(total as u32).to_le_bytes());
    zl.extend_from_slice(&(last as u32).to_le_bytes());
    zl.extend_from_slice(&(items.len() as u16).to_le_bytes());
    zl.extend_from_slice(&body);
    zl.push(0xff);
    zl
}

/// An RDB 9 payload of type `ty` whose value is one string (a ziplist).
fn single_string_payload(ty: u8, s: &[u8]) -> Vec<u8> {
    let mut body = vec![ty];
    rdb_string(&mut body, s);
    framed(&body, 9)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_6_encodings_restore_alike() {
    let mut p = Pair::start().await;
    let strs = |v: &[&str]| v.iter().map(b).collect::<Vec<_>>();
    let big = vec![b'z'; 300];
    let list_items: Vec<Vec<u8>> = [
        strs(&[
            "a", "", "0", "12", "13", "-1", "127", "-128", "200", "-32768", "40000",
        ]),
        strs(&[
            "-8388608",
            "9000000",
            "2147483647",
            "-2147483649",
            "9223372036854775807",
        ]),
        vec![big.clone(), b("after a big one")],
    ]
    .concat();

    // RDB_TYPE_LIST_QUICKLIST: ziplist nodes (here two).
    let mut body = vec![14u8];
    rdb_len(&mut body, 2);
    rdb_string(&mut body, &ziplist(&list_items[..10]));
    rdb_string(&mut body, &ziplist(&list_items[10..]));
    let quicklist = framed(&body, 9);
    // RDB_TYPE_LIST_ZIPLIST (Redis 2.6 - 3.0).
    let list_zl = single_string_payload(10, &ziplist(&list_items));
    // RDB_TYPE_LIST: plain strings, one integer-encoded.
    let mut body = vec![1u8, 3, 1, b'a', 0xc1];
    body.extend_from_slice(&1234i16.to_le_bytes());
    body.extend_from_slice(&[0]);
    let plain_list = framed(&body, 9);
    // RDB_TYPE_ZSET_ZIPLIST: member, score pairs in order; integer and text scores.
    let zset_zl = single_string_payload(
        12,
        &ziplist(&strs(&["b", "-2", "a", "1.5", "d", "3", "c", "inf"])),
    );
    // RDB_TYPE_ZSET: text scores, with the special lengths for ±inf.
    let mut body = vec![3u8, 3];
    rdb_string(&mut body, b"low");
    body.push(255);
    rdb_string(&mut body, b"mid");
    rdb_string(&mut body, b"0.25");
    rdb_string(&mut body, b"high");
    body.push(254);
    let zset_text = framed(&body, 9);
    // RDB_TYPE_HASH_ZIPLIST.
    let hash_zl = single_string_payload(13, &ziplist(&strs(&["f1", "v1", "f2", "17", "f3", ""])));
    // RDB_TYPE_SET_INTSET with 64-bit members.
    let mut is = vec![8, 0, 0, 0, 2, 0, 0, 0];
    is.extend_from_slice(&(-5_000_000_000i64).to_le_bytes());
    is.extend_from_slice(&7i64.to_le_bytes());
    let intset = single_string_payload(11, &is);

    let expect = [
        ("quicklist", quicklist, Content::List(list_items.clone())),
        ("list-ziplist", list_zl, Content::List(list_items.clone())),
        ("list", plain_list, Content::List(strs(&["a", "1234", ""]))),
        (
            "zset-ziplist",
            zset_zl,
            Content::ZSet(vec![
                (b("b"), -2.0),
                (b("a"), 1.5),
                (b("d"), 3.0),
                (b("c"), f64::INFINITY),
            ]),
        ),
        (
            "zset",
            zset_text,
            Content::ZSet(vec![
                (b("low"), f64::NEG_INFINITY),
                (b("mid"), 0.25),
                (b("high"), f64::INFINITY),
            ]),
        ),
        (
            "hash-ziplist",
            hash_zl,
            Content::Hash(vec![
                (b("f1"), b("v1")),
                (b("f2"), b("17")),
                (b("f3"), b("")),
            ]),
        ),
        ("intset", intset, Content::Set(strs(&["-5000000000", "7"]))),
    ];
    for (key, payload, want) in expect {
        // Redis loading it proves the hand-built payload is what Redis 6 writes.
        restore(&mut p.r, key, 0, &payload).await;
        assert_eq!(read(&mut p.r, key).await, want, "redis-server: {key}");
        restore(&mut p.o, key, 0, &payload).await;
        assert_eq!(read(&mut p.o, key).await, want, "ours: {key}");
    }
    p.ours.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_payloads_fail_alike() {
    let mut p = Pair::start().await;
    let _: redis::Value = run(&mut p.r, &[b"XADD", b"stream", b"*", b"a", b"1"]).await;
    let stream = dump(&mut p.r, "stream").await;
    let good = framed(b"\x00\x01a", 10);
    let mut flipped = good.clone();
    flipped[2] ^= 1;
    let version = "-ERR DUMP payload version or checksum are wrong\r\n";
    let bad_data = "-ERR Bad data format\r\n";
    let both = [
        (framed(b"\x00\x01a", 11), version),
        (flipped, version),
        (good[..good.len() - 1].to_vec(), version),
        (b"short".to_vec(), version),
        // A string longer than the payload (Redis reads a short overrun into the footer, so
        // the claimed length goes past that too).
        (framed(b"\x00\x20ab", 10), bad_data),
        (framed(b"\x02\x02\x01a\x01a", 10), bad_data),
        (framed(b"\x01\x00", 10), bad_data),
        (framed(b"\x03\x01\x01a\xfd", 10), bad_data),
    ];
    let mut ro = Raw::connect(p.ours.addr).await;
    let mut rr = Raw::connect(p.redis.addr).await;
    for (payload, reply) in &both {
        for c in [&mut ro, &mut rr] {
            c.send(&encode_bin(&[b"RESTORE", b"x", b"0", payload]))
                .await;
            c.expect(reply.as_bytes()).await;
        }
    }
    // Streams are a type we do not hold.
    ro.send(&encode_bin(&[b"RESTORE", b"x", b"0", &stream]))
        .await;
    ro.expect(bad_data.as_bytes()).await;
    ro.call(&["EXISTS", "x"], b":0\r\n").await;
    p.ours.stop().await;
}
