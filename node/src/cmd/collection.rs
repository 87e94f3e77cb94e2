//! Lookup, create-on-write and delete-when-empty for collection keys, shared by the families
//! whose values are [`Collection`]s (hashes, sets).

use super::{CmdError, Ctx};
use crate::db::{Clock, Entry, Shard};
use crate::notify;
use crate::types::Collection;

/// The collection in `entry`: `None` for a missing key, WRONGTYPE for another type.
pub fn typed<C: Collection>(entry: Option<&mut Entry>) -> Result<Option<&C>, CmdError> {
    match entry {
        None => Ok(None),
        Some(e) => e
            .value()
            .and_then(C::of)
            .map(Some)
            .ok_or(CmdError::WrongType),
    }
}

/// A keyspace notification: its class (`crate::notify`) and the event's name.
pub type Event = (u32, &'static str);

/// Runs `f` on the collection at `key` — created empty when missing if `create`, else `f`
/// does not run and the result is `None` — and deletes the key if `f` leaves it empty. `f`
/// returns its result and whether it changed anything: WATCH sees only real changes (SADD
/// of a member already there, HDEL of a missing field and WRONGTYPE leave a watch intact),
/// and only they notify `event` (then `del` for a key left empty), as in Redis.
pub fn modify<C: Collection, R>(
    shard: &mut Shard,
    slot: u16,
    key: &[u8],
    clock: &Clock,
    create: bool,
    (class, event): Event,
    f: impl FnOnce(&mut C) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    if let Some(e) = shard.peek(slot, key, clock.ms) {
        if e.value().and_then(C::of).is_none() {
            return Err(CmdError::WrongType);
        }
        shard.changing(key);
        let e = shard.get(slot, key, clock).expect("found just now");
        let c = e.value_mut().and_then(C::of_mut).expect("type checked");
        let (r, changed) = f(c)?;
        let empty = c.is_empty();
        if changed {
            shard.changed(key);
            shard.events.emit(class, event, key);
        }
        if empty {
            shard.remove(slot, key);
            shard.events.emit(notify::GENERIC, "del", key);
        }
        return Ok(Some(r));
    }
    if !create {
        return Ok(None);
    }
    let mut c = C::empty();
    let (r, _) = f(&mut c)?;
    if !c.is_empty() {
        shard.insert(
            slot,
            Entry::object(key, c.into_value(), 0, clock.initial_lru()),
        );
        shard.events.emit(class, event, key);
    }
    Ok(Some(r))
}

/// [`modify`] on the key's own shard.
pub fn modify_key<C: Collection, R>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    create: bool,
    event: Event,
    f: impl FnOnce(&mut C) -> Result<(R, bool), CmdError>,
) -> Result<Option<R>, CmdError> {
    let clock = ctx.clock;
    let (mut shard, slot) = ctx.db.lock_key(key);
    modify(&mut shard, slot, key, &clock, create, event, f)
}
