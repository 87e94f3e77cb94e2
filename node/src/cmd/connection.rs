//! Connection commands.

use super::{CmdResult, Ctx, Handler};
use autocache_proto::resp::Request;

pub const HANDLERS: &[(&str, Handler)] = &[("ping", ping), ("quit", quit)];

fn ping(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    match req.get(1) {
        Some(m) => ctx.out.bulk(m),
        None => ctx.out.simple("PONG"),
    }
    Ok(())
}

fn quit(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    ctx.out.ok();
    ctx.client.close = true;
    Ok(())
}
