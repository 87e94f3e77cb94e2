//! Lua scripting against a real redis-server 7.0: EVAL, EVALSHA, the `_RO` forms and SCRIPT,
//! with the `redis` library, conversions both ways, Redis's error texts (with the script's
//! SHA and line), the sandbox, and the keyspace notifications a script's writes publish.
//! Then what only a running server shows: atomicity against concurrent clients, BUSY and
//! SCRIPT KILL, scripts inside MULTI and against WATCH.

use crate::common::*;
use crate::differential::Pair;
use std::time::{Duration, Instant};

const CASES: &[&[&str]] = &[
    &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
    // Lua → RESP.
    &["EVAL", "return 1", "0"],
    &["EVAL", "return 'hello'", "0"],
    &["EVAL", "return {1,2,{3,'x'},nil,5}", "0"],
    &["EVAL", "return 3.99", "0"],
    &["EVAL", "return -3.99", "0"],
    &["EVAL", "return true", "0"],
    &["EVAL", "return false", "0"],
    &["EVAL", "return nil", "0"],
    &["EVAL", "return {ok='fine'}", "0"],
    &["EVAL", "return {err='plain'}", "0"],
    &["EVAL", "return {1, 'a', {err='nested'}}", "0"],
    &["EVAL", "return redis.error_reply('bad thing')", "0"],
    &["EVAL", "return redis.error_reply('-CODE bad thing')", "0"],
    &["EVAL", "return redis.error_reply(5)", "0"],
    &["EVAL", "return redis.status_reply('FINE')", "0"],
    &[
        "EVAL",
        "local t = {} ; for i=1,3 do t[i]=i*2 end ; return t",
        "0",
    ],
    // KEYS and ARGV.
    &["EVAL", "return KEYS", "2", "a", "b", "c", "d"],
    &["EVAL", "return ARGV", "2", "a", "b", "c", "d"],
    &["EVAL", "return #KEYS + #ARGV", "0"],
    &["EVAL", "return 1", "-1"],
    &["EVAL", "return 1", "2", "a"],
    &["EVAL", "return 1", "x"],
    // redis.call / redis.pcall and RESP → Lua.
    &[
        "EVAL",
        "return redis.call('set', KEYS[1], ARGV[1])",
        "1",
        "k1",
        "v1",
    ],
    &["EVAL", "return redis.call('get', KEYS[1])", "1", "k1"],
    &["EVAL", "return redis.call('get', 'nokey')", "0"],
    &["EVAL", "return redis.call('get', 'nokey') == false", "0"],
    &["EVAL", "return redis.call('incr', KEYS[1])", "1", "k1"],
    &["EVAL", "return redis.pcall('incr', KEYS[1])", "1", "k1"],
    &[
        "EVAL",
        "local e = redis.pcall('incr', 'k1') return e['err']",
        "0",
    ],
    &[
        "EVAL",
        "local ok, e = pcall(redis.call, 'incr', 'k1') return e",
        "0",
    ],
    &[
        "EVAL",
        "redis.call('hset','h','a','1'); return redis.call('hgetall','h')",
        "0",
    ],
    &["EVAL", "return redis.call('hgetall', 'nokey')", "0"],
    &["EVAL", "return redis.call('type','h')", "0"],
    &["EVAL", "return redis.call('ping')", "0"],
    &["EVAL", "return type(redis.call('ping'))", "0"],
    &["EVAL", "return redis.call('ping')['ok']", "0"],
    &[
        "EVAL",
        "return {redis.call('lpush','l','a','b'), redis.call('lrange','l',0,-1)}",
        "0",
    ],
    &["EVAL", "return redis.call('set', 'a', 3.5)", "0"],
    &["EVAL", "return redis.call('get', 'a')", "0"],
    &["EVAL", "return redis.call('set', 'a', 12345678901234)", "0"],
    &["EVAL", "return redis.call('get', 'a')", "0"],
    &["EVAL", "return redis.call('set','x',1,'ex',-1)", "0"],
    &["EVAL", "return redis.call('zadd','z',1.5,'m')", "0"],
    &[
        "EVAL",
        "return redis.call('zrange','z',0,-1,'withscores')",
        "0",
    ],
    &["EVAL", "return redis.call('expire','z',100)", "0"],
    &["EVAL", "return redis.call('del','z','l','h')", "0"],
    // RESP3 inside the script.
    &[
        "EVAL",
        "redis.setresp(3); return redis.call('hgetall','h')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3); redis.call('hset','h3','f','v'); return redis.call('hgetall','h3')",
        "0",
    ],
    &[
        "EVAL",
        "redis.setresp(3); return redis.call('get','nokey')",
        "0",
    ],
    &["EVAL", "redis.setresp(3); return true", "0"],
    &["EVAL", "redis.setresp(3); return false", "0"],
    &[
        "EVAL",
        "redis.setresp(3); return redis.call('zscore','zz','m') == nil",
        "0",
    ],
    &["EVAL", "redis.setresp(4)", "0"],
    // Script errors: the text, the script's SHA, the line.
    &["EVAL", "return redis.call('nosuch')", "0"],
    &["EVAL", "return redis.call()", "0"],
    &["EVAL", "return redis.call('get')", "0"],
    &["EVAL", "return redis.call('eval', 'return 1', 0)", "0"],
    &["EVAL", "return redis.call('blpop','nolist',0)", "0"],
    &["EVAL", "return redis.call('set', 'a', {})", "0"],
    &[
        "EVAL",
        "local x = 1\nlocal y = 2\nreturn redis.call('incr', 'k1')",
        "0",
    ],
    &["EVAL", "return redis.sha1hex()", "0"],
    &["EVAL", "return redis.log(1)", "0"],
    &["EVAL", "return redis.log('x', 'y')", "0"],
    &["EVAL", "return redis.log(9, 'y')", "0"],
    &[
        "EVAL",
        "return redis.log(redis.LOG_WARNING, 'from a test')",
        "0",
    ],
    &["EVAL", "return redis.set_repl(redis.REPL_ALL)", "0"],
    &["EVAL", "return redis.set_repl(9)", "0"],
    &["EVAL", "return redis.replicate_commands()", "0"],
    &["EVAL", "error('boom')", "0"],
    &["EVAL", "error({err='MY custom'})", "0"],
    &["EVAL", "return nil + 1", "0"],
    &["EVAL", "return +", "0"],
    &[
        "EVAL",
        "local function f() return nil .. 'x' end\nreturn f()",
        "0",
    ],
    // The sandbox.
    &["EVAL", "return x", "0"],
    &["EVAL", "x = 5; return x", "0"],
    &["EVAL", "local function f() y = 1 end f() return 1", "0"],
    &["EVAL", "return tostring(debug)", "0"],
    &["EVAL", "return tostring(loadfile)", "0"],
    &["EVAL", "return string.format('%d %s', 5, 'x')", "0"],
    &["EVAL", "return redis.sha1hex('')", "0"],
    &["EVAL", "return redis.sha1hex(12)", "0"],
    &[
        "EVAL",
        "return {math.random(), math.random(10), math.random(5, 9)}",
        "0",
    ],
    &["EVAL", "return tostring(math.random())", "0"],
    // cjson and bit.
    &["EVAL", "return cjson.encode({1, 2, 'a/b', {x = 1.5}, true, cjson.null})", "0"],
    &["EVAL", "return cjson.encode({})", "0"],
    &["EVAL", "return cjson.encode('q\"\\\\\\n\\t\\1\\127')", "0"],
    &["EVAL", "return cjson.encode({[1] = 'a', [3] = 'c'})", "0"],
    &["EVAL", "return cjson.encode(0.1 + 0.2)", "0"],
    &["EVAL", "return cjson.encode(1e20)", "0"],
    &["EVAL", "local t = cjson.decode('{\"a\":[1,2.5,\"x\",null,true]}') return {t.a[1], t.a[2], t.a[3], tostring(t.a[4] == cjson.null), tostring(t.a[5])}", "0"],
    &["EVAL", "return cjson.decode('[1,2,3]')", "0"],
    &["EVAL", "return cjson.decode(cjson.encode({k = 'v'})).k", "0"],
    &["EVAL", "return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(5, 3), bit.bnot(0), bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-16, 2), bit.tobit(2^32 + 5)}", "0"],
    &["EVAL", "return {bit.tohex(255), bit.tohex(-1, -4), bit.rol(1, 33), bit.ror(1, 1), bit.bswap(0x12345678)}", "0"],
    // EVALSHA and SCRIPT.
    &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    &["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
    &["EVALSHA", "0000000000000000000000000000000000000000", "0"],
    &["EVALSHA", "abc", "0"],
    &["SCRIPT", "LOAD", "return 'loaded'"],
    &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    &[
        "SCRIPT",
        "EXISTS",
        "b534286061d4b9e4026607613b95c06c06015ae8",
        "0000000000000000000000000000000000000000",
    ],
    &["SCRIPT", "LOAD", "return +"],
    &["SCRIPT", "FLUSH"],
    &[
        "SCRIPT",
        "EXISTS",
        "b534286061d4b9e4026607613b95c06c06015ae8",
    ],
    &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    &["SCRIPT", "FLUSH", "ASYNC"],
    &["SCRIPT", "FLUSH", "bad"],
    &["SCRIPT", "KILL"],
    &["SCRIPT", "FOO"],
    // Read-only scripts and shebang flags.
    &["EVAL_RO", "return redis.call('set','a','b')", "0"],
    &["EVAL_RO", "return redis.call('get','k1')", "0"],
    &[
        "EVALSHA_RO",
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
        "0",
    ],
    &[
        "EVAL",
        "#!lua flags=no-writes\nreturn redis.call('set','a','b')",
        "0",
    ],
    &[
        "EVAL",
        "#!lua flags=no-writes\nreturn redis.call('get','k1')",
        "0",
    ],
    &["EVAL_RO", "#!lua\nreturn 1", "0"],
    &["EVAL", "#!lua flags=bogus\nreturn 1", "0"],
    &["EVAL", "#!python\nreturn 1", "0"],
    &["EVAL", "#!lua\nreturn redis.call('incr', 'counter')", "0"],
    // Wrong arity of the commands themselves.
    &["EVAL", "return 1"],
    &["EVALSHA"],
    &["SCRIPT", "LOAD"],
    &["SCRIPT", "EXISTS"],
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripting_matches_redis() {
    let mut p = Pair::start(TestServer::start().await).await;
    let events = p.same(CASES).await;
    // The scripts' writes were published as any client's are.
    assert!(
        events
            .iter()
            .any(|e| e.contains("__keyevent@0__:set") && e.contains("k1")),
        "{events:?}"
    );
    p.stop().await;
}

/// Tiered: the same replies whichever tier holds the keys a script touches.
#[cfg(feature = "tiered")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripting_matches_redis_tiered() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::tiered(dir.path()).await;
    let mut p = Pair::start(server).await;
    p.same(CASES).await;
    p.stop().await;
}

/// A script's read-modify-write is atomic: concurrent clients never lose an increment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_are_atomic() {
    let s = TestServer::start().await;
    let script = "local v = tonumber(redis.call('get', KEYS[1]) or '0')\n\
                  redis.call('set', KEYS[1], v + 1)\n\
                  return v + 1";
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut c = s.raw().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..250 {
                c.cmd(&["EVAL", script, "1", "counter"]).await;
                let r = read_reply(&mut c).await;
                assert!(r.starts_with(b":"), "{}", String::from_utf8_lossy(&r));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = s.raw().await;
    c.call(&["GET", "counter"], b"$4\r\n1000\r\n").await;
    // One script in the cache, as INFO reports it.
    c.cmd(&["INFO", "memory"]).await;
    let info = String::from_utf8(read_reply(&mut c).await).unwrap();
    assert!(
        info.contains("\r\nnumber_of_cached_scripts:1\r\n"),
        "{info}"
    );
    assert!(info.contains("\r\nused_memory_lua:"), "{info}");
    s.stop().await;
}

/// Past busy-reply-threshold other clients get BUSY; SCRIPT KILL stops a script that has
/// not written (its caller gets Redis's error), and refuses one that has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_scripts_and_script_kill() {
    let s = TestServer::start().await;
    let mut admin = s.raw().await;
    admin
        .call(
            &["SCRIPT", "KILL"],
            b"-NOTBUSY No scripts in execution right now.\r\n",
        )
        .await;
    admin
        .call(
            &["CONFIG", "SET", "busy-reply-threshold", "100000"],
            b"+OK\r\n",
        )
        .await;
    admin
        .call(
            &["CONFIG", "GET", "lua-time-limit"],
            b"*2\r\n$14\r\nlua-time-limit\r\n$6\r\n100000\r\n",
        )
        .await;

    // A runaway read-only script, killed by SCRIPT KILL.
    let mut runner = s.raw().await;
    runner
        .cmd(&["EVAL", "local i = 0\nwhile true do i = i + 1 end", "0"])
        .await;
    let mut other = s.raw().await;
    let started = Instant::now();
    let mut killed = false;
    while !killed {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "SCRIPT KILL never took"
        );
        admin.cmd(&["SCRIPT", "KILL"]).await;
        match read_reply(&mut admin).await.as_slice() {
            b"+OK\r\n" => killed = true,
            b"-NOTBUSY No scripts in execution right now.\r\n" => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            r => panic!("{}", String::from_utf8_lossy(r)),
        }
    }
    let r = String::from_utf8(read_reply(&mut runner).await).unwrap();
    assert!(
        r.starts_with("-ERR Script killed by user with SCRIPT KILL... script: ")
            && r.ends_with(", on @user_script:2.\r\n"),
        "{r}"
    );
    other.call(&["PING"], b"+PONG\r\n").await;

    // Past the threshold: BUSY for others; a script that has not written is stopped by
    // the node itself (nobody else can reach the data it holds).
    admin
        .call(
            &["CONFIG", "SET", "busy-reply-threshold", "200"],
            b"+OK\r\n",
        )
        .await;
    runner.cmd(&["EVAL", "while true do end", "0"]).await;
    let r = String::from_utf8(read_reply(&mut runner).await).unwrap();
    assert!(
        r.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{r}"
    );

    // A script that wrote cannot be killed; it finishes by itself here.
    let body = "redis.call('set', 'w', '1')\n\
                local t = redis.call('time')\n\
                local stop = tonumber(t[1]) * 1000000 + tonumber(t[2]) + 600000\n\
                repeat t = redis.call('time') until tonumber(t[1]) * 1000000 + tonumber(t[2]) >= stop\n\
                return 'done'";
    runner.cmd(&["EVAL", body, "0"]).await;
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never saw the script running"
        );
        admin.cmd(&["SCRIPT", "KILL"]).await;
        let r = read_reply(&mut admin).await;
        if r.starts_with(b"-UNKILLABLE Sorry the script already executed write commands") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    runner.expect(b"$4\r\ndone\r\n").await;
    other.call(&["GET", "w"], b"$1\r\n1\r\n").await;
    s.stop().await;
}

/// EVAL inside MULTI runs at EXEC, and a script's write aborts another client's WATCH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_in_transactions() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["MULTI"], b"+OK\r\n").await;
    c.call(
        &[
            "EVAL",
            "return redis.call('incrby', KEYS[1], ARGV[1])",
            "1",
            "n",
            "5",
        ],
        b"+QUEUED\r\n",
    )
    .await;
    c.call(&["INCR", "n"], b"+QUEUED\r\n").await;
    c.call(&["EXEC"], b"*2\r\n:5\r\n:6\r\n").await;

    let mut watcher = s.raw().await;
    watcher.call(&["WATCH", "n"], b"+OK\r\n").await;
    c.call(&["EVAL", "return redis.call('incr', 'n')", "0"], b":7\r\n")
        .await;
    watcher.call(&["MULTI"], b"+OK\r\n").await;
    watcher.call(&["SET", "n", "0"], b"+QUEUED\r\n").await;
    watcher.call(&["EXEC"], b"*-1\r\n").await;
    c.call(&["GET", "n"], b"$1\r\n7\r\n").await;
    s.stop().await;
}
