//! The warm tier on RocksDB: WAL on, bloom filters so a miss costs no disk read, LZ4 below L1,
//! and a compaction filter that drops expired keys. Writes are logged unsynced; the flusher
//! decides when to fsync ([`WarmStore::sync`]).

use super::cold::is_pointer;
use super::{is_expired, is_meta, Op, TierError, WarmStore};
use rocksdb::compaction_filter::Decision;
use rocksdb::{
    BlockBasedOptions, DBCompressionType, Options, ReadOptions, WriteBatch, WriteOptions, DB,
};
use std::path::Path;

pub struct RocksTier {
    db: DB,
}

fn engine(e: rocksdb::Error) -> TierError {
    TierError::Engine(e.into_string())
}

/// Expired keys go at compaction; metadata stays, and so do cold pointers (the sweep deletes
/// those, telling the cold tier its bytes became garbage).
fn expiry_filter(_level: u32, key: &[u8], value: &[u8]) -> Decision {
    if !is_meta(key) && !is_pointer(value) && is_expired(value, crate::db::now_ms()) {
        Decision::Remove
    } else {
        Decision::Keep
    }
}

impl RocksTier {
    /// Opens (or creates) the store in `dir`. Fails if another process holds it.
    pub fn open(dir: &Path) -> Result<RocksTier, TierError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_compression_type(DBCompressionType::Lz4);
        opts.increase_parallelism(2);
        opts.set_compaction_filter("autocache-expiry", expiry_filter);
        // A read that misses memory mostly finds its key in an SST, not in the memtable: a
        // bloom filter over the memtable's keys spares those reads the skip-list search
        // (which took a fifth of the node's time in a 10x-maxmemory zipf GET profile). Each
        // write sets its bits, a cache miss unless the filter stays small: 2 % of the
        // memtable (1.3 MiB) still gives small entries about 15 bits each, and took its
        // share of a tiered SET profile from 10 % to 4.5 % (0.1 before).
        opts.set_memtable_prefix_bloom_ratio(0.02);
        opts.set_memtable_whole_key_filtering(true);
        // Write-behind flushes every write through L0: compressing it costs the flush CPU
        // on the core that serves (9 % less CPU per SET at -P 16 pinned without), for data
        // that is soon compacted down. The deeper levels, where the bulk lies, keep LZ4.
        opts.set_compression_per_level(&[
            DBCompressionType::None,
            DBCompressionType::None,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
        ]);
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        // A point read's index search is cache misses: binary search over every 16th index
        // entry, then a short sequential scan, misses fewer lines than over every entry
        // (+1.7 % GETs/s in the 10x-maxmemory zipf run, three interleaved rounds), and the
        // index is smaller.
        table.set_index_block_restart_interval(16);
        // 1 KiB data blocks, read through a mapping of the file (below). A read that misses
        // memory touches its whole block twice: to verify the block's checksum and, with
        // pread, to copy it from the page cache first. Mapped, the block is read in place;
        // at 1 KiB the checksum covers about one 1 KiB value instead of four. Together, in
        // the 10x-maxmemory zipf run: +4.5 to +10 % GETs/s at -P 16 (three interleaved A/B
        // runs), +8 % at -P 1; either alone, +1 to +2 %. The price is the index: one entry
        // per 1 KiB, about 17 MB more heap for 640 MB of 1 KiB values (outside maxmemory).
        table.set_block_size(1024);
        // No block cache. A point read comes from a miss in memory (which is the cache): its
        // key is rarely read again before memory drops it, and its block holds a few other
        // random values. Caching those blocks cost more (insert, evict, free) than its hits
        // saved (14 % less CPU per GET without filling it, in the 10x-maxmemory zipf run at
        // -P 16), and even an unfilled cache costs each read a lookup in a cold hash table:
        // 11 % more GETs/s in that run without one. Scans (migration, SCAN of warm keys)
        // read through the page cache, as the OS readahead serves them anyway.
        table.disable_cache();
        // Index and filter blocks stay with their table readers: about 1.3 bytes per key
        // (the filter) plus an index entry per 1 KiB block, outside maxmemory.
        table.set_cache_index_and_filter_blocks(false);
        opts.set_block_based_table_factory(&table);
        // The mapped files' pages are page cache, as pread's are: the kernel reclaims them
        // under pressure. (An I/O error on a mapped page is a SIGBUS instead of an error
        // reply; by then the store on that disk is lost either way.)
        opts.set_allow_mmap_reads(true);
        let db = DB::open(&opts, dir).map_err(engine)?;
        Ok(RocksTier { db })
    }
}

impl WarmStore for RocksTier {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TierError> {
        Ok(self.db.get_pinned(key).map_err(engine)?.map(|v| v.to_vec()))
    }

    fn write(&self, ops: &[Op]) -> Result<(), TierError> {
        let bytes: usize = ops
            .iter()
            .map(|op| match op {
                Op::Put(k, v) | Op::DeleteRange(k, v) => k.len() + v.len() + 16,
                Op::Delete(k) => k.len() + 8,
            })
            .sum();
        let mut batch = WriteBatch::with_capacity_bytes(12 + bytes);
        for op in ops {
            match op {
                Op::Put(k, v) => batch.put(k, v),
                Op::Delete(k) => batch.delete(k),
                Op::DeleteRange(from, to) => batch.delete_range(from, to),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        wo.disable_wal(false);
        self.db.write_opt(batch, &wo).map_err(engine)
    }

    fn scan(
        &self,
        from: &[u8],
        to: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), TierError> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(to.to_vec());
        let mut it = self.db.raw_iterator_opt(ro);
        it.seek(from);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !f(k, v) {
                return Ok(());
            }
            it.next();
        }
        it.status().map_err(engine)
    }

    fn sync(&self) -> Result<(), TierError> {
        self.db.flush_wal(true).map_err(engine)
    }

    fn name(&self) -> &'static str {
        "rocksdb"
    }

    fn size_bytes(&self) -> u64 {
        let prop = |name: &str| self.db.property_int_value(name).ok().flatten().unwrap_or(0);
        prop("rocksdb.total-sst-files-size") + prop("rocksdb.cur-size-all-mem-tables")
    }

    fn live_bytes(&self) -> u64 {
        let prop = |name: &str| self.db.property_int_value(name).ok().flatten().unwrap_or(0);
        prop("rocksdb.estimate-live-data-size") + prop("rocksdb.cur-size-all-mem-tables")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tier::{encode_entry, encode_key, slot_range};

    #[test]
    fn survives_reopen_and_filters_expired_on_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let live = crate::db::Entry::string(b"a", b"1", 0, 0);
        let dead = crate::db::Entry::string(b"b", b"2", 1, 0);
        {
            let t = RocksTier::open(dir.path()).unwrap();
            t.write(&[
                Op::Put(encode_key(7, b"a"), encode_entry(&live)),
                Op::Put(encode_key(7, b"b"), encode_entry(&dead)),
            ])
            .unwrap();
            t.sync().unwrap();
        }
        let t = RocksTier::open(dir.path()).unwrap();
        assert!(t.get(&encode_key(7, b"a")).unwrap().is_some());
        assert!(t.get(&encode_key(7, b"b")).unwrap().is_some());
        t.db.compact_range::<&[u8], &[u8]>(None, None);
        assert!(t.get(&encode_key(7, b"b")).unwrap().is_none());
        let (from, to) = slot_range(7);
        let mut n = 0;
        t.scan(&from, &to, &mut |_, _| {
            n += 1;
            true
        })
        .unwrap();
        assert_eq!(n, 1);
    }
}
