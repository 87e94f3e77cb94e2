//! The node's Lua 5.1 state and its script cache: the libraries Redis loads, the prelude
//! (`prelude.lua`), and compiled scripts by SHA1. Scripts loaded by EVAL are kept up to
//! [`EVAL_SCRIPTS`] (least recently used go first, as Redis 7.4 does); SCRIPT LOAD's stay
//! until SCRIPT FLUSH.

use super::flags::ScriptFlags;
use mlua::{ChunkMode, Function, Lua, LuaOptions, StdLib, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// How many scripts EVAL may leave in the cache; beyond, the least recently used goes.
pub const EVAL_SCRIPTS: usize = 500;
/// A script's Lua heap may not grow past this (the script fails with "not enough memory").
pub const LUA_MEMORY_LIMIT: usize = 1 << 30;

pub struct Script {
    pub func: Function,
    pub flags: ScriptFlags,
    body_len: usize,
    /// Loaded by EVAL (evictable), not SCRIPT LOAD.
    from_eval: bool,
    used: u64,
}

pub struct Vm {
    pub lua: Lua,
    /// Installs a script's `redis.call` implementation (or nil).
    pub install: Function,
    /// The running script's RESP version (`redis.setresp`).
    pub resp: Function,
    pub handler: Function,
    /// Gives a compiled script the read-only view of the globals.
    sandbox: Function,
    pub xpcall: Function,
    scripts: HashMap<String, Script>,
    tick: u64,
    /// Bytes of script bodies held (INFO's used_memory_scripts_eval).
    pub body_bytes: usize,
}

impl Vm {
    pub fn new() -> mlua::Result<Vm> {
        // The debug library is "unsafe" to mlua (it can break the VM's invariants from Lua).
        // SAFETY: the debug library is taken by the prelude (its `debug = nil` hides it from
        // scripts, as Redis does); nothing else unsafe is loaded (no io, os, package, ffi).
        #[allow(unsafe_code)]
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        lua.set_memory_limit(LUA_MEMORY_LIMIT)?;
        super::libs::register(&lua)?;
        // Redis's PRNG behind `math.random`: 7.0 never seeds it (rand.c's initial state),
        // nor before every script.
        let rand = Arc::new(AtomicU64::new(RAND_INITIAL));
        let sha1hex = lua.create_function(|lua, v: Value| {
            let bytes = match lua.coerce_string(v)? {
                Some(s) => s.as_bytes().to_vec(),
                None => Vec::new(),
            };
            Ok(sha1_hex(&bytes))
        })?;
        let log = lua.create_function(|_, (level, msg): (i64, mlua::String)| {
            let msg = msg.to_string_lossy();
            match level {
                3 => tracing::warn!(target: "script", "{msg}"),
                2 => tracing::info!(target: "script", "{msg}"),
                _ => tracing::debug!(target: "script", "{msg}"),
            }
            Ok(())
        })?;
        let r = rand.clone();
        let rand_fn = lua.create_function(move |_, ()| Ok(lrand48(&r)))?;
        let r = rand.clone();
        let srand_fn = lua.create_function(move |_, seed: i64| {
            r.store(srand48(seed as i32), Relaxed);
            Ok(())
        })?;
        let mut args = vec![sha1hex, log, rand_fn, srand_fn];
        args.extend(super::ffi::functions(&lua)?);
        let (install, resp, handler, sandbox): (Function, Function, Function, Function) = lua
            .load(include_str!("prelude.lua"))
            .set_name("=autocache")
            .set_mode(ChunkMode::Text)
            .call(mlua::MultiValue::from_iter(
                args.into_iter().map(Value::Function),
            ))?;
        let xpcall = lua.globals().raw_get("xpcall")?;
        Ok(Vm {
            lua,
            install,
            resp,
            handler,
            sandbox,
            xpcall,
            scripts: HashMap::new(),
            tick: 0,
            body_bytes: 0,
        })
    }

    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    pub fn contains(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    /// The cached script `sha` (lower-case hex), marked used.
    pub fn get(&mut self, sha: &str) -> Option<(Function, ScriptFlags)> {
        self.tick += 1;
        let s = self.scripts.get_mut(sha)?;
        s.used = self.tick;
        Some((s.func.clone(), s.flags))
    }

    /// Compiles `body` (unless cached) and caches it; returns its SHA1. The error is Redis's
    /// reply text.
    pub fn load(&mut self, body: &[u8], from_eval: bool) -> Result<String, String> {
        let sha = sha1_hex(body);
        self.tick += 1;
        if let Some(s) = self.scripts.get_mut(&sha) {
            s.used = self.tick;
            // SCRIPT LOAD of a script EVAL brought pins it.
            s.from_eval &= from_eval;
            return Ok(sha);
        }
        let (flags, skip) = super::flags::parse_shebang(body)?;
        // The shebang line is dropped but its line feed kept, so line numbers stay the user's.
        let func = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| {
                format!(
                    "ERR Error compiling script (new function): {}",
                    lua_message(&e)
                )
            })?;
        self.sandbox
            .call::<()>(&func)
            .map_err(|e| format!("ERR {}", lua_message(&e)))?;
        if from_eval {
            self.evict_eval_scripts();
        }
        self.body_bytes += body.len();
        self.scripts.insert(
            sha.clone(),
            Script {
                func,
                flags,
                body_len: body.len(),
                from_eval,
                used: self.tick,
            },
        );
        Ok(sha)
    }

    /// Keeps EVAL's scripts under [`EVAL_SCRIPTS`] (one more is about to come).
    fn evict_eval_scripts(&mut self) {
        let evictable = self.scripts.values().filter(|s| s.from_eval).count();
        if evictable < EVAL_SCRIPTS {
            return;
        }
        let oldest = self
            .scripts
            .iter()
            .filter(|(_, s)| s.from_eval)
            .min_by_key(|(_, s)| s.used)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            if let Some(s) = self.scripts.remove(&k) {
                self.body_bytes -= s.body_len;
            }
        }
    }
}

/// The text of a Lua error (syntax errors and errors raised as strings).
pub fn lua_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        other => other.to_string(),
    }
}

pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

// ---- redisLrand48 / redisSrand48 (drand48's generator) ----

const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
const MASK48: u64 = (1 << 48) - 1;
/// rand.c's `x = { X0, X1, X2 }` before any seed.
const RAND_INITIAL: u64 = 0x1234_ABCD_330E;

fn srand48(seed: i32) -> u64 {
    (((seed as u32 as u64) << 16) | 0x330E) & MASK48
}

/// A number in [0, 1), as Redis's `redis_math_random` computes it.
fn lrand48(state: &AtomicU64) -> f64 {
    let x = (A.wrapping_mul(state.load(Relaxed)).wrapping_add(C)) & MASK48;
    state.store(x, Relaxed);
    let r = (x >> 17) as i64;
    const MAX: i64 = i32::MAX as i64;
    (r % MAX) as f64 / MAX as f64
}
