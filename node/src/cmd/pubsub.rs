//! SUBSCRIBE / UNSUBSCRIBE / PSUBSCRIBE / PUNSUBSCRIBE / SSUBSCRIBE / SUNSUBSCRIBE / PUBLISH /
//! SPUBLISH / PUBSUB. Subscriptions live in the server's registry (`crate::pubsub`); the
//! connection writes each subscriber's outbox.

use super::{eq_ic, CmdResult, Ctx, Handler};
use crate::client::ClientState;
use crate::pubsub::{Kind, Outbox};
use crate::server::Server;
use autocache_proto::resp::{ReplyBuf, Request};
use bytes::Bytes;
use std::sync::Arc;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("subscribe", subscribe),
    ("unsubscribe", unsubscribe),
    ("psubscribe", psubscribe),
    ("punsubscribe", punsubscribe),
    ("ssubscribe", ssubscribe),
    ("sunsubscribe", sunsubscribe),
    ("publish", publish),
    ("spublish", spublish),
    ("pubsub", pubsub),
];

/// A connection's subscriptions.
#[derive(Debug, Default)]
pub struct Subscriptions {
    pub outbox: Option<Arc<Outbox>>,
    channels: Vec<Bytes>,
    patterns: Vec<Bytes>,
    shard: Vec<Bytes>,
}

impl Subscriptions {
    fn list(&mut self, kind: Kind) -> &mut Vec<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// Channels + patterns (what SUBSCRIBE/PSUBSCRIBE replies count).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether the connection is in subscriber mode (RESP2 restricts its commands).
    pub fn active(&self) -> bool {
        self.count() + self.shard.len() > 0
    }

    fn reply_count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.count(),
        }
    }
}

fn verbs(kind: Kind) -> (&'static [u8], &'static [u8]) {
    match kind {
        Kind::Channel => (b"subscribe", b"unsubscribe"),
        Kind::Pattern => (b"psubscribe", b"punsubscribe"),
        Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
    }
}

fn confirm(out: &mut ReplyBuf, verb: &[u8], name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(verb);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}

fn add(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, kind: Kind) -> CmdResult {
    let proto = ctx.out.proto;
    let id = ctx.client.handle.id;
    let outbox = ctx
        .client
        .subs
        .outbox
        .get_or_insert_with(|| Arc::new(Outbox::new(id, proto)))
        .clone();
    for name in req.iter().skip(1) {
        let list = ctx.client.subs.list(kind);
        if !list.iter().any(|n| n == name) {
            let name = Bytes::copy_from_slice(name);
            ctx.server.pubsub.subscribe(kind, &name, &outbox);
            list.push(name);
        }
        let count = ctx.client.subs.reply_count(kind);
        confirm(ctx.out, verbs(kind).0, Some(name), count);
    }
    Ok(())
}

fn remove(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, kind: Kind) -> CmdResult {
    let names: Vec<Bytes> = if req.len() > 1 {
        req.iter().skip(1).map(Bytes::copy_from_slice).collect()
    } else {
        ctx.client.subs.list(kind).clone()
    };
    let verb = verbs(kind).1;
    if names.is_empty() {
        let count = ctx.client.subs.reply_count(kind);
        confirm(ctx.out, verb, None, count);
        return Ok(());
    }
    for name in names {
        drop_one(ctx.server, ctx.client, kind, &name);
        let count = ctx.client.subs.reply_count(kind);
        confirm(ctx.out, verb, Some(&name), count);
    }
    Ok(())
}

fn drop_one(server: &Server, client: &mut ClientState, kind: Kind, name: &[u8]) {
    let list = client.subs.list(kind);
    if let Some(i) = list.iter().position(|n| n == name) {
        list.remove(i);
        if let Some(o) = &client.subs.outbox {
            server.pubsub.unsubscribe(kind, name, o);
        }
    }
}

/// Drops every subscription (disconnect, RESET).
pub fn unsubscribe_all(server: &Server, client: &mut ClientState) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in std::mem::take(client.subs.list(kind)) {
            if let Some(o) = &client.subs.outbox {
                server.pubsub.unsubscribe(kind, &name, o);
            }
        }
    }
    client.subs.outbox = None;
}

fn subscribe(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    add(ctx, req, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    add(ctx, req, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    add(ctx, req, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    remove(ctx, req, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    remove(ctx, req, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    remove(ctx, req, Kind::Shard)
}

fn publish(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.server.pubsub.publish(req.arg(1), req.arg(2));
    ctx.out.int(n as i64);
    Ok(())
}

fn spublish(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let n = ctx.server.pubsub.spublish(req.arg(1), req.arg(2));
    ctx.out.int(n as i64);
    Ok(())
}

fn pubsub(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> CmdResult {
    let ps = &ctx.server.pubsub;
    let sub = req.arg(1);
    if eq_ic(sub, "channels") || eq_ic(sub, "shardchannels") {
        let kind = if eq_ic(sub, "channels") {
            Kind::Channel
        } else {
            Kind::Shard
        };
        let names = ps.names(kind, req.get(2));
        ctx.out.array(names.len());
        for n in names {
            ctx.out.bulk(&n);
        }
    } else if eq_ic(sub, "numsub") || eq_ic(sub, "shardnumsub") {
        let kind = if eq_ic(sub, "numsub") {
            Kind::Channel
        } else {
            Kind::Shard
        };
        ctx.out.map(req.len() - 2);
        for ch in req.iter().skip(2) {
            ctx.out.bulk(ch);
            ctx.out.int(ps.count(kind, ch) as i64);
        }
    } else if eq_ic(sub, "numpat") {
        ctx.out.int(ps.numpat() as i64);
    } else {
        let lines = [
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ];
        ctx.out.array(lines.len());
        for l in lines {
            ctx.out.simple(l);
        }
    }
    Ok(())
}
