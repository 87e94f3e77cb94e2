//! `--verify`: a ledger of every acknowledged SET and DEL, and the read-back that reports
//! lost, stale and resurrected keys.
//!
//! Clients write the same keys concurrently, so "the last value" is a set: a write is a valid
//! final state unless another write to the key *started* after it was acknowledged (then the
//! server must have applied that one later). With `S` the latest start of any acknowledged
//! write, the valid final states are the writes acknowledged at or after `S`. Writes whose
//! reply never came (a connection broke) may or may not have happened: they stay valid for
//! ever. Times are nanoseconds since the start of the run, send taken before the write and
//! acknowledgement after the read, so clock granularity only makes the check more lenient.
//!
//! Each SET carries a unique 16-hex-digit id at the start of its value, so a read tells
//! which write it sees.

use crate::target::{Batch, Outcome, Router};
use crate::template::render_key;
use crate::Error;
use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::HashMap;

/// Bytes of a value taken by its write id.
pub const ID_LEN: usize = 16;
const SHARDS: usize = 256;
/// Keys read back per round trip.
const VERIFY_BATCH: usize = 256;
/// Keys named in the report, per kind of anomaly.
const EXAMPLES: usize = 5;

/// A key's state after a write: `Some(id)` after a SET, `None` after a DEL.
type State = Option<u64>;

#[derive(Debug)]
struct KeyLog {
    /// Latest send time of an acknowledged write.
    latest_start: u64,
    /// States still valid as the final one, with their acknowledgement time.
    valid: Vec<(State, u64)>,
    /// Earliest acknowledgement of a SET (u64::MAX: none), for checks during the run.
    first_set_ack: u64,
    /// Earliest send of a DEL (u64::MAX: none).
    first_del_sent: u64,
}

impl Default for KeyLog {
    fn default() -> Self {
        KeyLog {
            latest_start: 0,
            valid: Vec::new(),
            first_set_ack: u64::MAX,
            first_del_sent: u64::MAX,
        }
    }
}

/// Acknowledged writes per key index.
#[derive(Debug)]
pub struct Ledger {
    shards: Vec<Mutex<HashMap<u64, KeyLog>>>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::new()
    }
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn with<R>(&self, key: u64, f: impl FnOnce(&mut KeyLog) -> R) -> R {
        let mut shard = self.shards[(key as usize) % SHARDS].lock();
        f(shard.entry(key).or_default())
    }

    /// A write of `state` to `key`, sent at `sent` and acknowledged at `acked`.
    pub fn acked(&self, key: u64, state: State, sent: u64, acked: u64) {
        self.with(key, |log| {
            if sent > log.latest_start {
                log.latest_start = sent;
                log.valid.retain(|&(_, ack)| ack >= sent);
            }
            if acked >= log.latest_start {
                log.valid.push((state, acked));
            }
            if state.is_some() {
                log.first_set_ack = log.first_set_ack.min(acked);
            }
        });
    }

    /// A write whose reply never came: it may or may not have been applied.
    pub fn unknown(&self, key: u64, state: State) {
        self.with(key, |log| log.valid.push((state, u64::MAX)));
    }

    /// A DEL is about to be sent (reads after this may legitimately miss the key).
    pub fn del_sent(&self, key: u64, sent: u64) {
        self.with(key, |log| log.first_del_sent = log.first_del_sent.min(sent));
    }

    /// A GET sent at `sent` and answered nil at `acked`: lost if a SET of the key was
    /// acknowledged before the GET left and no DEL of it had been sent by the reply.
    pub fn nil_read_is_lost(&self, key: u64, sent: u64, acked: u64) -> bool {
        let shard = self.shards[(key as usize) % SHARDS].lock();
        shard
            .get(&key)
            .is_some_and(|log| log.first_set_ack < sent && log.first_del_sent > acked)
    }

    /// Every key with a write that may have happened, in index order.
    pub fn keys(&self) -> Vec<u64> {
        let mut keys: Vec<u64> = self
            .shards
            .iter()
            .flat_map(|s| {
                let shard = s.lock();
                let written = shard.iter().filter(|(_, log)| !log.valid.is_empty());
                written.map(|(&k, _)| k).collect::<Vec<_>>()
            })
            .collect();
        keys.sort_unstable();
        keys
    }

    /// Judges what a final read returned for `key`.
    pub fn judge(&self, key: u64, read: &Outcome) -> Verdict {
        let shard = self.shards[(key as usize) % SHARDS].lock();
        let Some(log) = shard.get(&key) else {
            return Verdict::Ok;
        };
        judge(&log.valid, read)
    }
}

