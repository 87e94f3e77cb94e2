//! COMMAND, answered from the shared command table.

use super::{CmdResult, Ctx, Handler};
use autocache_proto::resp::Request;

pub const HANDLERS: &[(&str, Handler)] = &[("command", command)];

fn command(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let args: Vec<&[u8]> = req.iter().collect();
    autocache_proto::command::command_command(&args, ctx.out);
    Ok(())
}
