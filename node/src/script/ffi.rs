//! `redis.call` and the other raising `redis.*` functions must be C functions: a script's
//! `return redis.call(…)` is then an ordinary call, not a Lua tail call that would drop the
//! script's own frame, and the error handler can report the script's line, as Redis does.
//! Each trampoline calls its Lua implementation (kept in the registry by the prelude), which
//! answers `(true, value)` or `(false, error)`, and raises the error itself.

#![allow(unsafe_code)]

use mlua::ffi::{self, lua_State};
use std::ffi::{c_int, CStr};

/// Registry keys of the implementations, in the order the prelude receives the trampolines.
pub const KEYS: [&CStr; 5] = [
    c"autocache.call",
    c"autocache.sha1hex",
    c"autocache.log",
    c"autocache.setresp",
    c"autocache.set_repl",
];

/// # Safety
/// Called by Lua as a C function. Nothing with a destructor is alive when `lua_error`
/// unwinds (longjmp) past this frame.
unsafe fn trampoline(l: *mut lua_State, key: &CStr) -> c_int {
    let n = ffi::lua_gettop(l);
    ffi::luaL_checkstack(l, 3, std::ptr::null());
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, key.as_ptr());
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, 2);
    if ffi::lua_toboolean(l, -2) != 0 {
        return 1;
    }
    ffi::lua_error(l)
}

macro_rules! trampolines {
    ($($name:ident => $i:expr),*) => {
        $(unsafe extern "C-unwind" fn $name(l: *mut lua_State) -> c_int {
            // SAFETY: see `trampoline`.
            unsafe { trampoline(l, KEYS[$i]) }
        })*
        /// The trampolines, in the order of [`KEYS`].
        pub const TRAMPOLINES: [ffi::lua_CFunction; 5] = [$($name),*];
    };
}

trampolines!(call => 0, sha1hex => 1, log => 2, setresp => 3, set_repl => 4);

/// The trampolines as Lua functions.
pub fn functions(lua: &mlua::Lua) -> mlua::Result<Vec<mlua::Function>> {
    TRAMPOLINES
        .iter()
        // SAFETY: each is a well-formed C function over the Lua stack (see `trampoline`).
        .map(|&f| unsafe { lua.create_c_function(f) })
        .collect()
}
