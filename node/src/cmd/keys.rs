//! Generic key commands.

use super::{CmdResult, Ctx, Handler};
use autocache_proto::resp::Request;

pub const HANDLERS: &[(&str, Handler)] = &[("del", del)];

fn del(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let mut n = 0;
    let mut m = ctx.db.lock_keys(req.iter().skip(1));
    for key in req.iter().skip(1) {
        let (shard, slot) = m.for_key(key);
        if shard.remove(slot, key).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}
