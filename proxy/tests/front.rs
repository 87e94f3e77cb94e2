//! The proxy's RESP front on its own (no control, so no slot is served): connection
//! commands, COMMAND, CLIENT, CLUSTER as one node, INFO, pipelining order and errors.

mod common;

use common::TestProxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_echo_select_and_errors() {
    let p = TestProxy::start(None).await;
    let mut r = p.raw().await;
    r.call(&["PING"], b"+PONG\r\n").await;
    r.call(&["ping", "hi"], b"$2\r\nhi\r\n").await;
    r.call(
        &["PING", "a", "b"],
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    )
    .await;
    r.call(&["ECHO", "x"], b"$1\r\nx\r\n").await;
    r.call(&["SELECT", "0"], b"+OK\r\n").await;
    r.call(&["SELECT", "1"], b"-ERR DB index is out of range\r\n")
        .await;
    r.call(
        &["GET"],
        b"-ERR wrong number of arguments for 'get' command\r\n",
    )
    .await;
    r.call(
        &["NOSUCH", "a"],
        b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n",
    )
    .await;
    r.call(
        &["CLIENT", "NOPE"],
        b"-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n",
    )
    .await;
    // Inline commands work as in Redis.
    r.send(b"PING\r\n").await;
    r.expect(b"+PONG\r\n").await;
    r.call(&["QUIT"], b"+OK\r\n").await;
    r.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_commands_without_a_map_are_clusterdown() {
    let p = TestProxy::start(None).await;
    let mut r = p.raw().await;
    r.call(&["GET", "k"], b"-CLUSTERDOWN Hash slot not served\r\n")
        .await;
    r.call(
        &["MGET", "a", "b"],
        b"-CLUSTERDOWN Hash slot not served\r\n",
    )
    .await;
    r.call(&["DBSIZE"], b":0\r\n").await;
    r.call(&["SCAN", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n").await;
    r.call(&["SCAN", "x"], b"-ERR invalid cursor\r\n").await;
    r.call(
        &["SINTER", "a", "b"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    r.call(
        &["MSETNX", "a", "1", "b", "2"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_replies_keep_request_order() {
    let p = TestProxy::start(None).await;
    let mut r = p.raw().await;
    let mut batch = Vec::new();
    for (i, cmd) in [
        vec!["PING"],
        vec!["GET", "a"],
        vec!["ECHO", "1"],
        vec!["DBSIZE"],
        vec!["ECHO", "2"],
        vec!["SET", "b", "x"],
        vec!["CLIENT", "SETNAME", "pipe"],
        vec!["CLIENT", "GETNAME"],
    ]
    .iter()
    .enumerate()
    {
        let _ = i;
        batch.extend(common::encode(cmd));
    }
    r.send(&batch).await;
    r.expect(
        b"+PONG\r\n-CLUSTERDOWN Hash slot not served\r\n$1\r\n1\r\n:0\r\n$1\r\n2\r\n-CLUSTERDOWN Hash slot not served\r\n+OK\r\n$4\r\npipe\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_switches_protocol() {
    let p = TestProxy::start(None).await;
    let mut r = p.raw().await;
    r.cmd(&["HELLO", "3"]).await;
    let head = r.read_line().await;
    assert_eq!(head, "%7\r\n");
    r.expect(b"$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n").await;
    let id = r.read_line().await;
    assert!(id.starts_with(':'), "{id}");
    r.expect(
        b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
    )
    .await;
    // RESP3 shapes from then on.
    r.call(&["CLIENT", "GETNAME"], b"_\r\n").await;
    r.call(
        &["HELLO", "4"],
        b"-NOPROTO unsupported protocol version\r\n",
    )
    .await;
    r.cmd(&["HELLO", "2"]).await;
    assert_eq!(r.read_line().await, "*14\r\n");
    for _ in 0..25 {
        r.read_line().await;
    }
    r.call(&["CLIENT", "GETNAME"], b"$-1\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_is_required_when_a_password_is_set() {
    let p = TestProxy::with(None, |c| c.requirepass = "secret".into()).await;
    let mut r = p.raw().await;
    r.call(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    r.call(&["GET", "k"], b"-NOAUTH Authentication required.\r\n")
        .await;
    r.call(
        &["AUTH", "wrong"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    r.call(&["HELLO", "3"], b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n").await;
    r.call(&["AUTH", "secret"], b"+OK\r\n").await;
    r.call(&["PING"], b"+PONG\r\n").await;
    r.call(&["RESET"], b"+RESET\r\n").await;
    r.call(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    r.call(&["AUTH", "default", "secret"], b"+OK\r\n").await;
    r.call(&["PING"], b"+PONG\r\n").await;

    let open = TestProxy::start(None).await;
    let mut r = open.raw().await;
    r.call(&["AUTH", "x"], b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_commands() {
    let p = TestProxy::start(None).await;
    let mut a = p.client().await;
    let mut b = p.raw().await;
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut a)
        .await
        .unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("alpha")
        .query_async(&mut a)
        .await
        .unwrap();
    let name: String = redis::cmd("CLIENT")
        .arg("GETNAME")
        .query_async(&mut a)
        .await
        .unwrap();
    assert_eq!(name, "alpha");
    b.call(
        &["CLIENT", "SETNAME", "has space"],
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut a)
        .await
        .unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("id={id} ")) && l.contains(" name=alpha ")),
        "{list}"
    );
    let mine: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(id)
        .query_async(&mut a)
        .await
        .unwrap();
    assert_eq!(mine.lines().count(), 1);
    // Killing b by id closes its connection.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id + 1)
        .query_async(&mut a)
        .await
        .unwrap();
    assert_eq!(killed, 1);
    b.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_and_info_and_time() {
    let p = TestProxy::start(None).await;
    let mut c = p.client().await;
    let count: i64 = redis::cmd("COMMAND")
        .arg("COUNT")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(count as usize, autocache_proto::command::COMMANDS.len());
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(keys, vec!["a", "b"]);
    let info: String = redis::cmd("INFO").query_async(&mut c).await.unwrap();
    for want in [
        "# Server",
        "redis_version:7.0.15",
        "# Clients",
        "connected_clients:1",
        "# Stats",
        "# Keyspace",
    ] {
        assert!(info.contains(want), "{want} missing from {info}");
    }
    let only: String = redis::cmd("INFO")
        .arg("clients")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        only.starts_with("# Clients\r\n") && !only.contains("# Server"),
        "{only}"
    );
    let t: Vec<String> = redis::cmd("TIME").query_async(&mut c).await.unwrap();
    assert!(t[0].parse::<u64>().unwrap() > 1_600_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_commands_describe_one_node() {
    let p = TestProxy::start(None).await;
    let mut c = p.client().await;
    let id: String = redis::cmd("CLUSTER")
        .arg("MYID")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(id.len(), 40);
    let slots: redis::Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut c)
        .await
        .unwrap();
    let expected = redis::Value::Array(vec![redis::Value::Array(vec![
        redis::Value::Int(0),
        redis::Value::Int(16383),
        redis::Value::Array(vec![
            redis::Value::BulkString(b"127.0.0.1".to_vec()),
            redis::Value::Int(p.addr.port() as i64),
            redis::Value::BulkString(id.clone().into_bytes()),
            redis::Value::Array(vec![]),
        ]),
    ])]);
    assert_eq!(slots, expected);
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        nodes.starts_with(&format!("{id} 127.0.0.1:{}@", p.addr.port())),
        "{nodes}"
    );
    assert!(
        nodes.contains("myself,master") && nodes.trim_end().ends_with("0-16383"),
        "{nodes}"
    );
    let slot: i64 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg("foo")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(slot, 12182);
    let mut r = p.raw().await;
    r.call(&["MULTI"], b"+OK\r\n").await;
    r.call(&["PING"], b"+QUEUED\r\n").await;
    r.call(&["MULTI"], b"-ERR MULTI calls can not be nested\r\n")
        .await;
    r.call(&["DISCARD"], b"+OK\r\n").await;
    r.call(&["EXEC"], b"-ERR EXEC without MULTI\r\n").await;
    r.call(&["MULTI"], b"+OK\r\n").await;
    r.call(
        &["NOSUCH"],
        b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
    )
    .await;
    r.call(
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxclients_refuses_extra_connections() {
    let p = TestProxy::with(None, |c| c.maxclients = 1).await;
    let mut a = p.raw().await;
    a.call(&["PING"], b"+PONG\r\n").await;
    let mut b = p.raw().await;
    b.expect(b"-ERR max number of clients reached\r\n").await;
    b.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_on_the_metrics_port() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = TestProxy::with(None, |c| c.metrics_addr = Some(port)).await;
    // The proxy answers RESP once run() has bound the metrics listener too.
    p.raw().await.call(&["PING"], b"+PONG\r\n").await;
    let mut s = tokio::net::TcpStream::connect(port).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    assert!(
        body.starts_with("HTTP/1.1 200 OK\r\n") && body.ends_with("\r\n\r\nok\n"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reads_env_vars_and_stops_on_sigterm() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_autocache-proxy"))
        .env("AUTOCACHE_PROXY_ADDR", port.to_string())
        .env("AUTOCACHE_PROXY_REQUIREPASS", "pw")
        .env("AUTOCACHE_PROXY_THREADS", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until(
        "the proxy to listen",
        std::time::Duration::from_secs(30),
        || async move { tokio::net::TcpStream::connect(port).await.is_ok() },
    )
    .await;
    let mut r = common::Raw::connect(port).await;
    r.call(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    r.call(&["AUTH", "pw"], b"+OK\r\n").await;
    r.call(&["PING"], b"+PONG\r\n").await;
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    r.expect_closed().await;
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn the_binary_refuses_a_thread_count_of_zero() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_autocache-proxy"))
        .args(["--threads", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "invalid value '0' for '--threads <THREADS>': invalid thread count '0' (1 to 1024)"
        ),
        "{err}"
    );
}

#[test]
fn the_binary_refuses_zero_batches_in_flight() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_autocache-proxy"))
        .env("AUTOCACHE_PROXY_BATCHES_IN_FLIGHT", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid batch count '0' (1 to 1024)"), "{err}");
}
