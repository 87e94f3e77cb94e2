//! MULTI / EXEC / DISCARD / WATCH / UNWATCH. EXEC holds every shard lock while it runs, so
//! no other client's command interleaves; WATCH registers a flag that any write to a watched
//! key sets (the shard's write hook), and EXEC aborts with a null array when it is set.

use super::{execute_held, CmdError, CmdResult, Ctx, Handler};
use crate::client::ClientState;
use crate::db::Db;
use crate::server::Server;
use autocache_proto::command::{flags, CommandSpec};
use autocache_proto::resp::{ReplyBuf, Request};
use autocache_proto::slot::key_slot;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("discard", discard),
    ("watch", watch),
    ("unwatch", unwatch),
];

/// Commands that act at once even inside MULTI.
pub fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Queues a command inside MULTI (after the arity check, which flags the transaction).
pub fn queue(client: &mut ClientState, out: &mut ReplyBuf, spec: &CommandSpec, req: &Request<'_>) {
    if spec.has(flags::NO_MULTI) {
        client.multi_error = true;
        out.error("ERR Command not allowed inside a transaction");
        return;
    }
    let q = client.multi.as_mut().expect("inside MULTI");
    q.push(req.to_owned());
    client.handle.multi.store(q.len() as i64, Relaxed);
    out.simple("QUEUED");
}

fn multi(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::msg("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.client.handle.multi.store(0, Relaxed);
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::msg("ERR DISCARD without MULTI"));
    }
    ctx.client.multi_error = false;
    ctx.client.handle.multi.store(-1, Relaxed);
    unwatch_in(&mut ctx.db, ctx.client);
    ctx.out.ok();
    Ok(())
}

fn exec(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    let Some(queue) = ctx.client.multi.take() else {
        return Err(CmdError::msg("ERR EXEC without MULTI"));
    };
    ctx.client.handle.multi.store(-1, Relaxed);
    if std::mem::take(&mut ctx.client.multi_error) {
        unwatch_in(&mut ctx.db, ctx.client);
        return Err(CmdError::msg(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let server = ctx.server;
    let mut guards = server.keyspace.lock_all();
    let mut db = Db::Held(&mut guards);
    let now = ctx.clock.ms;
    let stale = ctx.client.watch_flag.load(Acquire)
        || ctx
            .client
            .watched
            .iter()
            .any(|(_, at)| *at != 0 && *at <= now);
    unwatch_in(&mut db, ctx.client);
    if stale {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(queue.len());
    let mut inner = Ctx {
        server,
        db,
        out: ctx.out,
        client: ctx.client,
        clock: ctx.clock,
    };
    for q in &queue {
        execute_held(&mut inner, &q.as_request());
    }
    Ok(())
}

fn watch(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::msg("ERR WATCH inside MULTI is not allowed"));
    }
    for key in req.iter().skip(1) {
        if ctx.client.watched.iter().any(|(k, _)| &**k == key) {
            continue;
        }
        let (mut shard, slot) = ctx.db.lock_key(key);
        let at = shard
            .peek(slot, key, ctx.clock.ms)
            .map_or(0, |e| e.expire_at());
        shard.watch(key, ctx.client.watch_flag.clone());
        drop(shard);
        ctx.client.watched.push((key.into(), at));
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_, '_>, _req: &Request<'_>) -> CmdResult {
    unwatch_in(&mut ctx.db, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Forgets every WATCH of this client and resets its flag.
fn unwatch_in(db: &mut Db<'_, '_>, client: &mut ClientState) {
    for (key, _) in client.watched.drain(..) {
        let mut shard = db.lock(key_slot(&key));
        shard.unwatch(&key, &client.watch_flag);
    }
    client.watch_flag.store(false, Release);
}

/// A rejected EXEC (wrong arity, NOAUTH, a subscriber's context): as Redis, the transaction
/// is discarded (its watches too) and the reason comes back as `EXECABORT`.
pub fn abort_exec(server: &Server, client: &mut ClientState, out: &mut ReplyBuf, reason: &str) {
    client.multi = None;
    client.multi_error = false;
    client.handle.multi.store(-1, Relaxed);
    unwatch_all(server, client);
    let reason = reason.strip_prefix("ERR ").unwrap_or(reason);
    out.error(&format!(
        "EXECABORT Transaction discarded because of: {reason}"
    ));
}

/// On disconnect.
pub fn unwatch_all(server: &Server, client: &mut ClientState) {
    unwatch_in(&mut Db::Free(&server.keyspace), client);
}
