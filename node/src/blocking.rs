//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN …): a handler that finds nothing to serve asks
//! to block; the connection then parks on the keys' wait queues until a write to one of them
//! wakes it, re-runs the same request from scratch, and parks again if it still finds
//! nothing (keeping its place: first come, first served). The deadline is fixed when it
//! first blocks.

use crate::db::{Db, Waiter};
use crate::server::Server;
use autocache_proto::resp::{OwnedRequest, ReplyBuf};
use autocache_proto::slot::key_slot;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a blocked command answers when its timeout passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReply {
    /// BLPOP, BRPOP, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP.
    Pop,
    /// BLMOVE, BRPOPLPUSH.
    Move,
}

impl TimeoutReply {
    /// On timeout: `*-1` (RESP2) / `_` (RESP3) from every blocking command, BLMOVE and
    /// BRPOPLPUSH included (redis-server 7.0 answers those `*-1` too, whatever their docs say).
    pub fn write(self, out: &mut ReplyBuf) {
        out.null_array();
    }

    /// Where a command may not block (inside MULTI) and finds nothing: a move answers a
    /// null bulk there, as in Redis.
    pub fn write_unblocked(self, out: &mut ReplyBuf) {
        match self {
            TimeoutReply::Pop => out.null_array(),
            TimeoutReply::Move => out.null(),
        }
    }
}

/// A handler's request to block, picked up by the connection after the command returns.
#[derive(Debug)]
pub struct BlockRequest {
    pub keys: Vec<Box<[u8]>>,
    pub timeout: Option<Duration>,
    pub reply: TimeoutReply,
}

/// A connection parked on keys.
#[derive(Debug)]
pub struct Blocked {
    pub keys: Vec<Box<[u8]>>,
    pub deadline: Option<Instant>,
    pub reply: TimeoutReply,
    pub request: OwnedRequest,
    pub waiter: Arc<Waiter>,
    registered: bool,
}

impl Blocked {
    /// Parks `request`; its deadline starts now. (A request that blocks again after a
    /// wake-up keeps its `Blocked`: same deadline, same place in the queues.)
    pub fn new(req: BlockRequest, request: OwnedRequest) -> Blocked {
        Blocked {
            keys: req.keys,
            // Past what a clock can hold (hundreds of millions of years): forever.
            deadline: req.timeout.and_then(|t| Instant::now().checked_add(t)),
            reply: req.reply,
            request,
            waiter: Arc::new(Waiter::default()),
            registered: false,
        }
    }

    /// Joins the wait queues of its keys (once).
    pub fn register(&mut self, server: &Server) {
        if self.registered {
            return;
        }
        let mut db = Db::Free(&server.keyspace);
        for key in &self.keys {
            db.lock(key_slot(key)).block(key, self.waiter.clone());
        }
        self.registered = true;
        server.stats.blocked_clients.fetch_add(1, Relaxed);
    }

    /// Leaves the wait queues, handing the turn to whoever waits next.
    pub fn unregister(&mut self, server: &Server) {
        if !self.registered {
            return;
        }
        let mut db = Db::Free(&server.keyspace);
        for key in &self.keys {
            db.lock(key_slot(key)).unblock(key, &self.waiter);
        }
        self.registered = false;
        server.stats.blocked_clients.fetch_sub(1, Relaxed);
    }
}

/// Parses a blocking timeout in seconds as Redis 7.0 does: a long double (hexadecimal too)
/// rounded up to whole milliseconds with C's cast, so that only 0 means forever, and values
/// past the cast's range (infinities included) come out negative.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, crate::cmd::CmdError> {
    use crate::cmd::long_double::LongDouble;
    use crate::cmd::CmdError;
    let secs = LongDouble::parse(arg)
        .ok_or_else(|| CmdError::msg("ERR timeout is not a float or out of range"))?;
    let ms = (secs * LongDouble::from_u32(1000)).ceil().to_i64_trunc();
    if ms < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}
