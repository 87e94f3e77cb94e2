//! Lua scripting (EVAL, EVALSHA, their `_RO` forms, SCRIPT) as Redis 7.0 runs it: Lua 5.1,
//! the `redis` library, KEYS and ARGV, Redis's conversions and error texts.
//!
//! A script runs with every shard held, as EXEC does, so no other client's command
//! interleaves; its commands go through the command table and handlers (`call.rs`). The
//! node has one Lua state (`vm.rs`), locked after the shards. A script that has not written
//! can be stopped by SCRIPT KILL; others get `-BUSY` once it has run past
//! `busy-reply-threshold` — but as other commands wait on the shards a script holds, a
//! runaway read-only script is stopped by the node itself at that point.

mod call;
mod convert;
mod ffi;
pub mod flags;
mod libs;
mod vm;

use crate::cmd::{CmdError, CmdResult, Ctx};
use crate::db::Db;
use autocache_proto::resp::Request;
use autocache_proto::slot::key_slot;
use mlua::{HookTriggers, MultiValue, Value, VmState};
use parking_lot::{MappedMutexGuard, Mutex, MutexGuard};
use std::cell::RefCell;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize};
use std::sync::Arc;

pub use vm::sha1_hex;

/// What other connections see of the running script.
#[derive(Default)]
pub struct RunState {
    /// When the running script started (ms since the epoch), 0 when none runs.
    since_ms: AtomicU64,
    kill: AtomicBool,
    /// The running script has called a write command (SCRIPT KILL refuses).
    wrote: AtomicBool,
    /// `busy-reply-threshold` (`lua-time-limit`), ms.
    pub threshold_ms: AtomicU64,
    /// The line the script was at when killed.
    killed_at: AtomicI64,
}

pub struct Scripts {
    vm: Mutex<Option<vm::Vm>>,
    /// Signalled when a script ends.
    ended: tokio::sync::Notify,
    pub run: Arc<RunState>,
    /// For INFO without the VM's lock (which a running script holds).
    pub cached: AtomicUsize,
    pub lua_memory: AtomicUsize,
    pub body_bytes: AtomicUsize,
}

impl Default for Scripts {
    fn default() -> Self {
        let run = Arc::new(RunState::default());
        run.threshold_ms.store(5000, Relaxed);
        Scripts {
            vm: Mutex::new(None),
            ended: tokio::sync::Notify::new(),
            run,
            cached: AtomicUsize::new(0),
            lua_memory: AtomicUsize::new(0),
            body_bytes: AtomicUsize::new(0),
        }
    }
}

