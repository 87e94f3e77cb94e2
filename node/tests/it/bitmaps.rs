//! Bitmaps against a real redis-server 7.0: fixed edge cases, then a few thousand random
//! SETBIT/GETBIT/BITCOUNT/BITPOS/BITOP/BITFIELD commands; every reply and every keyspace
//! notification must be identical.

use crate::common::*;
use crate::differential::{xorshift, Pair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bitmaps_match_redis() {
    let mut p = Pair::start(TestServer::start().await).await;
    let events = p
        .same(&[
            &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
            // SETBIT: arguments, growth, the old bit, no event when nothing changes.
            &["SETBIT", "b", "7", "1"],
            &["SETBIT", "b", "7", "1"],
            &["SETBIT", "b", "7", "0"],
            &["SETBIT", "b", "100", "0"],
            &["SETBIT", "b", "3", "1"],
            &["GET", "b"],
            &["STRLEN", "b"],
            &["SETBIT", "b", "-1", "1"],
            &["SETBIT", "b", "4294967296", "1"],
            &["SETBIT", "b", "x", "1"],
            &["SETBIT", "b", "1", "2"],
            &["SETBIT", "b", "1", "-1"],
            &["SETBIT", "b", "1", "x"],
            &["LPUSH", "l", "x"],
            &["SETBIT", "l", "1", "1"],
            &["GETBIT", "l", "1"],
            &["GETBIT", "b", "3"],
            &["GETBIT", "b", "4"],
            &["GETBIT", "b", "100000"],
            &["GETBIT", "nokey", "1"],
            &["GETBIT", "b", "-1"],
            // BITCOUNT.
            &["SET", "s", "foobar"],
            &["BITCOUNT", "s"],
            &["BITCOUNT", "s", "0", "0"],
            &["BITCOUNT", "s", "1", "1"],
            &["BITCOUNT", "s", "1", "1", "BYTE"],
            &["BITCOUNT", "s", "5", "30", "BIT"],
            &["BITCOUNT", "s", "-3", "-1", "bit"],
            &["BITCOUNT", "s", "-1", "-3"],
            &["BITCOUNT", "s", "2", "1"],
            &["BITCOUNT", "s", "-100", "100"],
            &["BITCOUNT", "s", "0"],
            &["BITCOUNT", "s", "0", "1", "WORD"],
            &["BITCOUNT", "s", "x", "1"],
            &["BITCOUNT", "nokey"],
            &["BITCOUNT", "nokey", "0"],
            &["BITCOUNT", "l"],
            &["SET", "empty", ""],
            &["BITCOUNT", "empty"],
            &["BITCOUNT", "empty", "0", "-1", "BIT"],
            // BITPOS.
            &["SET", "ones", "\u{7f}"],
            &["SETRANGE", "ones", "0", "\u{7f}"],
            &["BITPOS", "s", "1"],
            &["BITPOS", "s", "0"],
            &["BITPOS", "s", "1", "2"],
            &["BITPOS", "s", "0", "2", "4"],
            &["BITPOS", "s", "1", "7", "15", "BIT"],
            &["BITPOS", "s", "0", "9", "9", "BIT"],
            &["BITPOS", "s", "1", "-1"],
            &["BITPOS", "s", "1", "3", "2"],
            &["BITPOS", "s", "2"],
            &["BITPOS", "s", "x"],
            &["BITPOS", "s", "1", "0", "1", "NIBBLE"],
            &["BITPOS", "nokey", "1"],
            &["BITPOS", "nokey", "0"],
            &["BITPOS", "empty", "0"],
            &["BITPOS", "empty", "1"],
            &["BITPOS", "l", "1"],
            &["SETBIT", "full", "7", "1"],
            &["BITOP", "NOT", "full", "full"],
            &["SETBIT", "full", "7", "1"],
            &["BITPOS", "full", "0"],
            &["BITPOS", "full", "0", "0"],
            &["BITPOS", "full", "0", "0", "-1"],
            &["BITPOS", "full", "0", "0", "7", "BIT"],
            &["BITPOS", "full", "1", "0", "-1", "BIT"],
            // BITOP.
            &["SET", "x", "abc"],
            &["SET", "y", "ab"],
            &["BITOP", "AND", "d", "x", "y"],
            &["GET", "d"],
            &["BITOP", "or", "d", "x", "y", "nokey"],
            &["GET", "d"],
            &["BITOP", "XOR", "d", "x", "y"],
            &["GET", "d"],
            &["BITOP", "NOT", "d", "x"],
            &["GET", "d"],
            &["BITOP", "NOT", "d", "x", "y"],
            &["BITOP", "NAND", "d", "x"],
            &["BITOP", "AND", "d", "x", "l"],
            &["EXPIRE", "d", "100"],
            &["BITOP", "AND", "d", "x", "nokey"],
            &["TTL", "d"],
            &["GET", "d"],
            &["BITOP", "OR", "d", "nokey", "nokey2"],
            &["EXISTS", "d"],
            &["BITOP", "OR", "d", "nokey"],
            // BITFIELD and BITFIELD_RO.
            &[
                "BITFIELD", "bf", "SET", "i8", "0", "100", "GET", "i8", "0", "INCRBY", "i8", "0",
                "100",
            ],
            &[
                "BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-300", "OVERFLOW",
                "FAIL", "INCRBY", "i8", "0", "-1", "GET", "u4", "#1",
            ],
            &[
                "BITFIELD", "bf", "SET", "u8", "#2", "-1", "GET", "u8", "16", "OVERFLOW", "SAT",
                "SET", "u8", "#2", "300",
            ],
            &[
                "BITFIELD",
                "bf",
                "SET",
                "i64",
                "0",
                "9223372036854775807",
                "INCRBY",
                "i64",
                "0",
                "1",
                "GET",
                "i64",
                "0",
            ],
            &[
                "BITFIELD",
                "bf",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "i64",
                "0",
                "-1",
                "INCRBY",
                "i64",
                "0",
                "-1",
                "OVERFLOW",
                "FAIL",
                "INCRBY",
                "i64",
                "0",
                "-9223372036854775808",
            ],
            &[
                "BITFIELD",
                "bf",
                "SET",
                "u63",
                "1",
                "9223372036854775807",
                "GET",
                "u63",
                "1",
                "INCRBY",
                "u63",
                "1",
                "1",
            ],
            &["BITFIELD", "bf", "GET", "u64", "0"],
            &["BITFIELD", "bf", "GET", "i65", "0"],
            &["BITFIELD", "bf", "GET", "x8", "0"],
            &["BITFIELD", "bf", "GET", "u0", "0"],
            &["BITFIELD", "bf", "GET", "u8"],
            &["BITFIELD", "bf", "FOO", "u8", "0"],
            &["BITFIELD", "bf", "OVERFLOW", "BAD", "GET", "u8", "0"],
            &["BITFIELD", "bf", "SET", "i8", "0", "x"],
            &["BITFIELD", "bf", "GET", "u8", "-1"],
            &["BITFIELD", "bf", "GET", "u8", "#-1"],
            &["BITFIELD", "bf", "GET", "u8", "#x"],
            &["BITFIELD", "bf", "GET", "u8", "4294967296"],
            &[
                "BITFIELD",
                "bf",
                "SET",
                "u8",
                "0",
                "1",
                "GET",
                "u8",
                "4294967296",
            ],
            &["BITFIELD", "bf"],
            &["GET", "bf"],
            &["BITFIELD_RO", "bf", "GET", "u8", "0", "GET", "i16", "#3"],
            &["BITFIELD_RO", "bf", "GET", "u8", "0", "SET", "u8", "0", "1"],
            &["BITFIELD_RO", "bf", "INCRBY", "u8", "0", "1"],
            &["BITFIELD", "nokey", "GET", "u8", "0"],
            &["EXISTS", "nokey"],
            &[
                "BITFIELD", "nokey2", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "10",
            ],
            &["GET", "nokey2"],
            &[
                "BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "10",
            ],
            &["STRLEN", "bf"],
            &["BITFIELD", "l", "GET", "u8", "0"],
            &["BITFIELD_RO", "l", "GET", "u8", "0"],
            &["BITFIELD_RO", "nokey", "GET", "u8", "0"],
            // What writes in place leaves "raw", whatever its length; INCR makes an "int".
            &["SET", "e1", "abc"],
            &["OBJECT", "ENCODING", "e1"],
            &["APPEND", "e1", "d"],
            &["OBJECT", "ENCODING", "e1"],
            &["SET", "n1", "12"],
            &["APPEND", "n1", "3"],
            &["OBJECT", "ENCODING", "n1"],
            &["OBJECT", "REFCOUNT", "n1"],
            &["EXPIRE", "n1", "100"],
            &["OBJECT", "ENCODING", "n1"],
            &["PERSIST", "n1"],
            &["OBJECT", "ENCODING", "n1"],
            &["INCR", "n1"],
            &["OBJECT", "ENCODING", "n1"],
            &["APPEND", "fresh", "7"],
            &["OBJECT", "ENCODING", "fresh"],
            &["SETRANGE", "sr", "0", "x"],
            &["OBJECT", "ENCODING", "sr"],
            &["SET", "sr2", "hello"],
            &["SETRANGE", "sr2", "0", "j"],
            &["OBJECT", "ENCODING", "sr2"],
            &["SETBIT", "sb", "1", "1"],
            &["OBJECT", "ENCODING", "sb"],
            &["OBJECT", "ENCODING", "bf"],
            &["OBJECT", "ENCODING", "nokey2"],
            &["OBJECT", "ENCODING", "d"],
            &["BITOP", "OR", "d2", "x"],
            &["OBJECT", "ENCODING", "d2"],
            &["SET", "sr2", "plain"],
            &["OBJECT", "ENCODING", "sr2"],
        ])
        .await;
    assert!(events.iter().any(|e| e.contains("setbit")), "{events:?}");

    // Random commands over a few keys (a fixed seed: the same run every time).
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let keys = ["k1", "k2", "k3"];
    let units = ["", "BYTE", "BIT"];
    for _ in 0..40 {
        let mut script: Vec<Vec<String>> = Vec::new();
        for _ in 0..60 {
            let key = keys[next(3) as usize].to_string();
            let int = |n: &mut dyn FnMut(u64) -> u64, span: u64| {
                (n(2 * span + 1) as i64 - span as i64).to_string()
            };
            let cmd: Vec<String> = match next(7) {
                6 => {
                    let mut c = vec![
                        if next(5) == 0 {
                            "BITFIELD_RO"
                        } else {
                            "BITFIELD"
                        }
                        .into(),
                        key,
                    ];
                    let ro = c[0] == "BITFIELD_RO";
                    for _ in 0..1 + next(4) {
                        if !ro && next(4) == 0 {
                            c.push("OVERFLOW".into());
                            c.push(["WRAP", "SAT", "FAIL"][next(3) as usize].into());
                        }
                        let signed = next(2) == 0;
                        let bits = if next(5) == 0 {
                            1 + next(if signed { 64 } else { 63 })
                        } else {
                            1 + next(12)
                        };
                        let ty = format!("{}{bits}", if signed { "i" } else { "u" });
                        let offset = if next(3) == 0 {
                            format!("#{}", next(8))
                        } else {
                            next(100).to_string()
                        };
                        let value = match next(4) {
                            0 => (next(u64::MAX) as i64).to_string(),
                            _ => int(&mut next, 300),
                        };
                        match if ro { 0 } else { next(3) } {
                            0 => c.extend(["GET".into(), ty, offset]),
                            1 => c.extend(["SET".into(), ty, offset, value]),
                            _ => c.extend(["INCRBY".into(), ty, offset, value]),
                        }
                    }
                    c
                }
                0 | 1 => {
                    let off = if next(10) == 0 { next(3000) } else { next(120) };
                    vec!["SETBIT".into(), key, off.to_string(), next(2).to_string()]
                }
                2 => vec!["GETBIT".into(), key, next(130).to_string()],
                3 => {
                    let mut c = vec!["BITCOUNT".into(), key];
                    if next(4) > 0 {
                        c.push(int(&mut next, 20));
                        c.push(int(&mut next, 20));
                        let u = units[next(3) as usize];
                        if !u.is_empty() {
                            c.push(u.into());
                        }
                    }
                    c
                }
                4 => {
                    let mut c = vec!["BITPOS".into(), key, next(2).to_string()];
                    match next(4) {
                        0 => {}
                        1 => c.push(int(&mut next, 20)),
                        2 => {
                            c.push(int(&mut next, 20));
                            c.push(int(&mut next, 20));
                        }
                        _ => {
                            c.push(int(&mut next, 130));
                            c.push(int(&mut next, 130));
                            c.push(units[1 + next(2) as usize].into());
                        }
                    }
                    c
                }
                _ => {
                    let op = ["AND", "OR", "XOR", "NOT"][next(4) as usize];
                    let mut c = vec!["BITOP".into(), op.into(), key];
                    let n = if op == "NOT" { 1 } else { 1 + next(3) };
                    for _ in 0..n {
                        c.push(keys[next(3) as usize].into());
                    }
                    c
                }
            };
            script.push(cmd);
        }
        let script: Vec<Vec<&str>> = script
            .iter()
            .map(|c| c.iter().map(String::as_str).collect())
            .collect();
        let script: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
        p.same(&script).await;
    }
    for key in keys {
        let (a, b) = (
            p.o.call(&[b"GET", key.as_bytes()]).await,
            p.r.call(&[b"GET", key.as_bytes()]).await,
        );
        assert_eq!(a, b, "{key}");
    }
    p.stop().await;
}
