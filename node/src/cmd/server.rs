//! Server commands.

use super::{CmdResult, Ctx, Handler};
use autocache_proto::resp::Request;

pub const HANDLERS: &[(&str, Handler)] = &[("dbsize", dbsize)];

fn dbsize(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    let n = ctx.db.len();
    ctx.out.int(n as i64);
    Ok(())
}