/// Which script EVAL* names.
pub enum Source<'r> {
    Body(&'r [u8]),
    Sha(&'r [u8]),
}

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// A new Lua state whose hook stops the running script when SCRIPT KILL asks (or when it
/// passes busy-reply-threshold without having written).
fn new_vm(run: &Arc<RunState>) -> Result<vm::Vm, CmdError> {
    let vm = vm::Vm::new().map_err(|e| CmdError::msg(format!("ERR cannot start Lua: {e}")))?;
    let state = run.clone();
    vm.lua.set_hook(
        HookTriggers::new().every_nth_instruction(100_000),
        move |lua, _| {
            let since = state.since_ms.load(Relaxed);
            if since == 0 {
                return Ok(VmState::Continue);
            }
            let over =
                crate::db::now_ms().saturating_sub(since) >= state.threshold_ms.load(Relaxed);
            if over && !state.wrote.load(Relaxed) {
                state.kill.store(true, Relaxed);
            }
            if state.kill.load(Relaxed) {
                let line = (0..64)
                    .map_while(|level| lua.inspect_stack(level))
                    .find(|d| d.source().source.as_deref() == Some("@user_script"))
                    .map_or(-1, |d| d.curr_line());
                state.killed_at.store(line as i64, Relaxed);
                return Err(mlua::Error::runtime(
                    "Script killed by user with SCRIPT KILL...",
                ));
            }
            Ok(VmState::Continue)
        },
    );
    Ok(vm)
}

impl Scripts {
    /// The VM, created on first use, locked.
    fn lock_vm(&self) -> Result<MappedMutexGuard<'_, vm::Vm>, CmdError> {
        let mut g = self.vm.lock();
        if g.is_none() {
            *g = Some(new_vm(&self.run)?);
        }
        Ok(MutexGuard::map(g, |v| v.as_mut().expect("just created")))
    }

    /// Keeps what INFO shows of the VM outside its lock (a running script holds it).
    fn publish(&self, vm: &vm::Vm) {
        self.cached.store(vm.len(), Relaxed);
        self.body_bytes.store(vm.body_bytes, Relaxed);
        self.lua_memory.store(vm.lua.used_memory(), Relaxed);
    }

    fn with_vm<R>(&self, f: impl FnOnce(&mut vm::Vm) -> R) -> Result<R, CmdError> {
        let mut vm = self.lock_vm()?;
        let r = f(&mut vm);
        self.publish(&vm);
        Ok(r)
    }

    /// SCRIPT LOAD.
    pub fn load(&self, body: &[u8]) -> Result<String, CmdError> {
        self.with_vm(|vm| vm.load(body, false))?
            .map_err(CmdError::Msg)
    }

    /// SCRIPT EXISTS, per SHA.
    pub fn exists(&self, shas: &[&[u8]]) -> Result<Vec<bool>, CmdError> {
        self.with_vm(|vm| {
            shas.iter()
                .map(|s| vm.contains(&String::from_utf8_lossy(s).to_ascii_lowercase()))
                .collect()
        })
    }

    /// SCRIPT FLUSH: a new Lua state.
    pub fn flush(&self) -> Result<(), CmdError> {
        let fresh = new_vm(&self.run)?;
        self.with_vm(|vm| *vm = fresh)
    }

    /// SCRIPT KILL.
    pub fn kill(&self) -> Result<(), CmdError> {
        if self.run.since_ms.load(Relaxed) == 0 {
            return Err(CmdError::msg("NOTBUSY No scripts in execution right now."));
        }
        if self.run.wrote.load(Relaxed) {
            return Err(CmdError::msg(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            ));
        }
        self.run.kill.store(true, Relaxed);
        Ok(())
    }

    pub fn running(&self) -> bool {
        self.run.since_ms.load(Relaxed) != 0
    }

    /// Until the running script ends, or passes `busy-reply-threshold`.
    pub async fn wait(&self) {
        loop {
            let notified = self.ended.notified();
            let since = self.run.since_ms.load(Relaxed);
            if since == 0 {
                return;
            }
            let until = since + self.run.threshold_ms.load(Relaxed);
            let left = until.saturating_sub(crate::db::now_ms());
            if left == 0 {
                return;
            }
            let _ = tokio::time::timeout(std::time::Duration::from_millis(left), notified).await;
        }
    }

    /// A script has run past `busy-reply-threshold`: other commands get `-BUSY`.
    pub fn busy(&self) -> bool {
        let since = self.run.since_ms.load(Relaxed);
        since != 0
            && crate::db::now_ms().saturating_sub(since) >= self.run.threshold_ms.load(Relaxed)
    }
}

/// Commands served while a script runs past the threshold (Redis's `allow-busy` flag, of
/// the subcommand for containers: SCRIPT KILL, not SCRIPT LOAD).
pub fn allowed_while_busy(req: &Request<'_>) -> bool {
    use autocache_proto::command::{self as table, flags};
    table::lookup(req.arg(0))
        .and_then(|s| table::row_for(s, req.get(1)))
        .is_some_and(|s| s.has(flags::ALLOW_BUSY))
}

/// EVAL / EVALSHA (`readonly`: their `_RO` forms). `req`: name, script, numkeys, keys, args.
pub fn eval(
    ctx: &mut Ctx<'_, '_>,
    req: &Request<'_>,
    source: Source<'_>,
    readonly: bool,
) -> CmdResult {
    // On a multi-thread runtime the worker's other tasks move to another thread while the
    // script runs, so that SCRIPT KILL and new connections are served meanwhile.
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(|| eval_here(ctx, req, source, readonly))
    } else {
        eval_here(ctx, req, source, readonly)
    }
}

