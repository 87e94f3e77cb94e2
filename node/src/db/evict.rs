//! Eviction under `maxmemory`: Redis's policies, with Redis's sampling approximation of LRU,
//! LFU and TTL order (sample a few keys, drop the best candidate).

use super::{Clock, Entry, Keyspace, Lru, SHARDS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    pub fn parse(s: &str) -> Option<Policy> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// What chooses the entries memory drops when it caches a warm tier. Dropping loses
    /// nothing there, so every key qualifies and memory never refuses a write: the policy
    /// only lends its ranking (noeviction and volatile-ttl rank by idle time).
    fn for_demotion(self) -> Policy {
        match self {
            Policy::AllKeysLfu | Policy::VolatileLfu => Policy::AllKeysLfu,
            Policy::AllKeysRandom | Policy::VolatileRandom => Policy::AllKeysRandom,
            _ => Policy::AllKeysLru,
        }
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Policy::parse(s).ok_or_else(|| format!("unknown maxmemory policy '{s}'"))
    }
}

const LFU_INIT_VAL: u32 = 5;

fn minutes(clock: &Clock) -> u32 {
    ((clock.ms / 60_000) & 0xFFFF) as u32
}

/// LFU metadata of a new key: now, counter 5 (Redis's LFU_INIT_VAL).
pub fn lfu_initial(clock: &Clock) -> Lru {
    (minutes(clock) << 8) | LFU_INIT_VAL
}

/// The LFU counter after decay (`OBJECT FREQ`).
pub fn lfu_decayed(lru: Lru, clock: &Clock) -> u32 {
    let ldt = lru >> 8;
    let counter = lru & 0xFF;
    let now = minutes(clock);
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = elapsed.checked_div(clock.lfu_decay_time).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// LFU metadata after one access: decay, then a logarithmic increment.
pub fn lfu_touch(lru: Lru, clock: &Clock) -> Lru {
    let mut counter = lfu_decayed(lru, clock);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let p = 1.0 / (base * clock.lfu_log_factor as f64 + 1.0);
        if fastrand::f64() < p {
            counter += 1;
        }
    }
    (minutes(clock) << 8) | counter
}

/// Seconds since last access under LRU (`OBJECT IDLETIME`).
pub fn idle_seconds(lru: Lru, clock: &Clock) -> u64 {
    let now = clock.lru;
    if now >= lru {
        (now - lru) as u64
    } else {
        (0xFF_FFFF - lru + now) as u64
    }
}

/// Higher is a better eviction candidate.
fn score(policy: Policy, e: &Entry, clock: &Clock) -> u64 {
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => idle_seconds(e.lru(), clock),
        Policy::AllKeysLfu | Policy::VolatileLfu => 255 - lfu_decayed(e.lru(), clock) as u64,
        Policy::VolatileTtl => u64::MAX - e.expire_at(),
        _ => 0,
    }
}

/// Evicts one key chosen by `policy` from `samples` random candidates. Returns the bytes it
/// freed, or `None` when no key qualifies (noeviction, or no volatile key left).
///
/// The candidates come from neighbouring slot tables of one random shard, taken under one
/// lock (as Redis samples one dict), and the chosen key leaves under that same lock: a
/// sample costs the entry's cache miss, not a lock and a table's misses each. Only when that
/// shard holds too few candidates do the samples spread to further shards.
pub fn evict_one(ks: &Keyspace, policy: Policy, clock: &Clock, samples: usize) -> Option<usize> {
    let policy = if ks.is_tiered() {
        policy.for_demotion()
    } else {
        policy
    };
    if policy == Policy::NoEviction {
        return None;
    }
    let volatile = policy.volatile_only();
    let samples = samples.max(1);
    let mut best: Option<(u64, u16, Box<[u8]>)> = None;
    let start = fastrand::usize(..SHARDS);
    let mut found = 0;
    for n in 0..SHARDS {
        let shard_i = (start + n * 97) % SHARDS; // 97 is coprime with SHARDS: visits all
        let mut shard = ks.lock_shard(shard_i);
        if shard.is_empty() || (volatile && shard.volatile() == 0) {
            continue;
        }
        let tables = super::SLOTS_PER_SHARD;
        let t0 = fastrand::usize(..tables);
        // This shard's best candidate: (score, table).
        let mut local: Option<(u64, usize, &Entry)> = None;
        for k in 0..tables {
            if found >= samples {
                break;
            }
            let ti = (t0 + k) % tables;
            let t = shard.table_at(ti);
            let n = if volatile { t.volatile() } else { t.len() };
            if n == 0 {
                continue;
            }
            let want = samples - found;
            // A random run among the first few: cheap, and tables are small.
            let skip = fastrand::usize(..n.min(64));
            let qualifies = |e: &&Entry| !volatile || e.has_expire();
            let mut taken = 0;
            for e in t.iter().filter(qualifies).skip(skip).take(want) {
                let s = score(policy, e, clock);
                if local.is_none_or(|(b, _, _)| s > b) {
                    local = Some((s, ti, e));
                }
                taken += 1;
            }
            if taken == 0 {
                if let Some(e) = t.iter().find(qualifies) {
                    let s = score(policy, e, clock);
                    if local.is_none_or(|(b, _, _)| s > b) {
                        local = Some((s, ti, e));
                    }
                    taken = 1;
                }
            }
            found += taken;
        }
        let Some((s, ti, e)) = local else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _, _)| s > *b) {
            best = Some((s, shard.slot_at(ti), e.key().into()));
        }
        if found >= samples {
            let (_, slot, key) = best?;
            if super::shard_of(slot) == shard_i {
                return remove_candidate(&mut shard, slot, &key);
            }
            drop(shard);
            return remove_candidate(&mut ks.lock_shard(super::shard_of(slot)), slot, &key);
        }
    }
    let (_, slot, key) = best?;
    remove_candidate(&mut ks.lock_shard(super::shard_of(slot)), slot, &key)
}

/// Takes the chosen key out of memory: demoted when tiered, else deleted.
fn remove_candidate(shard: &mut super::Shard, slot: u16, key: &[u8]) -> Option<usize> {
    if shard.is_tiered() {
        // Memory only caches the warm tier: the key moves down, nothing is lost. Another
        // evictor (the flusher's) may have moved it first: freeing nothing, try again.
        return Some(shard.demote(slot, key).unwrap_or(0));
    }
    let old = shard.remove(slot, key)?;
    shard.stats.evicted += 1;
    shard.events.emit(crate::notify::EVICTED, "evicted", key);
    Some(old.mem_usage())
}
