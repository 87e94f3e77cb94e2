//! Command execution: lookup in the shared table, the checks every command passes (arity,
//! AUTH, MULTI queueing, maxmemory), then the family's handler. One module per family; each
//! lists its handlers in a `HANDLERS` table keyed by the command's name.

pub mod bitmap;
pub mod cluster;
pub mod collection;
pub mod command;
pub mod connection;
pub mod hash;
pub mod keys;
pub mod list;
pub mod long_double;
pub mod pubsub;
pub mod scan_util;
pub mod scripting;
pub mod server;
pub mod set;
pub mod string;
pub mod transaction;
pub mod zset;

use crate::client::ClientState;
use crate::db::{evict, Clock, Db};
use crate::server::Server;
use autocache_proto::command::{self as table, flags, CommandSpec, COMMANDS};
use autocache_proto::resp::{Protocol, ReplyBuf, Request};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;

/// What a handler works with.
pub struct Ctx<'a, 'g> {
    pub server: &'g Server,
    pub db: Db<'a, 'g>,
    pub out: &'a mut ReplyBuf,
    pub client: &'a mut ClientState,
    pub clock: Clock,
}

impl Ctx<'_, '_> {
    pub fn resp3(&self) -> bool {
        self.out.proto == Protocol::Resp3
    }

    /// Inside EXEC (every shard held): blocking commands must not block.
    pub fn in_exec(&self) -> bool {
        matches!(self.db, Db::Held(_))
    }

    /// Called by a blocking command that has nothing to serve now: the connection parks on
    /// `keys` and re-runs the request when one of them is written, or answers `reply` when
    /// `timeout` (None = forever) passes. Inside MULTI/EXEC it answers `reply` at once.
    pub fn block(
        &mut self,
        keys: &[&[u8]],
        timeout: Option<std::time::Duration>,
        reply: TimeoutReply,
    ) -> CmdResult {
        if self.in_exec() {
            reply.write_unblocked(self.out);
            return Ok(());
        }
        self.client.block = Some(crate::blocking::BlockRequest {
            keys: keys.iter().map(|&k| k.into()).collect(),
            timeout,
            reply,
        });
        Ok(())
    }
}

pub use crate::blocking::{parse_timeout, TimeoutReply};

pub type CmdResult = Result<(), CmdError>;
pub type Handler = fn(&mut Ctx<'_, '_>, &Request<'_>) -> CmdResult;

/// An error a client sees. The text is Redis's, code included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdError {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR value is out of range, must be positive")]
    NotPositive,
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(String),
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(&'static str),
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    Oom,
    /// Any other text, code included (`ERR …`, `NOAUTH …`).
    #[error("{0}")]
    Msg(String),
}

impl CmdError {
    pub fn msg(s: impl Into<String>) -> CmdError {
        CmdError::Msg(s.into())
    }
}

/// The handler of each command, indexed like `COMMANDS`.
fn handlers() -> &'static [Option<Handler>] {
    static TABLE: OnceLock<Vec<Option<Handler>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut v: Vec<Option<Handler>> = vec![None; COMMANDS.len()];
        let families: [&[(&str, Handler)]; 14] = [
            cluster::HANDLERS,
            string::HANDLERS,
            bitmap::HANDLERS,
            keys::HANDLERS,
            server::HANDLERS,
            connection::HANDLERS,
            command::HANDLERS,
            transaction::HANDLERS,
            hash::HANDLERS,
            list::HANDLERS,
            set::HANDLERS,
            zset::HANDLERS,
            pubsub::HANDLERS,
            scripting::HANDLERS,
        ];
        for (name, h) in families.into_iter().flatten() {
            let spec = table::lookup(name.as_bytes())
                .unwrap_or_else(|| panic!("handler for '{name}' has no row in the command table"));
            v[table::position(spec)] = Some(*h);
        }
        v
    })
}

/// Whether the node has a handler for `spec` (COMMAND lists only what runs).
pub fn implemented(spec: &CommandSpec) -> bool {
    handlers()[table::position(spec)].is_some()
}

fn unknown_command(req: &Request<'_>) -> String {
    let mut msg = format!(
        "ERR unknown command '{}', with args beginning with: ",
        String::from_utf8_lossy(req.arg(0))
    );
    for a in req.iter().skip(1).take(20) {
        msg.push('\'');
        msg.push_str(&String::from_utf8_lossy(&a[..a.len().min(128)]));
        msg.push_str("' ");
    }
    msg
}

/// Resolves the command and checks arity, including a subcommand's. Returns the spec whose
/// handler runs (the parent's for subcommands) and the full name for statistics.
pub fn resolve(req: &Request<'_>) -> Result<&'static CommandSpec, CmdError> {
    let spec = match table::lookup(req.arg(0)) {
        Some(s) if implemented(s) => s,
        _ => return Err(CmdError::Msg(unknown_command(req))),
    };
    if !spec.arity_ok(req.len()) {
        return Err(CmdError::Arity(spec.name.to_string()));
    }
    if !spec.subcommands.is_empty() && req.len() >= 2 {
        match table::lookup_sub(spec, req.arg(1)) {
            Some(sub) if !sub.arity_ok(req.len()) => {
                return Err(CmdError::Arity(sub.name.to_string()))
            }
            Some(_) => {}
            None => {
                return Err(CmdError::Msg(format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    String::from_utf8_lossy(req.arg(1)),
                    spec.name.to_ascii_uppercase()
                )))
            }
        }
    }
    Ok(spec)
}

