//! CLUSTER, ASKING, READONLY, READWRITE. A standalone node answers them as a Redis started
//! without `cluster-enabled`; cluster mode (with a control service) replaces these handlers'
//! answers with the slot map's.

use super::{CmdError, CmdResult, Ctx, Handler};
use autocache_proto::resp::Request;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("cluster", disabled),
    ("asking", disabled),
    ("readonly", disabled),
    ("readwrite", disabled),
];

fn disabled(_ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    Err(CmdError::msg("ERR This instance has cluster support disabled"))
}
