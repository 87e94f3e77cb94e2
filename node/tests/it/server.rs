//! Server commands against the real server: DBSIZE, FLUSHDB/FLUSHALL, TIME, INFO and CONFIG,
//! with Redis 7.0's exact replies and error texts.

use crate::common::*;
use std::collections::BTreeMap;
use std::time::Duration;

/// Sends a command and reads an array (or RESP3 map) of bulk strings.
async fn call_strings(c: &mut Raw, args: &[&str]) -> Vec<String> {
    c.cmd(args).await;
    let header = read_line(c).await;
    let n: usize = header[1..].parse().unwrap();
    let n = if header.starts_with('%') { 2 * n } else { n };
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let len: usize = read_line(c).await[1..].parse().unwrap();
        let body = c.read_exact_len(len + 2).await;
        items.push(String::from_utf8(body[..len].to_vec()).unwrap());
    }
    items
}

/// The INFO fields, by name.
fn info_fields(text: &str) -> BTreeMap<String, String> {
    text.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn info_field(c: &mut Raw, section: &str, name: &str) -> String {
    let text = call_text(c, &["INFO", section]).await;
    info_fields(&text)
        .remove(name)
        .unwrap_or_else(|| panic!("no {name} in INFO {section}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbsize_and_flushes() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let mut w = s.raw().await;
    c.call(&["DBSIZE"], b":0\r\n").await;
    for i in 0..100 {
        c.call(&["SET", &format!("k{i}"), "v"], b"+OK\r\n").await;
    }
    c.call(&["HSET", "h", "f", "v"], b":1\r\n").await;
    c.call(&["DBSIZE"], b":101\r\n").await;
    c.call(
        &["DBSIZE", "x"],
        b"-ERR wrong number of arguments for 'dbsize' command\r\n",
    )
    .await;
    c.call(&["FLUSHDB"], b"+OK\r\n").await;
    c.call(&["DBSIZE"], b":0\r\n").await;
    c.call(&["GET", "k1"], b"$-1\r\n").await;
    for mode in ["SYNC", "async", "Async"] {
        c.call(&["SET", "a", "1"], b"+OK\r\n").await;
        c.call(&["FLUSHALL", mode], b"+OK\r\n").await;
        c.call(&["DBSIZE"], b":0\r\n").await;
        c.call(&["SET", "a", "1"], b"+OK\r\n").await;
        c.call(&["FLUSHDB", mode], b"+OK\r\n").await;
        c.call(&["EXISTS", "a"], b":0\r\n").await;
    }
    c.call(&["FLUSHALL", "x"], b"-ERR syntax error\r\n").await;
    c.call(&["FLUSHDB", "sync", "async"], b"-ERR syntax error\r\n")
        .await;
    // FLUSHALL is a write to every watched key that existed.
    c.call(&["SET", "watched", "1"], b"+OK\r\n").await;
    c.call(&["WATCH", "watched"], b"+OK\r\n").await;
    w.call(&["FLUSHALL"], b"+OK\r\n").await;
    c.call(&["MULTI"], b"+OK\r\n").await;
    c.call(&["SET", "watched", "2"], b"+QUEUED\r\n").await;
    c.call(&["EXEC"], b"*-1\r\n").await;
    // Inside a transaction, with every shard held.
    c.call(&["MULTI"], b"+OK\r\n").await;
    c.call(&["SET", "t", "1"], b"+QUEUED\r\n").await;
    c.call(&["FLUSHALL"], b"+QUEUED\r\n").await;
    c.call(&["DBSIZE"], b"+QUEUED\r\n").await;
    c.call(&["EXEC"], b"*3\r\n+OK\r\n+OK\r\n:0\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_is_seconds_and_microseconds() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t = call_strings(&mut c, &["TIME"]).await;
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(t.len(), 2);
    let secs: u64 = t[0].parse().unwrap();
    let micros: u64 = t[1].parse().unwrap();
    assert!(
        (before..=after).contains(&secs),
        "{secs} not in {before}..={after}"
    );
    assert!(micros < 1_000_000);
    c.call(
        &["TIME", "x"],
        b"-ERR wrong number of arguments for 'time' command\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_sections_and_fields() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    let text = call_text(&mut c, &["INFO"]).await;
    // Sections, each headed and separated by one blank line; CRLF everywhere.
    let headers: Vec<&str> = text
        .split("\r\n\r\n")
        .map(|sec| sec.lines().next().unwrap())
        .collect();
    assert_eq!(
        headers,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Stats",
            "# Replication",
            "# Cluster",
            "# Keyspace"
        ]
    );
    assert!(text.ends_with("\r\n") && !text.ends_with("\r\n\r\n"));
    assert_eq!(text.matches('\n').count(), text.matches("\r\n").count());
    let f = info_fields(&text);
    let expect = |k: &str, v: &str| assert_eq!(f.get(k).map(String::as_str), Some(v), "{k}");
    expect("redis_version", "7.0.15");
    expect("redis_mode", "standalone");
    expect("arch_bits", "64");
    expect("process_id", &std::process::id().to_string());
    expect("tcp_port", &s.addr.port().to_string());
    expect("uptime_in_days", "0");
    expect("hz", "10");
    expect("config_file", "");
    expect("connected_clients", "1");
    expect("maxclients", "10000");
    expect("blocked_clients", "0");
    expect("maxmemory", "0");
    expect("maxmemory_human", "0B");
    expect("maxmemory_policy", "noeviction");
    expect("role", "master");
    expect("cluster_enabled", "0");
    expect("rejected_connections", "0");
    expect("keyspace_hits", "0");
    expect("keyspace_misses", "0");
    expect("expired_keys", "0");
    expect("evicted_keys", "0");
    assert!(
        f["mem_allocator"].starts_with("jemalloc-5"),
        "{}",
        f["mem_allocator"]
    );
    assert_eq!(f["run_id"].len(), 40);
    assert!(f["os"].starts_with("Linux "), "{}", f["os"]);
    assert!(!f["executable"].is_empty());
    for k in [
        "uptime_in_seconds",
        "used_memory",
        "used_memory_rss",
        "used_memory_peak",
        "used_memory_dataset",
        "total_connections_received",
        "total_commands_processed",
        "instantaneous_ops_per_sec",
        "total_net_input_bytes",
        "total_net_output_bytes",
    ] {
        let n: u64 = f[k].parse().unwrap_or_else(|_| panic!("{k}: {}", f[k]));
        if k.starts_with("used_memory") && k != "used_memory_dataset" {
            assert!(n > 0, "{k} is 0");
        }
    }
    let used: u64 = f["used_memory"].parse().unwrap();
    let peak: u64 = f["used_memory_peak"].parse().unwrap();
    assert!(peak >= used);
    for k in [
        "used_memory_human",
        "used_memory_rss_human",
        "used_memory_peak_human",
    ] {
        assert!(f[k].ends_with(['B', 'K', 'M', 'G']), "{k}: {}", f[k]);
    }
    let ratio: f64 = f["mem_fragmentation_ratio"].parse().unwrap();
    assert!(ratio > 0.0);
    assert!(!f.contains_key("db0"), "empty keyspace has no db line");
    assert!(!text.contains("# Commandstats"));

    // Unknown sections select nothing; names are case-insensitive; several at once.
    c.call(&["INFO", "nosuch"], b"$0\r\n\r\n").await;
    c.call(&["INFO", "KEYSPACE"], b"$12\r\n# Keyspace\r\n\r\n")
        .await;
    let two = call_text(&mut c, &["INFO", "keyspace", "clients"]).await;
    assert!(
        two.starts_with("# Clients\r\n") && two.ends_with("\r\n\r\n# Keyspace\r\n"),
        "{two}"
    );
    let all = call_text(&mut c, &["INFO", "all"]).await;
    assert!(
        all.contains("\r\n# Commandstats\r\ncmdstat_info:calls="),
        "{all}"
    );
    let everything = call_text(&mut c, &["INFO", "everything"]).await;
    assert!(everything.contains("# Commandstats"));
    let default = call_text(&mut c, &["INFO", "default"]).await;
    assert!(!default.contains("# Commandstats") && default.contains("# Server"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_keyspace_stats_and_commandstats_follow_writes() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SET", "a", "1"], b"+OK\r\n").await;
    c.call(&["SET", "b", "2", "EX", "100"], b"+OK\r\n").await;
    c.call(&["RPUSH", "l", "x"], b":1\r\n").await;
    c.call(
        &["INFO", "keyspace"],
        b"$44\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\n\r\n",
    )
    .await;
    // Counting from here, whatever the writes above counted.
    c.call(&["CONFIG", "RESETSTAT"], b"+OK\r\n").await;
    c.call(&["GET", "a"], b"$1\r\n1\r\n").await;
    c.call(&["SET", "c", "3"], b"+OK\r\n").await;
    c.call(&["GET", "a"], b"$1\r\n1\r\n").await;
    c.call(&["GET", "nope"], b"$-1\r\n").await;
    c.call(
        &["GET", "l"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    let stats = info_fields(&call_text(&mut c, &["INFO", "stats"]).await);
    assert_eq!(stats["keyspace_hits"], "3");
    assert_eq!(stats["keyspace_misses"], "1");
    let cmds = call_text(&mut c, &["INFO", "commandstats"]).await;
    assert!(cmds.starts_with("# Commandstats\r\n"), "{cmds}");
    let get = cmds
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_get:"))
        .unwrap_or_else(|| panic!("{cmds}"));
    let kv: BTreeMap<&str, &str> = get.split(',').map(|p| p.split_once('=').unwrap()).collect();
    assert_eq!(
        kv.keys().copied().collect::<Vec<_>>(),
        [
            "calls",
            "failed_calls",
            "rejected_calls",
            "usec",
            "usec_per_call"
        ]
    );
    assert_eq!(kv["calls"], "4");
    assert_eq!(kv["failed_calls"], "1");
    assert_eq!(kv["rejected_calls"], "0");
    let usec: f64 = kv["usec"].parse().unwrap();
    let per_call: f64 = kv["usec_per_call"].parse().unwrap();
    assert!((per_call - usec / 4.0).abs() < 0.01);
    assert_eq!(kv["usec_per_call"].split('.').nth(1).map(str::len), Some(2));
    assert!(cmds.contains("\r\ncmdstat_set:calls=1,"), "{cmds}");
    assert!(cmds.contains("\r\ncmdstat_config:calls=1,"), "{cmds}");
    assert!(!cmds.contains("cmdstat_rpush"), "{cmds}");
    // Expiry counts.
    c.call(&["SET", "short", "1", "PX", "1"], b"+OK\r\n").await;
    let addr = s.addr;
    wait_until(Duration::from_secs(5), || async move {
        let mut p = Raw::connect(addr).await;
        info_field(&mut p, "stats", "expired_keys").await == "1"
    })
    .await;
    // CONFIG RESETSTAT zeroes the counters.
    c.call(&["CONFIG", "RESETSTAT"], b"+OK\r\n").await;
    let stats = info_fields(&call_text(&mut c, &["INFO", "stats"]).await);
    assert_eq!(stats["keyspace_hits"], "0");
    assert_eq!(stats["keyspace_misses"], "0");
    assert_eq!(stats["expired_keys"], "0");
    assert_eq!(stats["total_commands_processed"], "1");
    let cmds = call_text(&mut c, &["INFO", "commandstats"]).await;
    assert!(!cmds.contains("cmdstat_get"), "{cmds}");
    assert!(cmds.contains("cmdstat_config:calls=1,"), "{cmds}");
    c.call(
        &["INFO", "keyspace"],
        b"$44\r\n# Keyspace\r\ndb0:keys=4,expires=1,avg_ttl=0\r\n\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_and_config_in_resp3() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.cmd(&["HELLO", "3"]).await;
    assert_eq!(read_line(&mut c).await, "%7");
    for _ in 0..7 {
        read_line(&mut c).await;
        read_line(&mut c).await;
        let v = read_line(&mut c).await;
        if v.starts_with('$') {
            read_line(&mut c).await;
        }
    }
    c.call(&["INFO", "keyspace"], b"=16\r\ntxt:# Keyspace\r\n\r\n")
        .await;
    c.call(
        &["CONFIG", "GET", "maxmemory"],
        b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
    )
    .await;
    c.call(&["CONFIG", "GET", "nope"], b"%0\r\n").await;
    let pairs = call_strings(&mut c, &["CONFIG", "GET", "timeout", "hz"]).await;
    assert_eq!(pairs, ["timeout", "0", "hz", "10"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_get_names_patterns_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let s = TestServer::with(|c| c.data_dir = data_dir).await;
    let mut c = s.raw().await;
    c.call(
        &["CONFIG", "GET", "maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
    )
    .await;
    // An exact name answers under the spelling asked, once.
    c.call(
        &["CONFIG", "GET", "MAXMEMORY", "maxmemory"],
        b"*2\r\n$9\r\nMAXMEMORY\r\n$1\r\n0\r\n",
    )
    .await;
    c.call(&["CONFIG", "GET", "nope"], b"*0\r\n").await;
    let got = call_strings(&mut c, &["CONFIG", "GET", "maxmemory*", "maxmemory"]).await;
    let got: BTreeMap<_, _> = got
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    let want: BTreeMap<String, String> = [
        ("maxmemory", "0"),
        ("maxmemory-policy", "noeviction"),
        ("maxmemory-samples", "5"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(got, want);
    let all = call_strings(&mut c, &["CONFIG", "GET", "*"]).await;
    let all: BTreeMap<_, _> = all
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    let canonical = std::fs::canonicalize(dir.path()).unwrap();
    for (k, v) in [
        ("bind", "127.0.0.1"),
        ("port", s.addr.port().to_string().as_str()),
        ("requirepass", ""),
        ("maxclients", "10000"),
        ("timeout", "0"),
        ("proto-max-bulk-len", "536870912"),
        ("client-query-buffer-limit", "1073741824"),
        ("hz", "10"),
        ("lfu-log-factor", "10"),
        ("lfu-decay-time", "1"),
        ("busy-reply-threshold", "5000"),
        ("lua-time-limit", "5000"),
        ("dir", canonical.to_str().unwrap()),
        ("save", ""),
        ("appendonly", "no"),
        ("notify-keyspace-events", ""),
        ("databases", "1"),
        ("cluster-enabled", "no"),
    ] {
        assert_eq!(all.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(all.len(), 21);
    // Glob classes, case-insensitively.
    let got = call_strings(&mut c, &["CONFIG", "GET", "LFU-*-[dt]*"]).await;
    assert_eq!(got, ["lfu-decay-time", "1"]);
    c.call(
        &["CONFIG", "GET"],
        b"-ERR wrong number of arguments for 'config|get' command\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_set_applies_and_refuses_like_redis() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["CONFIG", "SET", "maxmemory", "10mb"], b"+OK\r\n")
        .await;
    c.call(
        &["CONFIG", "GET", "maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n",
    )
    .await;
    let mem = info_fields(&call_text(&mut c, &["INFO", "memory"]).await);
    assert_eq!(mem["maxmemory"], "10485760");
    assert_eq!(mem["maxmemory_human"], "10.00M");
    c.call(&["CONFIG", "SET", "maxmemory", "0"], b"+OK\r\n")
        .await;
    // Several at once.
    c.call(
        &[
            "CONFIG",
            "SET",
            "timeout",
            "300",
            "maxmemory-policy",
            "ALLKEYS-LRU",
            "hz",
            "20",
        ],
        b"+OK\r\n",
    )
    .await;
    let got = call_strings(
        &mut c,
        &["CONFIG", "GET", "timeout", "maxmemory-policy", "hz"],
    )
    .await;
    assert_eq!(
        got,
        [
            "timeout",
            "300",
            "maxmemory-policy",
            "allkeys-lru",
            "hz",
            "20"
        ]
    );
    assert_eq!(info_field(&mut c, "server", "hz").await, "20");
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_policy").await,
        "allkeys-lru"
    );
    // hz is accepted out of range but runs within 1..=500.
    c.call(&["CONFIG", "SET", "hz", "0"], b"+OK\r\n").await;
    c.call(&["CONFIG", "GET", "hz"], b"*2\r\n$2\r\nhz\r\n$1\r\n1\r\n")
        .await;
    c.call(&["CONFIG", "SET", "hz", "1000"], b"+OK\r\n").await;
    c.call(&["CONFIG", "GET", "hz"], b"*2\r\n$2\r\nhz\r\n$3\r\n500\r\n")
        .await;
    for (name, value) in [
        ("maxclients", "500"),
        ("maxmemory-samples", "7"),
        ("proto-max-bulk-len", "2097152"),
        ("client-query-buffer-limit", "3145728"),
        ("lfu-log-factor", "20"),
        ("lfu-decay-time", "5"),
    ] {
        c.call(&["CONFIG", "SET", name, value], b"+OK\r\n").await;
        let got = call_strings(&mut c, &["CONFIG", "GET", name]).await;
        assert_eq!(got, [name, value]);
    }
    c.call(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"], b"+OK\r\n")
        .await;
    c.call(
        &["CONFIG", "GET", "proto-max-bulk-len"],
        b"*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n1048576\r\n",
    )
    .await;

    let failed = |name: &str, why: &str| {
        format!("-ERR CONFIG SET failed (possibly related to argument '{name}') - {why}\r\n")
    };
    for (args, err) in [
        (vec!["maxmemory", "abc"], failed("maxmemory", "argument must be a memory value")),
        (vec!["maxmemory", "-1"], failed("maxmemory", "argument must be a memory value")),
        (vec!["timeout", "abc"], failed("timeout", "argument couldn't be parsed into an integer")),
        (vec!["timeout", "+1"], failed("timeout", "argument couldn't be parsed into an integer")),
        (vec!["timeout", "-1"], failed("timeout", "argument must be between 0 and 2147483647 inclusive")),
        (vec!["maxclients", "0"], failed("maxclients", "argument must be between 1 and 4294967295 inclusive")),
        (vec!["proto-max-bulk-len", "10"], failed("proto-max-bulk-len", "argument must be between 1048576 and 9223372036854775807 inclusive")),
        (vec!["client-query-buffer-limit", "10"], failed("client-query-buffer-limit", "argument must be between 1048576 and 9223372036854775807 inclusive")),
        (vec!["maxmemory-policy", "foo"], failed("maxmemory-policy", "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")),
        (vec!["maxmemory", "1mb", "MAXMEMORY", "2mb"], failed("MAXMEMORY", "duplicate parameter")),
        (vec!["databases", "2"], failed("databases", "can't set immutable config")),
        (vec!["port", "1"], failed("port", "can't set immutable config")),
        (vec!["dir", "/tmp"], failed("dir", "can't set immutable config")),
        (vec!["appendonly", "yes"], failed("appendonly", "can't set immutable config")),
        (vec!["xyz", "1"], "-ERR Unknown option or number of arguments for CONFIG SET - 'xyz'\r\n".to_string()),
        // Names are all resolved before any value is checked.
        (vec!["maxmemory", "abc", "xyz", "1"], "-ERR Unknown option or number of arguments for CONFIG SET - 'xyz'\r\n".to_string()),
        (vec!["maxmemory", "1", "timeout"], "-ERR syntax error\r\n".to_string()),
    ] {
        let mut cmd = vec!["CONFIG", "SET"];
        cmd.extend(args);
        c.call(&cmd, err.as_bytes()).await;
    }
    c.call(
        &["CONFIG", "SET", "maxmemory"],
        b"-ERR wrong number of arguments for 'config|set' command\r\n",
    )
    .await;
    // All or nothing: a bad value leaves the good one unapplied.
    c.call(
        &["CONFIG", "SET", "timeout", "7", "maxmemory", "abc"],
        failed("maxmemory", "argument must be a memory value").as_bytes(),
    )
    .await;
    c.call(
        &["CONFIG", "GET", "timeout"],
        b"*2\r\n$7\r\ntimeout\r\n$3\r\n300\r\n",
    )
    .await;
    // Compatibility values accept what they are.
    c.call(&["CONFIG", "SET", "save", ""], b"+OK\r\n").await;
    c.call(&["CONFIG", "SET", "appendonly", "no"], b"+OK\r\n")
        .await;
    c.call(&["CONFIG", "HELP"], b"*9\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET <pattern>\r\n+    Return parameters matching the glob-like <pattern> and their values.\r\n+SET <directive> <value>\r\n+    Set the configuration <directive> to <value>.\r\n+RESETSTAT\r\n+    Reset statistics reported by the INFO command.\r\n+HELP\r\n+    Prints this help.\r\n").await;
    c.call(
        &["CONFIG", "FOO"],
        b"-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_set_requirepass_applies_to_new_connections() {
    let s = TestServer::start().await;
    let mut admin = s.raw().await;
    admin
        .call(&["CONFIG", "SET", "requirepass", "pw"], b"+OK\r\n")
        .await;
    // Connections already authenticated stay so.
    admin.call(&["PING"], b"+PONG\r\n").await;
    admin
        .call(
            &["CONFIG", "GET", "requirepass"],
            b"*2\r\n$11\r\nrequirepass\r\n$2\r\npw\r\n",
        )
        .await;
    let mut c = s.raw().await;
    c.call(&["PING"], b"-NOAUTH Authentication required.\r\n")
        .await;
    c.call(&["AUTH", "pw"], b"+OK\r\n").await;
    c.call(&["PING"], b"+PONG\r\n").await;
    admin
        .call(&["CONFIG", "SET", "requirepass", ""], b"+OK\r\n")
        .await;
    let mut d = s.raw().await;
    d.call(&["PING"], b"+PONG\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_maxmemory_evicts_at_once() {
    let s = TestServer::with(|c| c.maxmemory_policy = "allkeys-lru".parse().unwrap()).await;
    let mut c = s.raw().await;
    let value = "v".repeat(10_000);
    let mut batch = Vec::new();
    for i in 0..2000 {
        batch.extend(encode(&["SET", &format!("key:{i}"), &value]));
    }
    c.send(&batch).await;
    c.expect(&b"+OK\r\n".repeat(2000)).await;
    c.call(&["DBSIZE"], b":2000\r\n").await;
    let used: u64 = info_field(&mut c, "memory", "used_memory")
        .await
        .parse()
        .unwrap();
    // 20 MB of values: a limit 10 MB below usage must evict, with no write to trigger it.
    let limit = (used - 10_000_000).to_string();
    c.call(&["CONFIG", "SET", "maxmemory", &limit], b"+OK\r\n")
        .await;
    c.cmd(&["DBSIZE"]).await;
    let n: u64 = read_line(&mut c).await[1..].parse().unwrap();
    assert!(n < 2000, "nothing evicted");
    let evicted: u64 = info_field(&mut c, "stats", "evicted_keys")
        .await
        .parse()
        .unwrap();
    assert_eq!(evicted, 2000 - n);
    // Inside EXEC every shard is held: the new limit waits for the next write.
    c.call(&["CONFIG", "SET", "maxmemory", "0"], b"+OK\r\n")
        .await;
    let used: u64 = info_field(&mut c, "memory", "used_memory")
        .await
        .parse()
        .unwrap();
    let limit = (used - 5_000_000).to_string();
    c.call(&["MULTI"], b"+OK\r\n").await;
    c.call(&["CONFIG", "SET", "maxmemory", &limit], b"+QUEUED\r\n")
        .await;
    c.call(&["DBSIZE"], b"+QUEUED\r\n").await;
    c.call(&["EXEC"], format!("*2\r\n+OK\r\n:{n}\r\n").as_bytes())
        .await;
    c.call(&["SET", "trigger", "1"], b"+OK\r\n").await;
    c.cmd(&["DBSIZE"]).await;
    let after: u64 = read_line(&mut c).await[1..].parse().unwrap();
    assert!(after < n, "the write after EXEC did not evict");
    c.call(&["CONFIG", "SET", "maxmemory", "0"], b"+OK\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxmemory_under_noeviction_refuses_writes() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SET", "a", "1"], b"+OK\r\n").await;
    c.call(&["CONFIG", "SET", "maxmemory", "1"], b"+OK\r\n")
        .await;
    c.call(
        &["SET", "b", "2"],
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    )
    .await;
    c.call(&["GET", "a"], b"$1\r\n1\r\n").await;
    c.call(&["DBSIZE"], b":1\r\n").await;
    c.call(&["CONFIG", "SET", "maxmemory", "0"], b"+OK\r\n")
        .await;
    c.call(&["SET", "b", "2"], b"+OK\r\n").await;
    let cmds = call_text(&mut c, &["INFO", "commandstats"]).await;
    assert!(cmds.contains("cmdstat_set:calls=2,"), "{cmds}");
    assert!(cmds.contains(",rejected_calls=1,failed_calls=0"), "{cmds}");
}