/// Executes one request for a client, appending its reply to `out`.
pub fn execute(server: &Server, client: &mut ClientState, out: &mut ReplyBuf, req: &Request<'_>) {
    let spec = match resolve(req) {
        Ok(s) => s,
        Err(e) => {
            return reject(
                server,
                client,
                out,
                eq_ic(req.arg(0), "exec"),
                &e.to_string(),
            )
        }
    };
    let idx = table::position(spec);
    client.handle.last_cmd.store(idx + 1, Relaxed);
    let exec = spec.name == "exec";
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        return reject(server, client, out, exec, "NOAUTH Authentication required.");
    }
    if client.subs.active() && out.proto == Protocol::Resp2 && !spec.has(flags::PUBSUB_CONTEXT) {
        let msg = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        );
        return reject(server, client, out, exec, &msg);
    }
    // Cluster mode: redirect or refuse by the slot map; the gate lives until the command ends.
    use crate::cluster::redirect::{admit, Admission};
    let Admission::Run(_gate) = admit(server, client, spec, req, out) else {
        return;
    };
    if client.multi.is_some() && !transaction::runs_inside_multi(spec) {
        transaction::queue(client, out, spec, req);
        return;
    }
    if server.scripts.busy() && !crate::script::allowed_while_busy(req) {
        return reject(
            server,
            client,
            out,
            exec,
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        );
    }
    if let Err(e) = check_memory(server, spec) {
        server.stats.commands[idx].rejected.fetch_add(1, Relaxed);
        out.error(&e.to_string());
        return;
    }
    let handler = handlers()[idx].expect("resolve returns implemented commands");
    let start = client.timer.unwrap_or_else(std::time::Instant::now);
    let mut ctx = Ctx {
        server,
        db: Db::Free(&server.keyspace),
        out,
        client,
        clock: server.clock(),
    };
    let result = handler(&mut ctx, req);
    let stats = &server.stats.commands[idx];
    stats.calls.fetch_add(1, Relaxed);
    let end = std::time::Instant::now();
    let elapsed = end - start;
    if ctx.client.timer.is_some() {
        ctx.client.timer = Some(end);
    }
    stats.usec.fetch_add(elapsed.as_micros() as u64, Relaxed);
    stats.latency.observe(elapsed);
    if let Err(e) = result {
        stats.failed.fetch_add(1, Relaxed);
        ctx.out.error(&e.to_string());
    }
}

/// A command refused before it runs. Inside MULTI that dooms the transaction (EXEC answers
/// EXECABORT); a refused EXEC discards it at once, as Redis's `rejectCommand` does.
fn reject(server: &Server, client: &mut ClientState, out: &mut ReplyBuf, exec: bool, msg: &str) {
    if exec {
        return transaction::abort_exec(server, client, out, msg);
    }
    if client.multi.is_some() {
        client.multi_error = true;
    }
    out.error(msg);
}

/// Runs one command inside EXEC, with every shard already locked.
pub fn execute_held(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) {
    let spec = match resolve(req) {
        Ok(s) => s,
        Err(e) => return ctx.out.error(&e.to_string()),
    };
    let idx = table::position(spec);
    let handler = handlers()[idx].expect("resolve returns implemented commands");
    let stats = &ctx.server.stats.commands[idx];
    stats.calls.fetch_add(1, Relaxed);
    if let Err(e) = handler(ctx, req) {
        stats.failed.fetch_add(1, Relaxed);
        ctx.out.error(&e.to_string());
    }
}

/// Before a command that may grow memory: evict per policy until under maxmemory, or refuse.
/// Tiered, reads grow memory too (a miss brings its key up from the warm tier): as Redis
/// evicts before every command, any command over the limit demotes first, refusing none.
pub fn check_memory(server: &Server, spec: &CommandSpec) -> CmdResult {
    let max = server.settings.maxmemory.load(Relaxed);
    if max == 0 {
        return Ok(());
    }
    if spec.has(flags::DENYOOM) {
        return free_memory(server, max);
    }
    if server.keyspace.is_tiered() {
        let _ = free_memory(server, max);
    }
    Ok(())
}

pub fn free_memory(server: &Server, max: u64) -> CmdResult {
    // Under the limit, as nearly always: done before reading the clock.
    if server.memory.for_eviction() <= max {
        return Ok(());
    }
    let policy = server.settings.policy();
    let clock = server.clock();
    let samples = server.settings.maxmemory_samples.load(Relaxed) as usize;
    // Bounded: one command never evicts forever.
    for _ in 0..10_000 {
        match evict::evict_one(&server.keyspace, policy, &clock, samples) {
            Some(freed) => server.memory.freed(freed as u64),
            None => return Err(CmdError::Oom),
        }
        if server.memory.for_eviction() <= max {
            return Ok(());
        }
    }
    Err(CmdError::Oom)
}

// ---- argument helpers shared by the families ----

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn eq_ic(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A strict integer argument (`ERR value is not an integer or out of range`).
pub fn parse_int(arg: &[u8]) -> Result<i64, CmdError> {
    autocache_proto::resp::parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// Writes an array of bulk strings.
pub fn reply_bulks<'b>(out: &mut ReplyBuf, items: impl ExactSizeIterator<Item = &'b [u8]>) {
    out.array(items.len());
    for i in items {
        out.bulk(i);
    }
}