fn eval_here(
    ctx: &mut Ctx<'_, '_>,
    req: &Request<'_>,
    source: Source<'_>,
    readonly: bool,
) -> CmdResult {
    let numkeys = crate::cmd::parse_int(req.arg(2))?;
    let argc = req.len() as i64 - 3;
    if numkeys > argc {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::msg("ERR Number of keys can't be negative"));
    }
    let keys: Vec<&[u8]> = (3..3 + numkeys as usize).map(|i| req.arg(i)).collect();
    let args: Vec<&[u8]> = (3 + numkeys as usize..req.len())
        .map(|i| req.arg(i))
        .collect();
    let server = ctx.server;
    let mut oom = false;
    if !ctx.in_exec() {
        let max = server.settings.maxmemory.load(Relaxed);
        if max > 0 {
            oom = crate::cmd::free_memory(server, max).is_err();
        }
    }
    let mut held;
    let db = match &mut ctx.db {
        Db::Held(all) => Db::Held(all),
        Db::Free(ks) => {
            held = ks.lock_all();
            Db::Held(&mut held)
        }
    };
    let scripts = &server.scripts;
    let mut guard = scripts.lock_vm()?;
    let vm = &mut *guard;
    let (sha, func, flags) = match source {
        Source::Body(body) => {
            let sha = vm.load(body, true).map_err(CmdError::Msg)?;
            let (f, fl) = vm.get(&sha).expect("just loaded");
            (sha, f, fl)
        }
        Source::Sha(sha) => {
            let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
            let Some((f, fl)) = (sha.len() == 40).then(|| vm.get(&sha)).flatten() else {
                return Err(CmdError::msg(NOSCRIPT));
            };
            (sha, f, fl)
        }
    };
    if flags.shebang && readonly && !flags.no_writes {
        return Err(CmdError::msg(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    if flags.no_cluster && server.cluster.is_some() {
        return Err(CmdError::msg(
            "ERR Can not run script on cluster, 'no-cluster' flag is set.",
        ));
    }
    if flags.shebang && !flags.allow_oom && !flags.no_writes && oom {
        return Err(CmdError::Oom);
    }
    let lua = &vm.lua;
    let set_globals = || -> mlua::Result<()> {
        let g = lua.globals();
        g.raw_set(
            "KEYS",
            lua.create_sequence_from(
                keys.iter()
                    .map(|k| lua.create_string(k))
                    .collect::<mlua::Result<Vec<_>>>()?,
            )?,
        )?;
        g.raw_set(
            "ARGV",
            lua.create_sequence_from(
                args.iter()
                    .map(|a| lua.create_string(a))
                    .collect::<mlua::Result<Vec<_>>>()?,
            )?,
        )?;
        Ok(())
    };
    set_globals().map_err(|e| CmdError::msg(format!("ERR {}", vm::lua_message(&e))))?;
    let run = &*scripts.run;
    run.kill.store(false, Relaxed);
    run.wrote.store(false, Relaxed);
    run.since_ms.store(crate::db::now_ms().max(1), Relaxed);
    let exec = RefCell::new(call::Exec {
        server,
        db,
        client: &mut *ctx.client,
        clock: ctx.clock,
        run,
        readonly: readonly || flags.no_writes,
        oom: oom && !flags.allow_oom,
        slot: keys.first().map(|k| key_slot(k)),
        cross_slot: flags.allow_cross_slot_keys,
    });
    let result = lua.scope(|scope| {
        let f = scope.create_function(|lua, args: MultiValue| {
            call::redis_call(lua, &mut exec.borrow_mut(), args)
        })?;
        vm.install.call::<()>(f)?;
        let r = vm.xpcall.call::<MultiValue>((func, vm.handler.clone()));
        let resp: u8 = vm.resp.call(())?;
        vm.install.call::<()>(Value::Nil)?;
        Ok((r, resp))
    });
    run.since_ms.store(0, Relaxed);
    scripts.ended.notify_waiters();
    let killed = run.kill.swap(false, Relaxed);
    scripts.publish(vm);
    if killed {
        return Err(CmdError::msg(format!(
            "ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:{}.",
            run.killed_at.load(Relaxed)
        )));
    }
    let (result, resp) = match result {
        Ok((r, resp)) => (r, resp),
        Err(e) => (Err(e), 2),
    };
    let mut values = match result {
        Ok(v) => v.into_iter(),
        Err(e) => {
            return Err(CmdError::msg(format!(
                "ERR Error running script {sha}, {:.100}",
                vm::lua_message(&e)
            )))
        }
    };
    let ok = matches!(values.next(), Some(Value::Boolean(true)));
    let value = values.next().unwrap_or(Value::Nil);
    if ok {
        convert::lua_to_reply(ctx.out, &value, resp);
        return Ok(());
    }
    Err(CmdError::Msg(error_message(&value, &sha)))
}

/// The reply text of a script's error (Redis's `luaExtractErrorInformation`): the error's
/// text, then where it happened.
fn error_message(err: &Value, sha: &str) -> String {
    let Value::Table(t) = err else {
        return format!("ERR Error running script {sha}, execution failure");
    };
    let text = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy().to_string(),
        _ => "ERR unknown error".to_string(),
    };
    let source = t.raw_get::<Option<mlua::String>>("source").ok().flatten();
    let line = t.raw_get::<Value>("line").ok().filter(|v| !v.is_nil());
    match (source, line) {
        (Some(src), Some(line)) => {
            let line = match line {
                Value::Integer(n) => n.to_string(),
                Value::Number(n) => format!("{n}"),
                other => other.to_string().unwrap_or_default(),
            };
            format!("{text} script: {sha}, on {}:{line}.", src.to_string_lossy())
        }
        _ => text,
    }
}
