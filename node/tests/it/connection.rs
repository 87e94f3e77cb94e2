//! Connection commands against the real server: PING, ECHO, SELECT, QUIT, RESET, AUTH, HELLO
//! and CLIENT, with Redis 7.0's exact replies; AUTH with requirepass; maxclients; the idle
//! timeout.

use crate::common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn client_id(c: &mut Raw) -> u64 {
    c.cmd(&["CLIENT", "ID"]).await;
    let line = read_line(c).await;
    line.strip_prefix(':').unwrap().parse().unwrap()
}

/// `key=value` fields of one CLIENT LIST line, in order.
fn fields(line: &str) -> Vec<(&str, &str)> {
    line.split(' ')
        .map(|kv| kv.split_once('=').expect("key=value"))
        .collect()
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    fields(line)
        .into_iter()
        .find(|(k, _)| *k == key)
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        .1
}

fn hello_reply(proto: u8, id: u64) -> Vec<u8> {
    let head = if proto == 3 { "%7" } else { "*14" };
    format!(
        "{head}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_echo_select_quit() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["PING"], b"+PONG\r\n").await;
    c.call(&["ping", "hello world"], b"$11\r\nhello world\r\n")
        .await;
    c.call(
        &["PING", "a", "b"],
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    )
    .await;
    c.call(&["ECHO", ""], b"$0\r\n\r\n").await;
    c.call(&["ECHO", "x y"], b"$3\r\nx y\r\n").await;
    c.call(
        &["ECHO"],
        b"-ERR wrong number of arguments for 'echo' command\r\n",
    )
    .await;
    c.call(&["SELECT", "0"], b"+OK\r\n").await;
    c.call(&["SELECT", "1"], b"-ERR DB index is out of range\r\n")
        .await;
    c.call(&["SELECT", "-1"], b"-ERR DB index is out of range\r\n")
        .await;
    c.call(
        &["SELECT", "x"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    c.call(
        &["SELECT", "99999999999"],
        b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    )
    .await;
    c.call(&["QUIT"], b"+OK\r\n").await;
    c.expect_closed().await;
    // Commands pipelined after QUIT are not executed.
    let mut c = s.raw().await;
    let mut batch = encode(&["QUIT"]);
    batch.extend(encode(&["SET", "after-quit", "1"]));
    c.send(&batch).await;
    c.expect(b"+OK\r\n").await;
    c.expect_closed().await;
    let mut d = s.raw().await;
    d.call(&["EXISTS", "after-quit"], b":0\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_without_a_password() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(
        &["AUTH", "pw"],
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    )
    .await;
    // The default user is `nopass`: any password works for it.
    c.call(&["AUTH", "default", "anything"], b"+OK\r\n").await;
    c.call(
        &["AUTH", "bob", "pw"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    c.call(&["AUTH", "a", "b", "c"], b"-ERR syntax error\r\n")
        .await;
    c.call(
        &["AUTH"],
        b"-ERR wrong number of arguments for 'auth' command\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_flow_with_requirepass() {
    let s = TestServer::with(|c| c.requirepass = "s3cret".into()).await;
    let mut c = s.raw().await;
    c.call(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    c.call(&["GET", "a"], b"-NOAUTH Authentication required.\r\n")
        .await;
    c.call(&["CLIENT", "ID"], b"-NOAUTH Authentication required.\r\n")
        .await;
    c.call(
        &["AUTH", "wrong"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    c.call(
        &["AUTH", "bob", "s3cret"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    c.call(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    c.call(&["AUTH", "s3cret"], b"+OK\r\n").await;
    c.call(&["PING"], b"+PONG\r\n").await;
    c.call(&["SET", "a", "1"], b"+OK\r\n").await;
    c.call(&["AUTH", "default", "s3cret"], b"+OK\r\n").await;
    // RESET takes the authentication away again.
    c.call(&["RESET"], b"+RESET\r\n").await;
    c.call(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    c.call(&["GET", "a"], b"-NOAUTH Authentication required.\r\n")
        .await;
    c.call(&["AUTH", "s3cret"], b"+OK\r\n").await;
    c.call(&["GET", "a"], b"$1\r\n1\r\n").await;

    // HELLO needs authentication, or carries it.
    let mut h = s.raw().await;
    h.call(
        &["HELLO", "3"],
        b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n",
    )
    .await;
    h.call(
        &["HELLO", "3", "AUTH", "default", "bad"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    h.cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "me"])
        .await;
    let header = read_line(&mut h).await;
    assert_eq!(header, "%7");
    let mut id = 0;
    for _ in 0..7 {
        let key_len = read_line(&mut h).await;
        let key = read_line(&mut h).await;
        assert_eq!(key_len, format!("${}", key.len()));
        let value = read_line(&mut h).await;
        match key.as_str() {
            "id" => id = value[1..].parse().unwrap(),
            "proto" => assert_eq!(value, ":3"),
            "modules" => assert_eq!(value, "*0"),
            _ => {
                read_line(&mut h).await;
            }
        }
    }
    assert_eq!(client_id(&mut h).await, id);
    h.call(&["CLIENT", "GETNAME"], b"$2\r\nme\r\n").await;

    // The redis crate authenticates from the URL.
    let url = format!("redis://:s3cret@{}/", s.addr);
    let mut typed = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut typed).await.unwrap();
    assert_eq!(pong, "PONG");

    // Unauthenticated clients may not send long requests.
    let mut u = s.raw().await;
    u.send(b"*11\r\n").await;
    u.expect(b"-ERR Protocol error: unauthenticated multibulk length\r\n")
        .await;
    u.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_switches_protocols() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let id = client_id(&mut c).await;
    c.call(&["HELLO"], &hello_reply(2, id)).await;
    c.call(&["HELLO", "3"], &hello_reply(3, id)).await;
    // Map-shaped replies and nulls in RESP3.
    c.call(
        &["CONFIG", "GET", "maxmemory"],
        b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
    )
    .await;
    c.call(&["GET", "missing"], b"_\r\n").await;
    c.call(&["CLIENT", "GETNAME"], b"_\r\n").await;
    c.call(&["HELLO"], &hello_reply(3, id)).await;
    let info = call_text(&mut c, &["CLIENT", "INFO"]).await;
    assert_eq!(field(&info, "resp"), "3");
    c.call(&["HELLO", "2"], &hello_reply(2, id)).await;
    c.call(&["GET", "missing"], b"$-1\r\n").await;
    c.call(
        &["CONFIG", "GET", "maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
    )
    .await;
    c.call(
        &["HELLO", "4"],
        b"-NOPROTO unsupported protocol version\r\n",
    )
    .await;
    c.call(
        &["HELLO", "1"],
        b"-NOPROTO unsupported protocol version\r\n",
    )
    .await;
    c.call(
        &["HELLO", "x"],
        b"-ERR Protocol version is not an integer or out of range\r\n",
    )
    .await;
    c.call(
        &["HELLO", "3", "FOO"],
        b"-ERR Syntax error in HELLO option 'FOO'\r\n",
    )
    .await;
    c.call(
        &["HELLO", "3", "AUTH", "default"],
        b"-ERR Syntax error in HELLO option 'AUTH'\r\n",
    )
    .await;
    c.call(
        &["HELLO", "3", "SETNAME", "a b"],
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    // The failed HELLOs changed nothing.
    c.call(&["GET", "missing"], b"$-1\r\n").await;
    c.call(&["HELLO", "2", "SETNAME", "named"], &hello_reply(2, id))
        .await;
    c.call(&["CLIENT", "GETNAME"], b"$5\r\nnamed\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_clears_connection_state() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let mut other = s.raw().await;
    // Name, protocol, transaction.
    c.call(&["CLIENT", "SETNAME", "before"], b"+OK\r\n").await;
    let id = client_id(&mut c).await;
    c.call(&["HELLO", "3"], &hello_reply(3, id)).await;
    c.call(&["MULTI"], b"+OK\r\n").await;
    c.call(&["SET", "k", "queued"], b"+QUEUED\r\n").await;
    c.call(&["RESET"], b"+RESET\r\n").await;
    c.call(&["EXEC"], b"-ERR EXEC without MULTI\r\n").await;
    c.call(&["GET", "k"], b"$-1\r\n").await;
    c.call(&["CLIENT", "GETNAME"], b"$-1\r\n").await;
    let info = call_text(&mut c, &["CLIENT", "INFO"]).await;
    assert_eq!(field(&info, "resp"), "2");
    assert_eq!(field(&info, "multi"), "-1");
    // WATCH is dropped: a write by another client no longer aborts the next EXEC.
    c.call(&["WATCH", "w"], b"+OK\r\n").await;
    c.call(&["RESET"], b"+RESET\r\n").await;
    other.call(&["SET", "w", "changed"], b"+OK\r\n").await;
    c.call(&["MULTI"], b"+OK\r\n").await;
    c.call(&["SET", "w", "mine"], b"+QUEUED\r\n").await;
    c.call(&["EXEC"], b"*1\r\n+OK\r\n").await;
    c.call(
        &["RESET", "x"],
        b"-ERR wrong number of arguments for 'reset' command\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_id_name_info_setinfo() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let mut d = s.raw().await;
    let id = client_id(&mut c).await;
    assert_ne!(client_id(&mut d).await, id, "ids are unique");
    c.call(&["CLIENT", "GETNAME"], b"$-1\r\n").await;
    for bad in ["a b", "a\nb", "caf\u{e9}", "tab\t"] {
        c.call(
            &["CLIENT", "SETNAME", bad],
            b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
        )
        .await;
    }
    c.call(&["CLIENT", "SETNAME", "worker-1"], b"+OK\r\n").await;
    c.call(&["CLIENT", "GETNAME"], b"$8\r\nworker-1\r\n").await;
    c.call(
        &["CLIENT", "SETNAME"],
        b"-ERR wrong number of arguments for 'client|setname' command\r\n",
    )
    .await;
    c.call(&["CLIENT", "SETINFO", "lib-name", "redis-rs"], b"+OK\r\n")
        .await;
    c.call(&["CLIENT", "SETINFO", "LIB-VER", "1.0.2"], b"+OK\r\n")
        .await;
    c.call(
        &["CLIENT", "SETINFO", "lib-foo", "x"],
        b"-ERR Unrecognized option 'lib-foo'\r\n",
    )
    .await;
    c.call(
        &["CLIENT", "SETINFO", "lib-name", "a b"],
        b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    let info = call_text(&mut c, &["CLIENT", "INFO"]).await;
    assert!(
        info.ends_with('\n') && info.matches('\n').count() == 1,
        "{info:?}"
    );
    let line = info.trim_end();
    assert_eq!(field(line, "id"), id.to_string());
    assert_eq!(field(line, "name"), "worker-1");
    assert_eq!(field(line, "laddr"), s.addr.to_string());
    assert_eq!(
        field(line, "addr"),
        c.stream.local_addr().unwrap().to_string()
    );
    assert_eq!(field(line, "cmd"), "client");
    assert_eq!(field(line, "lib-name"), "redis-rs");
    assert_eq!(field(line, "lib-ver"), "1.0.2");
    c.call(&["CLIENT", "SETNAME", ""], b"+OK\r\n").await;
    c.call(&["CLIENT", "GETNAME"], b"$-1\r\n").await;
    c.call(&["CLIENT", "NO-EVICT", "on"], b"+OK\r\n").await;
    c.call(&["CLIENT", "NO-EVICT", "OFF"], b"+OK\r\n").await;
    c.call(&["CLIENT", "NO-EVICT", "maybe"], b"-ERR syntax error\r\n")
        .await;
    c.call(
        &["CLIENT", "FOO"],
        b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n",
    )
    .await;
    c.call(
        &["CLIENT"],
        b"-ERR wrong number of arguments for 'client' command\r\n",
    )
    .await;
    c.cmd(&["CLIENT", "HELP"]).await;
    let count: usize = read_line(&mut c).await[1..].parse().unwrap();
    let mut lines = Vec::new();
    for _ in 0..count {
        let l = read_line(&mut c).await;
        lines.push(l.strip_prefix('+').expect("simple strings").to_string());
    }
    assert_eq!(
        lines[0],
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    assert_eq!(&lines[count - 2..], ["HELP", "    Prints this help."]);
    for sub in [
        "GETNAME",
        "ID",
        "INFO",
        "LIST [options ...]",
        "SETNAME <name>",
    ] {
        assert!(lines.iter().any(|l| l == sub), "{sub} missing from help");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_list_lines_and_filters() {
    let s = TestServer::start().await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    let a_id = client_id(&mut a).await;
    let b_id = client_id(&mut b).await;
    a.call(&["CLIENT", "SETNAME", "alpha"], b"+OK\r\n").await;
    a.call(&["MULTI"], b"+OK\r\n").await;
    a.call(&["SET", "x", "1"], b"+QUEUED\r\n").await;
    let list = call_text(&mut b, &["CLIENT", "LIST"]).await;
    assert!(list.ends_with('\n'));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    // In id order.
    let id_of = |l: &str| field(l, "id").parse::<u64>().unwrap();
    assert!(id_of(lines[0]) < id_of(lines[1]), "{list}");
    let keys: Vec<&str> = fields(lines[0]).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp",
            "lib-name",
            "lib-ver"
        ]
    );
    let by_id = |id: u64| {
        *lines
            .iter()
            .find(|l| field(l, "id") == id.to_string())
            .unwrap()
    };
    let alpha = by_id(a_id);
    assert_eq!(field(alpha, "name"), "alpha");
    assert_eq!(
        field(alpha, "addr"),
        a.stream.local_addr().unwrap().to_string()
    );
    assert_eq!(field(alpha, "laddr"), s.addr.to_string());
    assert_eq!(field(alpha, "flags"), "x");
    assert_eq!(field(alpha, "multi"), "1");
    assert_eq!(field(alpha, "db"), "0");
    assert_eq!(field(alpha, "cmd"), "set");
    assert_eq!(field(alpha, "user"), "default");
    assert_eq!(field(alpha, "resp"), "2");
    let me = by_id(b_id);
    assert_eq!(field(me, "name"), "");
    assert_eq!(field(me, "flags"), "N");
    assert_eq!(field(me, "multi"), "-1");
    assert_eq!(field(me, "cmd"), "client");

    let only_a = call_text(
        &mut b,
        &["CLIENT", "LIST", "ID", &a_id.to_string(), "999999"],
    )
    .await;
    assert_eq!(only_a, format!("{alpha}\n"));
    let normal = call_text(&mut b, &["CLIENT", "LIST", "TYPE", "normal"]).await;
    assert_eq!(normal.lines().count(), 2);
    b.call(&["CLIENT", "LIST", "TYPE", "pubsub"], b"$0\r\n\r\n")
        .await;
    b.call(
        &["CLIENT", "LIST", "TYPE", "foo"],
        b"-ERR Unknown client type 'foo'\r\n",
    )
    .await;
    b.call(
        &["CLIENT", "LIST", "ID", "x"],
        b"-ERR Invalid client ID\r\n",
    )
    .await;
    b.call(&["CLIENT", "LIST", "foo"], b"-ERR syntax error\r\n")
        .await;
    // RESP3: verbatim text.
    b.call(&["HELLO", "3"], &hello_reply(3, b_id)).await;
    b.cmd(&["CLIENT", "LIST", "ID", &a_id.to_string()]).await;
    let header = read_line(&mut b).await;
    assert_eq!(header, format!("={}", alpha.len() + 1 + 4));
    b.expect(format!("txt:{alpha}\n\r\n").as_bytes()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_closes_connections() {
    let s = TestServer::start().await;
    let mut killer = s.raw().await;
    let mut by_addr = s.raw().await;
    let mut by_id = s.raw().await;
    by_id.call(&["PING"], b"+PONG\r\n").await;
    by_addr.call(&["PING"], b"+PONG\r\n").await;
    let victim_addr = by_addr.stream.local_addr().unwrap().to_string();
    killer
        .call(&["CLIENT", "KILL", &victim_addr], b"+OK\r\n")
        .await;
    by_addr.expect_closed().await;
    killer
        .call(&["CLIENT", "KILL", "1.2.3.4:5"], b"-ERR No such client\r\n")
        .await;
    // Three arguments are the old form even when they look like a filter.
    killer
        .call(&["CLIENT", "KILL", "ID"], b"-ERR No such client\r\n")
        .await;
    let id = client_id(&mut by_id).await.to_string();
    killer
        .call(&["CLIENT", "KILL", "ID", &id, "TYPE", "pubsub"], b":0\r\n")
        .await;
    killer
        .call(&["CLIENT", "KILL", "ID", &id, "USER", "default"], b":1\r\n")
        .await;
    by_id.expect_closed().await;
    for (args, err) in [
        (
            vec!["ID", "0"],
            "-ERR client-id should be greater than 0\r\n",
        ),
        (
            vec!["ID", "x"],
            "-ERR client-id should be greater than 0\r\n",
        ),
        (vec!["USER", "bob"], "-ERR No such user 'bob'\r\n"),
        (vec!["SKIPME", "maybe"], "-ERR syntax error\r\n"),
        (vec!["FOO", "bar"], "-ERR syntax error\r\n"),
        (vec!["ADDR", "a", "LADDR"], "-ERR syntax error\r\n"),
        (vec!["TYPE", "foo"], "-ERR Unknown client type 'foo'\r\n"),
    ] {
        let mut cmd = vec!["CLIENT", "KILL"];
        cmd.extend(args);
        killer.call(&cmd, err.as_bytes()).await;
    }
    // Filters skip the caller unless SKIPME no.
    let mut other = s.raw().await;
    other.call(&["PING"], b"+PONG\r\n").await;
    let laddr = s.addr.to_string();
    killer
        .call(&["CLIENT", "KILL", "LADDR", &laddr], b":1\r\n")
        .await;
    other.expect_closed().await;
    killer
        .call(
            &["CLIENT", "KILL", "LADDR", &laddr, "SKIPME", "no"],
            b":1\r\n",
        )
        .await;
    killer.expect_closed().await;
    // A connection deregisters before its socket closes: only the newcomer is listed.
    let mut fresh = s.raw().await;
    let list = call_text(&mut fresh, &["CLIENT", "LIST"]).await;
    assert_eq!(list.lines().count(), 1, "{list}");
}

/// Connects and sends PING; true when the server answered PONG (not rejected).
async fn pong(addr: std::net::SocketAddr) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    matches!(read, Ok(Ok(n)) if &buf[..n] == b"+PONG\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxclients_rejects_the_extra_connection() {
    let s = TestServer::with(|c| c.maxclients = 2).await;
    let mut a = s.raw().await;
    let mut b = s.raw().await;
    a.call(&["PING"], b"+PONG\r\n").await;
    b.call(&["PING"], b"+PONG\r\n").await;
    let mut third = s.raw().await;
    third
        .expect(b"-ERR max number of clients reached\r\n")
        .await;
    third.expect_closed().await;
    // Once one leaves there is room again.
    drop(a);
    wait_until(Duration::from_secs(5), || pong(s.addr)).await;
    b.call(&["CONFIG", "SET", "maxclients", "10"], b"+OK\r\n")
        .await;
    let info = call_text(&mut b, &["INFO", "clients"]).await;
    assert!(info.contains("\r\nmaxclients:10\r\n"), "{info}");
    let mut more = Vec::new();
    for _ in 0..5 {
        let mut c = s.raw().await;
        c.call(&["PING"], b"+PONG\r\n").await;
        more.push(c);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_time_out_active_ones_stay() {
    let s = TestServer::with(|c| c.timeout = 1).await;
    let mut idle = s.raw().await;
    let mut silent = s.raw().await;
    let mut active = s.raw().await;
    idle.call(&["PING"], b"+PONG\r\n").await;
    // Commands more often than the timeout keep a connection open well past it, while the
    // idle one is closed.
    let keep_busy = async {
        for _ in 0..8 {
            active.call(&["PING"], b"+PONG\r\n").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    tokio::join!(idle.expect_closed(), keep_busy);
    active.call(&["PING"], b"+PONG\r\n").await;
    // A connection that never sent anything idles out too.
    silent.expect_closed().await;
    active
        .call(
            &["CONFIG", "GET", "timeout"],
            b"*2\r\n$7\r\ntimeout\r\n$1\r\n1\r\n",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_clients() {
    let s = TestServer::start().await;
    let addr = s.addr;
    let mut tasks = tokio::task::JoinSet::new();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(1000));
    for i in 0..1000 {
        let barrier = barrier.clone();
        tasks.spawn(async move {
            let mut c = Raw::connect(addr).await;
            c.call(&["PING"], b"+PONG\r\n").await;
            // Every connection is open at once before any writes.
            barrier.wait().await;
            let key = format!("client:{i}");
            let value = format!("value-{i}-{}", "x".repeat(i % 50));
            c.call(&["SET", &key, &value], b"+OK\r\n").await;
            c.call(
                &["GET", &key],
                format!("${}\r\n{value}\r\n", value.len()).as_bytes(),
            )
            .await;
            c
        });
    }
    let mut conns = Vec::new();
    while let Some(r) = tasks.join_next().await {
        conns.push(r.expect("client task"));
    }
    assert_eq!(conns.len(), 1000);
    let mut c = s.raw().await;
    c.call(&["DBSIZE"], b":1000\r\n").await;
    let info = call_text(&mut c, &["INFO", "clients"]).await;
    assert!(info.contains("\r\nconnected_clients:1001\r\n"), "{info}");
}
