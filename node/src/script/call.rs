//! `redis.call` / `redis.pcall`: a script's command runs through the command table and the
//! handlers as a client's does, inside the script's hold on every shard, after Redis's
//! script checks (`scriptCall`): known command, arity, allowed in scripts, no writes from a
//! read-only script, memory, and in cluster mode keys of this node and of one slot.

use super::convert::{error_table, reply_to_lua};
use super::RunState;
use crate::client::ClientState;
use crate::cmd::{execute_held, implemented, Ctx};
use crate::db::{Clock, Db};
use crate::server::Server;
use autocache_proto::command::{self as table, flags};
use autocache_proto::resp::{OwnedRequest, Protocol, ReplyBuf, Request};
use autocache_proto::slot::key_slot;
use mlua::{Lua, MultiValue, Value};
use std::sync::atomic::Ordering::Relaxed;

/// What a script's commands run with.
pub struct Exec<'a, 'g> {
    pub server: &'g Server,
    pub db: Db<'a, 'g>,
    pub client: &'a mut ClientState,
    pub clock: Clock,
    pub run: &'a RunState,
    /// EVAL_RO / EVALSHA_RO, or a `no-writes` script.
    pub readonly: bool,
    /// Over maxmemory when the script started: commands that may grow memory are refused.
    pub oom: bool,
    /// Cluster mode: the slot the script's keys must share (its declared keys' or its first).
    pub slot: Option<u16>,
    pub cross_slot: bool,
}

/// `(true, reply)` or `(false, {err = …})`; the prelude raises the latter for `redis.call`.
pub fn redis_call(
    lua: &Lua,
    exec: &mut Exec<'_, '_>,
    args: MultiValue,
) -> mlua::Result<(bool, Value)> {
    let mut args = args.into_iter();
    let resp = match args.next() {
        Some(Value::Integer(3)) => Protocol::Resp3,
        Some(Value::Number(3.0)) => Protocol::Resp3,
        _ => Protocol::Resp2,
    };
    let mut argv: Vec<Vec<u8>> = Vec::with_capacity(args.len());
    for v in args {
        match v {
            Value::String(s) => argv.push(s.as_bytes().to_vec()),
            Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v)? {
                Some(s) => argv.push(s.as_bytes().to_vec()),
                None => {
                    return refused(
                        lua,
                        "ERR Lua redis lib command arguments must be strings or integers",
                    )
                }
            },
            _ => {
                return refused(
                    lua,
                    "ERR Lua redis lib command arguments must be strings or integers",
                )
            }
        }
    }
    if argv.is_empty() {
        return refused(
            lua,
            "ERR Please specify at least one argument for this redis lib call",
        );
    }
    let owned = OwnedRequest::from_args(&argv);
    let req = owned.as_request();
    if let Err(msg) = check(exec, &req) {
        return refused(lua, &msg);
    }
    let mut out = ReplyBuf {
        buf: Default::default(),
        proto: resp,
    };
    let mut ctx = Ctx {
        server: exec.server,
        db: exec.db.reborrow(),
        out: &mut out,
        client: &mut *exec.client,
        clock: exec.clock,
    };
    execute_held(&mut ctx, &req);
    reply_to_lua(lua, &out.buf)
}

fn refused(lua: &Lua, msg: &str) -> mlua::Result<(bool, Value)> {
    Ok((false, error_table(lua, msg)?))
}

/// Redis's checks before a script's command runs; the error is the `{err}` text.
fn check(exec: &mut Exec<'_, '_>, req: &Request<'_>) -> Result<(), String> {
    let spec = table::lookup(req.arg(0))
        .filter(|s| implemented(s))
        .and_then(|s| table::row_for(s, req.get(1)))
        .ok_or("ERR Unknown Redis command called from script")?;
    if !spec.arity_ok(req.len()) {
        return Err("ERR Wrong number of args calling Redis command from script".into());
    }
    if spec.has(flags::NOSCRIPT) {
        return Err("ERR This Redis command is not allowed from script".into());
    }
    let write = spec.has(flags::WRITE);
    if write && exec.readonly {
        return Err("ERR Write commands are not allowed from read-only scripts.".into());
    }
    if exec.oom && spec.has(flags::DENYOOM) {
        return Err("OOM command not allowed when used memory > 'maxmemory'.".into());
    }
    if exec.server.cluster.is_some() {
        check_cluster(exec, req)?;
    }
    if write {
        exec.run.wrote.store(true, Relaxed);
    }
    Ok(())
}

/// Keys of this node only, and (unless `allow-cross-slot-keys`) of the script's one slot.
fn check_cluster(exec: &mut Exec<'_, '_>, req: &Request<'_>) -> Result<(), String> {
    let Some(cluster) = exec.server.cluster.as_deref() else {
        return Ok(());
    };
    let mut keys = Vec::new();
    crate::cluster::redirect::collect_keys(req, &mut keys);
    let Some(first) = keys.first() else {
        return Ok(());
    };
    let slot = key_slot(first);
    let view = cluster.view();
    let local = keys.iter().all(|k| key_slot(k) == slot)
        && view.map.owner(slot).is_some()
        && view.map.owner(slot) == view.me;
    if !local {
        return Err("ERR Script attempted to access a non local key in a cluster node".into());
    }
    if !exec.cross_slot {
        match exec.slot {
            None => exec.slot = Some(slot),
            Some(s) if s != slot => {
                return Err(
                    "ERR Script attempted to access keys that do not hash to the same slot".into(),
                )
            }
            _ => {}
        }
    }
    Ok(())
}
