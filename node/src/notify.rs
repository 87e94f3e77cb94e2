//! Keyspace notifications (`notify-keyspace-events`): every change to a key is published on
//! `__keyspace@0__:<key>` (the message is the event's name) and `__keyevent@0__:<event>`
//! (the message is the key), each class of event enabled by a flag character, as Redis does.
//! Off by default; when off, an event costs one relaxed load.

use crate::pubsub::PubSub;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;

/// Redis's flag bits (server.h `NOTIFY_*`).
pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 12;
pub const NEW: u32 = 1 << 13;
/// `A`: every class but key misses and new keys.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The error CONFIG SET gives for a character that is no class.
pub const INVALID: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// Flags from a `notify-keyspace-events` string; None on a character that is no class.
pub fn parse(classes: &[u8]) -> Option<u32> {
    classes.iter().try_fold(0, |flags, c| {
        Some(
            flags
                | match c {
                    b'A' => ALL,
                    b'g' => GENERIC,
                    b'$' => STRING,
                    b'l' => LIST,
                    b's' => SET,
                    b'h' => HASH,
                    b'z' => ZSET,
                    b'x' => EXPIRED,
                    b'e' => EVICTED,
                    b'K' => KEYSPACE,
                    b'E' => KEYEVENT,
                    b't' => STREAM,
                    b'm' => KEY_MISS,
                    b'd' => MODULE,
                    b'n' => NEW,
                    _ => return None,
                },
        )
    })
}

/// The flags as CONFIG GET shows them: Redis's canonical order, `A` for all classes.
pub fn format(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The enabled classes and where events are published: shared by the server (commands)
/// and every shard (expiry, eviction, new keys, misses).
#[derive(Default)]
pub struct Events {
    flags: AtomicU32,
    pub pubsub: Arc<PubSub>,
}

impl Events {
    pub fn flags(&self) -> u32 {
        self.flags.load(Relaxed)
    }

    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Relaxed);
    }

    /// Publishes `event` on `key` if its class is enabled.
    #[inline]
    pub fn emit(&self, class: u32, event: &str, key: &[u8]) {
        let flags = self.flags.load(Relaxed);
        if flags & class != 0 {
            self.publish(flags, event, key);
        }
    }

    #[cold]
    fn publish(&self, flags: u32, event: &str, key: &[u8]) {
        if flags & KEYSPACE != 0 {
            let mut channel = b"__keyspace@0__:".to_vec();
            channel.extend_from_slice(key);
            self.pubsub.publish(&channel, event.as_bytes());
        }
        if flags & KEYEVENT != 0 {
            let channel = format!("__keyevent@0__:{event}");
            self.pubsub.publish(channel.as_bytes(), key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_in_redis_order() {
        assert_eq!(parse(b""), Some(0));
        assert_eq!(format(0), "");
        assert_eq!(parse(b"KEA").map(format).as_deref(), Some("AKE"));
        assert_eq!(parse(b"Ex").map(format).as_deref(), Some("xE"));
        assert_eq!(parse(b"mnKzg$").map(format).as_deref(), Some("g$znKm"));
        assert_eq!(parse(b"g$lshzxetdKE"), parse(b"AKE"));
        assert_eq!(parse(b"KEA"), Some(ALL | KEYSPACE | KEYEVENT));
        assert_eq!(parse(b"Kq"), None);
        assert_eq!(parse(b"k"), None);
    }
}