/// The classification of one read-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Missing although a SET was the last acknowledged write.
    Lost,
    /// Holds a value that a later acknowledged write replaced.
    Stale,
    /// Present although the last acknowledged write was a DEL.
    Resurrected,
    /// A value this run did not write (or not a string).
    Unknown,
    /// The read itself failed.
    Error,
}

fn judge(valid: &[(State, u64)], read: &Outcome) -> Verdict {
    if valid.is_empty() {
        return Verdict::Ok; // no write of ours took effect: nothing to hold the server to
    }
    let allows = |s: State| valid.iter().any(|&(v, _)| v == s);
    match read {
        Outcome::Nil if allows(None) => Verdict::Ok,
        Outcome::Nil => Verdict::Lost,
        Outcome::Value(v) => match value_id(v) {
            Some(id) if allows(Some(id)) => Verdict::Ok,
            _ if valid.iter().all(|&(s, _)| s.is_none()) => Verdict::Resurrected,
            Some(_) => Verdict::Stale,
            None => Verdict::Unknown,
        },
        Outcome::Ok => Verdict::Unknown,
        Outcome::Error(_) | Outcome::Pending => Verdict::Error,
    }
}

/// Writes the 16-hex-digit id that starts a verified value.
pub fn write_id(out: &mut [u8], id: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in out[..ID_LEN].iter_mut().enumerate() {
        *b = HEX[((id >> (60 - 4 * i)) & 0xf) as usize];
    }
}

/// The write id at the start of a value, if it has one.
pub fn value_id(v: &Bytes) -> Option<u64> {
    let hex = std::str::from_utf8(v.get(..ID_LEN)?).ok()?;
    u64::from_str_radix(hex, 16).ok()
}

/// What the read-back found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub keys_checked: u64,
    pub lost: u64,
    pub stale: u64,
    pub resurrected: u64,
    /// Values this run did not write.
    pub unknown: u64,
    /// Reads that failed (error replies or a broken connection).
    pub read_errors: u64,
    /// `--verify-during`: GETs in the workload that missed a key with an acknowledged SET.
    pub lost_during: u64,
    /// A few keys per anomaly, e.g. `lost key:000000000042`.
    pub examples: Vec<String>,
}

impl VerifyReport {
    /// Anomalies found (read errors included: an unverifiable key is not a verified one).
    pub fn failures(&self) -> u64 {
        self.lost
            + self.stale
            + self.resurrected
            + self.unknown
            + self.read_errors
            + self.lost_during
    }

    fn count(&mut self, verdict: Verdict, key: &[u8]) {
        let (slot, name) = match verdict {
            Verdict::Ok => return,
            Verdict::Lost => (&mut self.lost, "lost"),
            Verdict::Stale => (&mut self.stale, "stale"),
            Verdict::Resurrected => (&mut self.resurrected, "resurrected"),
            Verdict::Unknown => (&mut self.unknown, "unknown value"),
            Verdict::Error => (&mut self.read_errors, "read error"),
        };
        *slot += 1;
        if *slot <= EXAMPLES as u64 {
            self.examples
                .push(format!("{name} {}", String::from_utf8_lossy(key)));
        }
    }
}

