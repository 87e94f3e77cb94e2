//! Commands the proxy answers itself: connection state (AUTH, HELLO, SELECT, CLIENT …),
//! COMMAND from the shared table, its own INFO, TIME, and CLUSTER as seen by a cluster-aware
//! client: one node (the proxy) owning every slot. Transaction verbs act on the connection's
//! MULTI state (`front`); CONFIG, OBJECT HELP and PUBSUB introspection go to the nodes.

use std::sync::atomic::Ordering::Relaxed;

use autocache_proto::command::{command_command, CommandSpec};
use autocache_proto::resp::{parse_i64, ReplyBuf};
use autocache_proto::slot::{key_slot, SLOT_COUNT};
use autocache_proto::slotmap::{Health, NodeEntry, SlotMap};
use bytes::Bytes;

use crate::fanout::{self, Merge};
use crate::front::{ClientHandle, Conn};
use crate::{error, Proxy};

/// The Redis version the proxy reports (as the nodes do).
pub const REDIS_VERSION: &str = "7.0.15";

/// Whether `name` (a table row name, `parent|sub` for subcommands) is answered here.
pub fn handles(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "echo"
            | "select"
            | "quit"
            | "reset"
            | "auth"
            | "hello"
            | "command"
            | "info"
            | "time"
            | "asking"
            | "readonly"
            | "readwrite"
            | "multi"
            | "exec"
            | "discard"
            | "unwatch"
            | "config"
            | "client"
            | "cluster"
            | "pubsub"
            | "object"
    ) || name.starts_with("client|")
        || name.starts_with("command|")
        || name.starts_with("cluster|")
        || name.starts_with("config|")
        || name.starts_with("pubsub|")
        || name.starts_with("script|")
        || name == "object|help"
}

pub async fn run(conn: &mut Conn, spec: &'static CommandSpec, args: Vec<Bytes>) {
    let mut out = ReplyBuf::new(conn.proto);
    match spec.name {
        "ping" => ping(&args, &mut out),
        "echo" => out.bulk(&args[1]),
        "select" => select(&args, &mut out),
        "quit" => {
            out.ok();
            conn.close = true;
        }
        "reset" => {
            conn.reset_state();
            out.simple("RESET");
        }
        "auth" => auth(conn, &args, &mut out),
        "hello" => return hello(conn, &args),
        "command" | "command|count" | "command|info" | "command|list" | "command|docs"
        | "command|getkeys" | "command|help" => {
            let refs: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
            command_command(&refs, &mut out);
        }
        "info" => return info(conn, &args).await,
        "time" => time(&mut out),
        "asking" | "readonly" | "readwrite" => out.ok(),
        "multi" => return conn.multi(),
        "exec" => return conn.exec().await,
        "discard" => return conn.discard(),
        "unwatch" => return conn.unwatch(),
        "config|get" | "object|help" => return conn.any_node(args),
        "config|set" | "config|resetstat" => return conn.all_nodes(args, Merge::AllOk),
        "pubsub|channels" | "pubsub|shardchannels" => return conn.all_nodes(args, Merge::Concat),
        "pubsub|numpat" => return conn.all_nodes(args, Merge::Sum),
        "pubsub|numsub" | "pubsub|shardnumsub" => return conn.all_nodes(args, Merge::PairSum),
        // Every node gets the script, so that EVALSHA finds it whichever slot it routes by.
        "script|load" => return conn.all_nodes(args, Merge::Same),
        "script|flush" => return conn.all_nodes(args, Merge::AllOk),
        "script|exists" => return conn.all_nodes(args, Merge::AllOf),
        "script|kill" => return conn.all_nodes(args, Merge::AnyOk),
        name if name.starts_with("client") => client(conn, name, &args, &mut out),
        name if name.starts_with("cluster") => return cluster(conn, name, &args, out),
        // Containers called bare or with HELP: the nodes answer HELP the same way.
        _ => return conn.any_node(args),
    }
    conn.push(out.buf.freeze());
}

fn ping(args: &[Bytes], out: &mut ReplyBuf) {
    if args.len() > 2 {
        return out.error("ERR wrong number of arguments for 'ping' command");
    }
    match args.get(1) {
        Some(msg) => out.bulk(msg),
        None => out.simple("PONG"),
    }
}

