//! String commands.

use super::{CmdError, CmdResult, Ctx, Handler};
use crate::db::Entry;
use autocache_proto::resp::Request;

pub const HANDLERS: &[(&str, Handler)] = &[("get", get), ("set", set)];

fn get(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    match shard.get(slot, key, &ctx.clock) {
        None => ctx.out.null(),
        Some(e) => ctx.out.bulk(e.as_str().ok_or(CmdError::WrongType)?),
    }
    Ok(())
}

fn set(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    if req.len() != 3 {
        return Err(CmdError::Syntax);
    }
    let key = req.arg(1);
    let (mut shard, slot) = ctx.db.lock_key(key);
    shard.insert(slot, Entry::string(key, req.arg(2), 0, ctx.clock.initial_lru()));
    ctx.out.ok();
    Ok(())
}