/// Reads back every key in `ledger` through `router` and judges each.
pub async fn read_back(
    router: &mut Router,
    ledger: &Ledger,
    prefix: &str,
) -> Result<VerifyReport, Error> {
    let mut report = VerifyReport::default();
    let mut batch = Batch::default();
    let mut key = Vec::new();
    for chunk in ledger.keys().chunks(VERIFY_BATCH) {
        batch.clear();
        for &idx in chunk {
            render_key(&mut key, prefix, idx);
            batch.push(Some(&key), true, |out| {
                crate::resp::encode_command(out, &[b"GET", &key])
            });
        }
        router
            .execute(&mut batch)
            .await
            .map_err(|e| Error::Run(format!("verification reads failed: {e}")))?;
        for (&idx, op) in chunk.iter().zip(&batch.ops) {
            render_key(&mut key, prefix, idx);
            report.count(ledger.judge(idx, &op.outcome), &key);
        }
        report.keys_checked += chunk.len() as u64;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(id: u64) -> Outcome {
        let mut v = vec![b'x'; 32];
        write_id(&mut v, id);
        Outcome::Value(Bytes::from(v))
    }

    #[test]
    fn ids_round_trip() {
        let mut v = vec![0u8; 20];
        write_id(&mut v, 0x0123_4567_89ab_cdef);
        assert_eq!(&v[..16], b"0123456789abcdef");
        assert_eq!(value_id(&Bytes::from(v)), Some(0x0123_4567_89ab_cdef));
        assert_eq!(value_id(&Bytes::from_static(b"short")), None);
    }

    #[test]
    fn sequential_writes_leave_only_the_last_valid() {
        let l = Ledger::new();
        l.acked(1, Some(10), 100, 200);
        l.acked(1, Some(11), 300, 400);
        assert_eq!(l.judge(1, &value(11)), Verdict::Ok);
        assert_eq!(l.judge(1, &value(10)), Verdict::Stale);
        assert_eq!(l.judge(1, &Outcome::Nil), Verdict::Lost);
        assert_eq!(l.judge(1, &value(99)), Verdict::Stale);
        assert_eq!(
            l.judge(1, &Outcome::Value(Bytes::from_static(b"zz"))),
            Verdict::Unknown
        );
    }

    #[test]
    fn overlapping_writes_are_both_valid() {
        let l = Ledger::new();
        l.acked(1, Some(10), 100, 300);
        l.acked(1, Some(11), 200, 250);
        assert_eq!(l.judge(1, &value(10)), Verdict::Ok);
        assert_eq!(l.judge(1, &value(11)), Verdict::Ok);
        // A write that starts after both were acknowledged supersedes them.
        l.acked(1, Some(12), 400, 500);
        assert_eq!(l.judge(1, &value(10)), Verdict::Stale);
    }

    #[test]
    fn deletes_and_unknown_outcomes() {
        let l = Ledger::new();
        l.acked(1, Some(10), 100, 200);
        l.acked(1, None, 300, 400);
        assert_eq!(l.judge(1, &Outcome::Nil), Verdict::Ok);
        assert_eq!(l.judge(1, &value(10)), Verdict::Resurrected);
        l.unknown(1, Some(12));
        assert_eq!(l.judge(1, &value(12)), Verdict::Ok);
        assert_eq!(l.judge(1, &Outcome::Nil), Verdict::Ok);
    }

    #[test]
    fn nil_reads_during_the_run() {
        let l = Ledger::new();
        l.acked(1, Some(10), 100, 200);
        assert!(!l.nil_read_is_lost(1, 150, 260), "read overlapped the SET");
        assert!(l.nil_read_is_lost(1, 250, 260));
        l.del_sent(1, 255);
        assert!(
            !l.nil_read_is_lost(1, 250, 260),
            "a DEL may explain the miss"
        );
        assert!(!l.nil_read_is_lost(2, 250, 260), "never written");
    }
}
