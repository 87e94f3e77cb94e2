//! Pub/sub: channel, pattern and shard-channel subscriptions, and each subscriber's outbox.
//!
//! PUBLISH encodes the message once per subscriber (in the subscriber's RESP version) into its
//! outbox and wakes its connection, which writes the outbox out. An outbox that grows past
//! Redis's `client-output-buffer-limit pubsub` (32 MB hard, or 8 MB for 60 s) disconnects
//! its client, so a slow subscriber cannot grow the server's memory without bound.

use crate::glob::glob_match;
use autocache_proto::resp::{Protocol, ReplyBuf};
use bytes::{Bytes, BytesMut};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub const HARD_LIMIT: usize = 32 * 1024 * 1024;
pub const SOFT_LIMIT: usize = 8 * 1024 * 1024;
pub const SOFT_SECONDS: Duration = Duration::from_secs(60);

/// Messages waiting to be written to one subscriber.
#[derive(Debug)]
pub struct Outbox {
    pub id: u64,
    state: Mutex<OutboxState>,
    pub ready: Notify,
    overflowed: AtomicBool,
}

#[derive(Debug)]
struct OutboxState {
    buf: ReplyBuf,
    soft_since: Option<Instant>,
}

impl Outbox {
    pub fn new(id: u64, proto: Protocol) -> Outbox {
        Outbox {
            id,
            state: Mutex::new(OutboxState {
                buf: ReplyBuf {
                    buf: BytesMut::new(),
                    proto,
                },
                soft_since: None,
            }),
            ready: Notify::new(),
            overflowed: AtomicBool::new(false),
        }
    }

    pub fn set_protocol(&self, proto: Protocol) {
        self.state.lock().buf.proto = proto;
    }

    /// Appends one message (written by `write` in the subscriber's protocol). Returns false
    /// when the subscriber is over its output limit and is being disconnected.
    fn deliver(&self, write: impl FnOnce(&mut ReplyBuf)) -> bool {
        if self.overflowed.load(Relaxed) {
            return false;
        }
        let mut st = self.state.lock();
        write(&mut st.buf);
        let len = st.buf.len();
        let over_soft = len > SOFT_LIMIT;
        let soft_expired = match (over_soft, st.soft_since) {
            (false, _) => {
                st.soft_since = None;
                false
            }
            (true, None) => {
                st.soft_since = Some(Instant::now());
                false
            }
            (true, Some(t)) => t.elapsed() >= SOFT_SECONDS,
        };
        drop(st);
        if len > HARD_LIMIT || soft_expired {
            self.overflowed.store(true, Relaxed);
            tracing::warn!(
                client = self.id,
                "closing subscriber over the pubsub output buffer limit"
            );
        }
        self.ready.notify_one();
        true
    }

    /// Takes what is waiting to be written.
    pub fn take(&self) -> BytesMut {
        let mut st = self.state.lock();
        st.soft_since = None;
        st.buf.buf.split()
    }

    pub fn pending(&self) -> usize {
        self.state.lock().buf.len()
    }

    /// Over the output limit: the connection must close.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Relaxed)
    }
}

/// Which namespace a subscription lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

/// The server's subscriptions.
#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, Vec<Arc<Outbox>>>>,
    patterns: RwLock<HashMap<Bytes, Vec<Arc<Outbox>>>>,
    shard_channels: RwLock<HashMap<Bytes, Vec<Arc<Outbox>>>>,
}

impl PubSub {
    fn map(&self, kind: Kind) -> &RwLock<HashMap<Bytes, Vec<Arc<Outbox>>>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    pub fn subscribe(&self, kind: Kind, name: &Bytes, outbox: &Arc<Outbox>) {
        self.map(kind)
            .write()
            .entry(name.clone())
            .or_default()
            .push(outbox.clone());
    }

    pub fn unsubscribe(&self, kind: Kind, name: &[u8], outbox: &Arc<Outbox>) {
        let mut map = self.map(kind).write();
        if let Some(v) = map.get_mut(name) {
            v.retain(|o| !Arc::ptr_eq(o, outbox));
            if v.is_empty() {
                map.remove(name);
            }
        }
    }

    /// PUBLISH: delivers to channel subscribers and matching patterns; returns receivers.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let mut n = 0;
        if let Some(subs) = self.channels.read().get(channel) {
            for o in subs {
                n += o.deliver(|b| message_frame(b, b"message", None, channel, message)) as usize;
            }
        }
        for (pattern, subs) in self.patterns.read().iter() {
            if glob_match(pattern, channel, false) {
                for o in subs {
                    n += o
                        .deliver(|b| message_frame(b, b"pmessage", Some(pattern), channel, message))
                        as usize;
                }
            }
        }
        n
    }

    /// SPUBLISH: delivers to shard-channel subscribers.
    pub fn spublish(&self, channel: &[u8], message: &[u8]) -> usize {
        let mut n = 0;
        if let Some(subs) = self.shard_channels.read().get(channel) {
            for o in subs {
                n += o.deliver(|b| message_frame(b, b"smessage", None, channel, message)) as usize;
            }
        }
        n
    }

    /// Names with at least one subscriber, optionally filtered by a glob (PUBSUB CHANNELS).
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.map(kind)
            .read()
            .keys()
            .filter(|n| pattern.is_none_or(|p| glob_match(p, n, false)))
            .cloned()
            .collect()
    }

    pub fn count(&self, kind: Kind, name: &[u8]) -> usize {
        self.map(kind).read().get(name).map_or(0, |v| v.len())
    }

    /// Distinct patterns subscribed (PUBSUB NUMPAT).
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }
}

fn message_frame(
    out: &mut ReplyBuf,
    kind: &[u8],
    pattern: Option<&[u8]>,
    channel: &[u8],
    message: &[u8],
) {
    out.push(if pattern.is_some() { 4 } else { 3 });
    out.bulk(kind);
    if let Some(p) = pattern {
        out.bulk(p);
    }
    out.bulk(channel);
    out.bulk(message);
}