/// Only database 0 exists, as in Redis Cluster.
fn select(args: &[Bytes], out: &mut ReplyBuf) {
    match parse_i64(&args[1]) {
        None => out.error("ERR value is not an integer or out of range"),
        Some(id) if i32::try_from(id).is_err() => {
            out.error("ERR value is out of range, value must between -2147483648 and 2147483647")
        }
        Some(0) => out.ok(),
        Some(_) => out.error("ERR DB index is out of range"),
    }
}

/// Only the `default` user exists; without a password it is `nopass`.
fn credentials_ok(proxy: &Proxy, user: &[u8], pass: &[u8]) -> bool {
    let required = proxy.config.requirepass.as_bytes();
    user == b"default" && (required.is_empty() || required == pass)
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn auth(conn: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    let (user, pass): (&[u8], &[u8]) = match args.len() {
        2 => {
            if conn.proxy.config.requirepass.is_empty() {
                return out.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            }
            (b"default", &args[1])
        }
        3 => (&args[1], &args[2]),
        _ => return out.error("ERR syntax error"),
    };
    if !credentials_ok(&conn.proxy, user, pass) {
        return out.error(WRONGPASS);
    }
    conn.authenticated = true;
    out.ok();
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`.
fn hello(conn: &mut Conn, args: &[Bytes]) {
    let mut out = ReplyBuf::new(conn.proto);
    if let Err(e) = hello_apply(conn, args) {
        out.error(&e);
        return conn.push(out.buf.freeze());
    }
    out.proto = conn.proto;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.resp3() { 3 } else { 2 });
    out.bulk(b"id");
    out.int(conn.handle.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    conn.push(out.buf.freeze());
}

fn hello_apply(conn: &mut Conn, args: &[Bytes]) -> Result<(), String> {
    let mut version = None;
    if args.len() >= 2 {
        let v =
            parse_i64(&args[1]).ok_or("ERR Protocol version is not an integer or out of range")?;
        if !(2..=3).contains(&v) {
            return Err("NOPROTO unsupported protocol version".into());
        }
        version = Some(v as u8);
    }
    let (mut credentials, mut name) = (None, None);
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
            credentials = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
            name = Some(&args[i + 1]);
            i += 2;
        } else {
            return Err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    if let Some((user, pass)) = credentials {
        if !credentials_ok(&conn.proxy, user, pass) {
            return Err(WRONGPASS.into());
        }
        conn.authenticated = true;
    }
    if !conn.authenticated {
        return Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into());
    }
    if let Some(name) = name {
        set_name(&conn.handle, name)?;
    }
    if let Some(v) = version {
        conn.set_protocol(v);
    }
    Ok(())
}

fn time(out: &mut ReplyBuf) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    out.array(2);
    out.bulk(now.as_secs().to_string().as_bytes());
    out.bulk(now.subsec_micros().to_string().as_bytes());
}

// ---- CLIENT ----

fn client(conn: &mut Conn, name: &str, args: &[Bytes], out: &mut ReplyBuf) {
    let h = &conn.handle;
    match name {
        "client|id" => out.int(h.id as i64),
        "client|setname" => match set_name(h, &args[2]) {
            Ok(()) => out.ok(),
            Err(e) => out.error(&e),
        },
        "client|getname" => match &*h.name.lock() {
            Some(n) => out.bulk(n),
            None => out.null(),
        },
        "client|list" => client_list(&conn.proxy, args, out),
        "client|info" => out.verbatim(format!("{}\n", client_info(h)).as_bytes()),
        "client|kill" => client_kill(&conn.proxy, h.id, args, out),
        "client|setinfo" => client_setinfo(h, args, out),
        "client|no-evict" => {
            if args[2].eq_ignore_ascii_case(b"on") || args[2].eq_ignore_ascii_case(b"off") {
                out.ok()
            } else {
                out.error("ERR syntax error")
            }
        }
        "client|reply" if args[2].eq_ignore_ascii_case(b"on") => out.ok(),
        "client|reply" => out.error("ERR CLIENT REPLY OFF|SKIP is not supported by the proxy"),
        _ => {
            out.array(7);
            out.simple("CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
            for l in [
                "GETNAME",
                "ID",
                "INFO",
                "KILL <ip:port> | ID <id> | ADDR <ip:port>",
                "LIST [TYPE NORMAL | ID <id> ...]",
                "SETNAME <name>",
            ] {
                out.simple(l);
            }
        }
    }
}

/// Names may not break CLIENT LIST's format: printable ASCII without spaces.
fn set_name(h: &ClientHandle, name: &[u8]) -> Result<(), String> {
    if !printable(name) {
        return Err(
            "ERR Client names cannot contain spaces, newlines or special characters.".into(),
        );
    }
    *h.name.lock() = (!name.is_empty()).then(|| Bytes::copy_from_slice(name));
    Ok(())
}

fn printable(s: &[u8]) -> bool {
    s.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

fn client_setinfo(h: &ClientHandle, args: &[Bytes], out: &mut ReplyBuf) {
    let field = if args[2].eq_ignore_ascii_case(b"lib-name") {
        &h.lib_name
    } else if args[2].eq_ignore_ascii_case(b"lib-ver") {
        &h.lib_ver
    } else {
        return out.error(&format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(&args[2])
        ));
    };
    if !printable(&args[3]) {
        return out.error(&format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(&args[2])
        ));
    }
    *field.lock() = String::from_utf8_lossy(&args[3]).into_owned();
    out.ok();
}

fn client_list(proxy: &Proxy, args: &[Bytes], out: &mut ReplyBuf) {
    let all = proxy.clients.all();
    let mut text = String::new();
    let wanted: Option<Vec<i64>> = if args.len() > 3 && args[2].eq_ignore_ascii_case(b"id") {
        match args[3..]
            .iter()
            .map(|a| parse_i64(a))
            .collect::<Option<Vec<_>>>()
        {
            Some(ids) => Some(ids),
            None => return out.error("ERR Invalid client ID"),
        }
    } else if args.len() == 4 && args[2].eq_ignore_ascii_case(b"type") {
        if args[3].eq_ignore_ascii_case(b"normal") {
            None
        } else {
            Some(Vec::new())
        }
    } else if args.len() != 2 {
        return out.error("ERR syntax error");
    } else {
        None
    };
    for h in &all {
        if wanted
            .as_ref()
            .is_none_or(|ids| ids.contains(&(h.id as i64)))
        {
            text.push_str(&client_info(h));
            text.push('\n');
        }
    }
    out.verbatim(text.as_bytes());
}

/// One CLIENT LIST line, in Redis 7's field order; buffers the proxy does not track read 0.
fn client_info(h: &ClientHandle) -> String {
    let name = h.name.lock().clone().unwrap_or_default();
    let sub = h.subscribed.load(Relaxed);
    let flags = match (h.multi.load(Relaxed), sub) {
        (true, _) => "x",
        (_, true) => "P",
        _ => "N",
    };
    format!(
        "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub={} psub=0 ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        h.id,
        h.addr,
        h.laddr,
        String::from_utf8_lossy(&name),
        h.created.elapsed().as_secs(),
        h.last_active.lock().elapsed().as_secs(),
        flags,
        u8::from(sub),
        if h.multi.load(Relaxed) { 0 } else { -1 },
        h.last_cmd.lock(),
        h.resp.load(Relaxed),
        h.lib_name.lock(),
        h.lib_ver.lock(),
    )
}

/// `CLIENT KILL ip:port` (old form: +OK or an error) or `CLIENT KILL ID id | ADDR ip:port`
/// (new form: how many were killed).
fn client_kill(proxy: &Proxy, me: u64, args: &[Bytes], out: &mut ReplyBuf) {
    let all = proxy.clients.all();
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(&args[2]);
        return match all.iter().find(|h| h.addr.to_string() == addr) {
            Some(h) => {
                h.killed.notify_one();
                out.ok()
            }
            None => out.error("ERR No such client"),
        };
    }
    if !args.len().is_multiple_of(2) {
        return out.error("ERR syntax error");
    }
    let mut killed = 0;
    let mut skipme = true;
    let mut filters: Vec<(String, String)> = Vec::new();
    for pair in args[2..].chunks(2) {
        let key = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let val = String::from_utf8_lossy(&pair[1]).into_owned();
        match key.as_str() {
            "id" if val.parse::<u64>().is_err() => {
                return out.error("ERR client-id should be greater than 0")
            }
            "skipme" => skipme = !val.eq_ignore_ascii_case("no"),
            "id" | "addr" | "laddr" => filters.push((key, val)),
            _ => return out.error("ERR syntax error"),
        }
    }
    for h in &all {
        if skipme && h.id == me {
            continue;
        }
        let hit = filters.iter().all(|(k, v)| match k.as_str() {
            "id" => h.id.to_string() == *v,
            "addr" => h.addr.to_string() == *v,
            _ => h.laddr.to_string() == *v,
        });
        if hit {
            h.killed.notify_one();
            killed += 1;
        }
    }
    out.int(killed);
}

// ---- INFO ----

async fn info(conn: &mut Conn, args: &[Bytes]) {
    let sections: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let want = |s: &str| {
        sections.is_empty()
            || sections
                .iter()
                .any(|x| x == s || x == "all" || x == "everything" || x == "default")
    };
    let mut text = String::new();
    if want("server") {
        server_section(&conn.proxy, &mut text);
    }
    if want("clients") {
        clients_section(&conn.proxy, &mut text);
    }
    if want("stats") {
        stats_section(&conn.proxy, &mut text);
    }
    let keyspace = if want("keyspace") {
        // Waits for the nodes: earlier replies go out first.
        let _ = conn.flush().await;
        Some(fanout::keyspace(&conn.proxy).await)
    } else {
        None
    };
    if let Some(ks) = keyspace {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        text.push_str("# Keyspace\r\n");
        if let Some((keys, expires)) = ks.filter(|(k, _)| *k > 0) {
            text.push_str(&format!("db0:keys={keys},expires={expires},avg_ttl=0\r\n"));
        }
    }
    let mut out = ReplyBuf::new(conn.proto);
    out.verbatim(text.as_bytes());
    conn.push(out.buf.freeze());
}

fn section(text: &mut String, title: &str, fields: &[(&str, String)]) {
    if !text.is_empty() {
        text.push_str("\r\n");
    }
    text.push_str(&format!("# {title}\r\n"));
    for (k, v) in fields {
        text.push_str(&format!("{k}:{v}\r\n"));
    }
}

fn server_section(p: &Proxy, text: &mut String) {
    let uptime = p.started.elapsed().as_secs();
    section(
        text,
        "Server",
        &[
            ("redis_version", REDIS_VERSION.into()),
            ("redis_mode", "standalone".into()),
            ("autocache_role", "proxy".into()),
            ("os", std::env::consts::OS.into()),
            ("arch_bits", (usize::BITS).to_string()),
            ("process_id", std::process::id().to_string()),
            ("run_id", p.run_id.clone()),
            ("tcp_port", p.addr.port().to_string()),
            ("uptime_in_seconds", uptime.to_string()),
            ("uptime_in_days", (uptime / 86400).to_string()),
            ("slot_map_epoch", p.router.map().epoch.to_string()),
        ],
    );
}

fn clients_section(p: &Proxy, text: &mut String) {
    let all = p.clients.all();
    let pubsub = all.iter().filter(|h| h.subscribed.load(Relaxed)).count();
    section(
        text,
        "Clients",
        &[
            ("connected_clients", all.len().to_string()),
            ("maxclients", p.config.maxclients.to_string()),
            ("pubsub_clients", pubsub.to_string()),
        ],
    );
}

fn stats_section(p: &Proxy, text: &mut String) {
    let s = &p.stats;
    section(
        text,
        "Stats",
        &[
            (
                "total_connections_received",
                s.connections_received.load(Relaxed).to_string(),
            ),
            (
                "total_commands_processed",
                s.commands_processed.load(Relaxed).to_string(),
            ),
            (
                "rejected_connections",
                s.rejected_connections.load(Relaxed).to_string(),
            ),
            (
                "redirects_followed",
                s.redirects_followed.load(Relaxed).to_string(),
            ),
            ("nodes_serving", p.router.serving_nodes().len().to_string()),
        ],
    );
}

// ---- CLUSTER ----

/// The proxy as a cluster-aware client sees it: one node, itself, owning every slot.
fn self_map(p: &Proxy) -> SlotMap {
    let me = NodeEntry {
        id: p.run_id.clone(),
        resp_addr: p.addr.to_string(),
        grpc_addr: p.addr.to_string(),
        health: Health::Healthy,
    };
    SlotMap::single_node(me, p.router.map().epoch.max(1))
}

fn cluster(conn: &mut Conn, name: &str, args: &[Bytes], mut out: ReplyBuf) {
    let p = conn.proxy.clone();
    match name {
        "cluster|slots" => cluster_slots(&p, &mut out),
        "cluster|shards" => cluster_shards(&p, &mut out),
        "cluster|nodes" => out.verbatim(self_map(&p).cluster_nodes(Some(0)).as_bytes()),
        "cluster|myid" => out.bulk(p.run_id.as_bytes()),
        "cluster|info" => out.verbatim(cluster_info(&p).as_bytes()),
        "cluster|keyslot" => out.int(key_slot(&args[2]) as i64),
        "cluster|countkeysinslot" | "cluster|getkeysinslot" => return slot_query(conn, args),
        _ => {
            out.array(4);
            out.simple("CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
            out.simple("SLOTS | SHARDS | NODES | MYID | INFO | KEYSLOT <key>");
            out.simple("COUNTKEYSINSLOT <slot> | GETKEYSINSLOT <slot> <count>");
            out.simple("HELP");
        }
    }
    conn.push(out.buf.freeze());
}

/// COUNTKEYSINSLOT / GETKEYSINSLOT: asked of the slot's owner.
fn slot_query(conn: &mut Conn, args: &[Bytes]) {
    let slot = parse_i64(&args[2]).filter(|s| (0..SLOT_COUNT as i64).contains(s));
    let Some(slot) = slot else {
        return conn.push(error(b"ERR Invalid slot"));
    };
    let reply = conn.proxy.start_slot(
        slot as u16,
        args.to_vec(),
        None,
        conn.resp(),
        Some(conn.stream_key),
    );
    conn.push_fut(reply);
}

fn cluster_slots(p: &Proxy, out: &mut ReplyBuf) {
    let ranges = self_map(p).cluster_slots();
    out.array(ranges.len());
    for r in ranges {
        out.array(2 + r.nodes.len());
        out.int(r.start as i64);
        out.int(r.end as i64);
        for n in r.nodes {
            out.array(4);
            out.bulk(n.ip.as_bytes());
            out.int(n.port as i64);
            out.bulk(n.id.as_bytes());
            out.map(0);
        }
    }
}

fn cluster_shards(p: &Proxy, out: &mut ReplyBuf) {
    let shards = self_map(p).cluster_shards();
    out.array(shards.len());
    for s in shards {
        out.map(2);
        out.bulk(b"slots");
        out.array(s.slots.len() * 2);
        for (a, b) in &s.slots {
            out.int(*a as i64);
            out.int(*b as i64);
        }
        out.bulk(b"nodes");
        out.array(s.nodes.len());
        for n in s.nodes {
            out.map(7);
            out.bulk(b"id");
            out.bulk(n.id.as_bytes());
            out.bulk(b"port");
            out.int(n.port as i64);
            out.bulk(b"ip");
            out.bulk(n.ip.as_bytes());
            out.bulk(b"endpoint");
            out.bulk(n.endpoint.as_bytes());
            out.bulk(b"role");
            out.bulk(n.role.as_bytes());
            out.bulk(b"replication-offset");
            out.int(n.replication_offset);
            out.bulk(b"health");
            out.bulk(n.health.as_bytes());
        }
    }
}

/// CLUSTER INFO: ok when the real map assigns every slot.
fn cluster_info(p: &Proxy) -> String {
    let map = p.router.map();
    let assigned = map.owners().iter().filter(|o| o.is_some()).count();
    let state = if assigned == SLOT_COUNT { "ok" } else { "fail" };
    format!(
        "cluster_state:{state}\r\ncluster_slots_assigned:{SLOT_COUNT}\r\ncluster_slots_ok:{assigned}\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:{}\r\ncluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:{e}\r\ncluster_my_epoch:{e}\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
        SLOT_COUNT - assigned,
        e = map.epoch,
    )
}
