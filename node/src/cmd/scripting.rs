//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT; the scripting itself is `crate::script`.

use super::connection::reply_help;
use super::{eq_ic, CmdError, CmdResult, Ctx, Handler};
use crate::script::{self, Source};
use autocache_proto::resp::Request;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("eval", eval),
    ("evalsha", evalsha),
    ("eval_ro", eval_ro),
    ("evalsha_ro", evalsha_ro),
    ("script", script_cmd),
];

fn eval(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    script::eval(ctx, req, Source::Body(req.arg(1)), false)
}

fn evalsha(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    script::eval(ctx, req, Source::Sha(req.arg(1)), false)
}

fn eval_ro(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    script::eval(ctx, req, Source::Body(req.arg(1)), true)
}

fn evalsha_ro(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    script::eval(ctx, req, Source::Sha(req.arg(1)), true)
}

const SCRIPT_HELP: &[&str] = &[
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
];

fn script_cmd(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let scripts = &ctx.server.scripts;
    let sub = req.arg(1);
    if eq_ic(sub, "load") {
        let sha = scripts.load(req.arg(2))?;
        ctx.out.bulk(sha.as_bytes());
    } else if eq_ic(sub, "exists") {
        let shas: Vec<&[u8]> = req.iter().skip(2).collect();
        let found = scripts.exists(&shas)?;
        ctx.out.array(found.len());
        for f in found {
            ctx.out.int(f as i64);
        }
    } else if eq_ic(sub, "flush") {
        let mode_ok = match req.len() {
            2 => true,
            3 => eq_ic(req.arg(2), "sync") || eq_ic(req.arg(2), "async"),
            _ => false,
        };
        if !mode_ok {
            return Err(CmdError::msg(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ));
        }
        scripts.flush()?;
        ctx.out.ok();
    } else if eq_ic(sub, "kill") {
        scripts.kill()?;
        ctx.out.ok();
    } else if eq_ic(sub, "help") {
        reply_help(ctx.out, "script", SCRIPT_HELP);
    } else {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand '{}'. Try SCRIPT HELP.",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(())
}
