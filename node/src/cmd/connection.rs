//! Connection commands: PING, ECHO, SELECT, QUIT, RESET, AUTH, HELLO and CLIENT. They act on
//! the calling connection's state (`ClientState`, its `ClientHandle`) or, for CLIENT LIST and
//! KILL, on the registry of connected clients; none of them touches the keyspace.

use super::{eq_ic, parse_int, CmdError, CmdResult, Ctx, Handler};
use crate::client::ClientHandle;
use autocache_proto::command::COMMANDS;
use autocache_proto::resp::{parse_i64, Protocol, ReplyBuf, Request};
use bytes::Bytes;
use std::sync::atomic::Ordering::Relaxed;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("select", select),
    ("quit", quit),
    ("reset", reset),
    ("auth", auth),
    ("hello", hello),
    ("client", client),
];

/// Redis's `addReplyHelp`: a header naming the command, the lines, and the HELP footer.
pub fn reply_help(out: &mut ReplyBuf, command: &str, lines: &[&str]) {
    out.array(lines.len() + 3);
    out.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        command.to_ascii_uppercase()
    ));
    for line in lines {
        out.simple(line);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

fn ping(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    if req.len() > 2 {
        return Err(CmdError::Arity("ping".into()));
    }
    // A RESP2 subscriber can only receive arrays: Redis answers ["pong", msg].
    if ctx.client.subs.active() && !ctx.resp3() {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(req.get(1).unwrap_or_default());
    } else if let Some(msg) = req.get(1) {
        ctx.out.bulk(msg);
    } else {
        ctx.out.simple("PONG");
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    ctx.out.bulk(req.arg(1));
    Ok(())
}

/// Only database 0 exists: the keyspace is partitioned by slot, as in Redis Cluster.
fn select(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let id = parse_int(req.arg(1))?;
    if i32::try_from(id).is_err() {
        return Err(CmdError::msg(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    if id != 0 {
        return Err(CmdError::msg("ERR DB index is out of range"));
    }
    ctx.out.ok();
    Ok(())
}

fn quit(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    ctx.out.ok();
    ctx.client.close = true;
    Ok(())
}

/// Back to a fresh connection's state: no transaction, WATCH or subscription, no name, RESP2,
/// and AUTH owed again when a password is set.
fn reset(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    let client = &mut *ctx.client;
    client.multi = None;
    client.multi_error = false;
    client.handle.multi.store(-1, Relaxed);
    super::transaction::unwatch_all(ctx.server, client);
    super::pubsub::unsubscribe_all(ctx.server, client);
    *client.handle.name.lock() = None;
    set_protocol(ctx, 2);
    ctx.client.authenticated = !ctx.server.settings.auth_required();
    ctx.out.simple("RESET");
    Ok(())
}

fn set_protocol(ctx: &mut Ctx<'_, '_>, version: u8) {
    ctx.out.proto = if version == 3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    };
    ctx.client.handle.resp.store(version, Relaxed);
}

/// Whether `user`/`pass` name the only user there is, `default`. Without a password the
/// default user is `nopass`: any password matches.
fn credentials_ok(ctx: &Ctx<'_, '_>, user: &[u8], pass: &[u8]) -> bool {
    let required = ctx.server.settings.requirepass.read();
    user == b"default" && (required.is_empty() || required.as_bytes() == pass)
}

fn wrongpass() -> CmdError {
    CmdError::msg("WRONGPASS invalid username-password pair or user is disabled.")
}

fn auth(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let (user, pass): (&[u8], &[u8]) = match req.len() {
        2 => {
            if !ctx.server.settings.auth_required() {
                return Err(CmdError::msg(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            (b"default", req.arg(1))
        }
        3 => (req.arg(1), req.arg(2)),
        _ => return Err(CmdError::Syntax),
    };
    if !credentials_ok(ctx, user, pass) {
        return Err(wrongpass());
    }
    ctx.client.authenticated = true;
    ctx.out.ok();
    Ok(())
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`: authenticates, names and switches the
/// protocol in one step, then describes the server in the (new) protocol.
fn hello(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let mut version = None;
    if req.len() >= 2 {
        let v = parse_i64(req.arg(1)).ok_or_else(|| {
            CmdError::msg("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::msg("NOPROTO unsupported protocol version"));
        }
        version = Some(v as u8);
    }
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < req.len() {
        let more = req.len() - 1 - i;
        let opt = req.arg(i);
        if eq_ic(opt, "auth") && more >= 2 {
            credentials = Some((req.arg(i + 1), req.arg(i + 2)));
            i += 3;
        } else if eq_ic(opt, "setname") && more >= 1 {
            name = Some(req.arg(i + 1));
            i += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if let Some((user, pass)) = credentials {
        if !credentials_ok(ctx, user, pass) {
            return Err(wrongpass());
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err(CmdError::msg(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = name {
        set_name(ctx.client.handle.as_ref(), name)?;
    }
    if let Some(v) = version {
        set_protocol(ctx, v);
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::info::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.resp3() { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.handle.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

// ---- CLIENT ----

const CLIENT_HELP: &[&str] = &[
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients of specified IDs only.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set the client library name or version, as CLIENT LIST reports them.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];

fn client(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let sub = req.arg(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"id" => {
            ctx.out.int(ctx.client.handle.id as i64);
            Ok(())
        }
        b"setname" => {
            set_name(&ctx.client.handle, req.arg(2))?;
            ctx.out.ok();
            Ok(())
        }
        b"getname" => {
            match &*ctx.client.handle.name.lock() {
                Some(name) => ctx.out.bulk(name),
                None => ctx.out.null(),
            }
            Ok(())
        }
        b"list" => client_list(ctx, req),
        b"info" => {
            let mut line = client_info(&ctx.client.handle);
            line.push('\n');
            ctx.out.verbatim(line.as_bytes());
            Ok(())
        }
        b"kill" => client_kill(ctx, req),
        b"setinfo" => client_setinfo(ctx, req),
        b"no-evict" => {
            // Client eviction (maxmemory-clients) does not exist here; the flag is accepted
            // for the clients that send it.
            if !eq_ic(req.arg(2), "on") && !eq_ic(req.arg(2), "off") {
                return Err(CmdError::Syntax);
            }
            ctx.out.ok();
            Ok(())
        }
        b"help" => {
            reply_help(ctx.out, "client", CLIENT_HELP);
            Ok(())
        }
        _ => Err(CmdError::msg(format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(req.arg(1))
        ))),
    }
}

/// Names may not break CLIENT LIST's space-separated format: printable ASCII only. An empty
/// name removes the name.
fn set_name(handle: &ClientHandle, name: &[u8]) -> CmdResult {
    if !printable(name) {
        return Err(CmdError::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *handle.name.lock() = (!name.is_empty()).then(|| Bytes::copy_from_slice(name));
    Ok(())
}

fn printable(s: &[u8]) -> bool {
    s.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

fn client_setinfo(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let attr = req.arg(2);
    let value = req.arg(3);
    let field = if eq_ic(attr, "lib-name") {
        &ctx.client.handle.lib_name
    } else if eq_ic(attr, "lib-ver") {
        &ctx.client.handle.lib_ver
    } else {
        return Err(CmdError::msg(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )));
    };
    if !printable(value) {
        return Err(CmdError::msg(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(attr)
        )));
    }
    // Printable ASCII, so valid UTF-8.
    *field.lock() = String::from_utf8_lossy(value).into_owned();
    ctx.out.ok();
    Ok(())
}

/// Redis's client types; every connection here is a `normal` one.
fn type_matches_normal(name: &[u8]) -> Result<bool, CmdError> {
    if eq_ic(name, "normal") {
        Ok(true)
    } else if ["master", "replica", "slave", "pubsub"]
        .iter()
        .any(|t| eq_ic(name, t))
    {
        Ok(false)
    } else {
        Err(CmdError::msg(format!(
            "ERR Unknown client type '{}'",
            String::from_utf8_lossy(name)
        )))
    }
}

fn client_list(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let all = ctx.server.clients.all();
    let mut text = String::new();
    let mut add = |h: &ClientHandle| {
        text.push_str(&client_info(h));
        text.push('\n');
    };
    if req.len() == 4 && eq_ic(req.arg(2), "type") {
        if type_matches_normal(req.arg(3))? {
            all.iter().for_each(|h| add(h));
        }
    } else if req.len() > 3 && eq_ic(req.arg(2), "id") {
        let mut ids = Vec::with_capacity(req.len() - 3);
        for arg in req.iter().skip(3) {
            ids.push(parse_i64(arg).ok_or_else(|| CmdError::msg("ERR Invalid client ID"))?);
        }
        for id in ids {
            if let Some(h) = all.iter().find(|h| h.id as i64 == id) {
                add(h);
            }
        }
    } else if req.len() != 2 {
        return Err(CmdError::Syntax);
    } else {
        all.iter().for_each(|h| add(h));
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// One CLIENT LIST line, in Redis 7's field order. Buffers this server does not keep per
/// client (argv, multi, reply lists) read 0; `fd` is not tracked and reads -1.
pub fn client_info(h: &ClientHandle) -> String {
    let name = h.name.lock().clone().unwrap_or_default();
    let multi = h.multi.load(Relaxed);
    let qbuf = h.qbuf.load(Relaxed);
    let omem = h.omem.load(Relaxed);
    const READ_BUF: usize = 16 * 1024;
    let cmd = match h.last_cmd.load(Relaxed) {
        0 => "NULL",
        i => COMMANDS.get(i - 1).map_or("NULL", |c| c.name),
    };
    format!(
        "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        h.id,
        h.addr,
        h.laddr,
        String::from_utf8_lossy(&name),
        h.created.elapsed().as_secs(),
        h.idle().as_secs(),
        if multi >= 0 { "x" } else { "N" },
        multi,
        qbuf,
        READ_BUF.saturating_sub(qbuf),
        READ_BUF.max(qbuf),
        qbuf,
        omem,
        READ_BUF.max(qbuf) + omem,
        cmd,
        h.resp.load(Relaxed),
        h.lib_name.lock(),
        h.lib_ver.lock(),
    )
}

/// Which connections a CLIENT KILL names; unset filters match everything.
#[derive(Default)]
struct KillFilter<'r> {
    id: Option<u64>,
    addr: Option<&'r [u8]>,
    laddr: Option<&'r [u8]>,
    normal: Option<bool>,
    skipme: bool,
}

impl KillFilter<'_> {
    fn matches(&self, h: &ClientHandle, me: u64) -> bool {
        self.id.is_none_or(|id| h.id == id)
            && self.addr.is_none_or(|a| h.addr.to_string().as_bytes() == a)
            && self
                .laddr
                .is_none_or(|a| h.laddr.to_string().as_bytes() == a)
            && self.normal.unwrap_or(true)
            && !(self.skipme && h.id == me)
    }
}

fn kill_filter<'r>(req: &Request<'r>) -> Result<KillFilter<'r>, CmdError> {
    let mut f = KillFilter {
        skipme: true,
        ..Default::default()
    };
    let mut i = 2;
    while i < req.len() {
        let opt = req.arg(i);
        let Some(value) = req.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        if eq_ic(opt, "id") {
            match parse_i64(value) {
                Some(id) if id >= 1 => f.id = Some(id as u64),
                _ => return Err(CmdError::msg("ERR client-id should be greater than 0")),
            }
        } else if eq_ic(opt, "type") {
            f.normal = Some(type_matches_normal(value)?);
        } else if eq_ic(opt, "addr") {
            f.addr = Some(value);
        } else if eq_ic(opt, "laddr") {
            f.laddr = Some(value);
        } else if eq_ic(opt, "user") {
            if value != b"default" {
                return Err(CmdError::msg(format!(
                    "ERR No such user '{}'",
                    String::from_utf8_lossy(value)
                )));
            }
        } else if eq_ic(opt, "skipme") {
            f.skipme = if eq_ic(value, "yes") {
                true
            } else if eq_ic(value, "no") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(f)
}

/// `CLIENT KILL addr:port` (may kill the caller; `+OK` or "No such client") or the filter
/// form (skips the caller unless `SKIPME no`; answers the count). The caller, when killed,
/// closes after this reply.
fn client_kill(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let old_form = req.len() == 3;
    let filter = if old_form {
        KillFilter {
            addr: Some(req.arg(2)),
            ..Default::default()
        }
    } else {
        kill_filter(req)?
    };
    let me = ctx.client.handle.id;
    let mut killed = 0;
    for h in ctx.server.clients.all() {
        if !filter.matches(&h, me) {
            continue;
        }
        if h.id == me {
            ctx.client.close = true;
        } else {
            h.kill();
        }
        killed += 1;
    }
    if !old_form {
        ctx.out.int(killed);
    } else if killed == 0 {
        return Err(CmdError::msg("ERR No such client"));
    } else {
        ctx.out.ok();
    }
    Ok(())
}
