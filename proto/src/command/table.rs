//! The rows of the command table, and the `COMMAND DOCS` text that goes with them.
//!
//! Arity, flags and key positions are Redis 7.0's, as its `COMMAND INFO` reports them; `group`
//! is the family's ACL category (`@string`, `@keyspace` …), or `server` / `cluster` for
//! families Redis gives none. A container (`CONFIG`, `CLIENT` …) lists its subcommands as rows
//! named `parent|sub`: route and execute with the subcommand's row. `CLIENT SETINFO` is from
//! Redis 7.2, because clients send it on connect.

use super::flags::*;
use super::reply::CommandDoc;
use super::Routing::{AllNodes, AnyNode, ByKey, Local};
use super::{CommandSpec, KeyRule, Routing};

const NONE: KeyRule = KeyRule::None;

const fn range(first: i32, last: i32, step: i32) -> KeyRule {
    KeyRule::Range { first, last, step }
}

const fn numkeys(numkeys: usize, dest: Option<usize>) -> KeyRule {
    KeyRule::NumKeys { numkeys, dest }
}

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: KeyRule,
    group: &'static str,
    routing: Routing,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        group,
        routing,
        subcommands: &[],
    }
}

impl CommandSpec {
    const fn with_subs(mut self, subcommands: &'static [CommandSpec]) -> CommandSpec {
        self.subcommands = subcommands;
        self
    }
}

const fn doc(
    name: &'static str,
    since: &'static str,
    group: &'static str,
    complexity: &'static str,
    summary: &'static str,
) -> CommandDoc {
    CommandDoc {
        name,
        since,
        group,
        complexity,
        summary,
    }
}

/// Every command, by family. `cmd(name, arity, flags, keys, group, routing)`.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    // Strings
    cmd("get", 2, READONLY | FAST, range(1, 1, 1), "string", ByKey),
    cmd("set", -3, WRITE | DENYOOM, range(1, 1, 1), "string", ByKey),
    cmd("setnx", 3, WRITE | DENYOOM | FAST, range(1, 1, 1), "string", ByKey),
    cmd("setex", 4, WRITE | DENYOOM, range(1, 1, 1), "string", ByKey),
    cmd("psetex", 4, WRITE | DENYOOM, range(1, 1, 1), "string", ByKey),
    cmd("getset", 3, WRITE | DENYOOM | FAST, range(1, 1, 1), "string", ByKey),
    cmd("getdel", 2, WRITE | FAST, range(1, 1, 1), "string", ByKey),
    cmd("getex", -2, WRITE | FAST, range(1, 1, 1), "string", ByKey),
    cmd("mget", -2, READONLY | FAST, range(1, -1, 1), "string", ByKey),
    cmd("mset", -3, WRITE | DENYOOM, range(1, -1, 2), "string", ByKey),
    cmd("msetnx", -3, WRITE | DENYOOM, range(1, -1, 2), "string", ByKey),
    cmd("incr", 2, WRITE | DENYOOM | FAST, range(1, 1, 1), "string", ByKey),
    cmd("decr", 2, WRITE | DENYOOM | FAST, range(1, 1, 1), "string", ByKey),
    cmd("incrby", 3, WRITE | DENYOOM | FAST, range(1, 1, 1), "string", ByKey),
    cmd("decrby", 3, WRITE | DENYOOM | FAST, range(1, 1, 1), "string", ByKey),
    cmd("incrbyfloat", 3, WRITE | DENYOOM | FAST, range(1, 1, 1), "string", ByKey),
    cmd("append", 3, WRITE | DENYOOM | FAST, range(1, 1, 1), "string", ByKey),
    cmd("strlen", 2, READONLY | FAST, range(1, 1, 1), "string", ByKey),
    cmd("getrange", 4, READONLY, range(1, 1, 1), "string", ByKey),
    cmd("setrange", 4, WRITE | DENYOOM, range(1, 1, 1), "string", ByKey),
    cmd("substr", 4, READONLY, range(1, 1, 1), "string", ByKey),
    cmd("lcs", -3, READONLY, range(1, 2, 1), "string", ByKey),
    // Bitmaps
    cmd("setbit", 4, WRITE | DENYOOM, range(1, 1, 1), "bitmap", ByKey),
    cmd("getbit", 3, READONLY | FAST, range(1, 1, 1), "bitmap", ByKey),
    cmd("bitcount", -2, READONLY, range(1, 1, 1), "bitmap", ByKey),
    cmd("bitpos", -3, READONLY, range(1, 1, 1), "bitmap", ByKey),
    cmd("bitop", -4, WRITE | DENYOOM, range(2, -1, 1), "bitmap", ByKey),
    cmd("bitfield", -2, WRITE | DENYOOM, range(1, 1, 1), "bitmap", ByKey),
    cmd("bitfield_ro", -2, READONLY | FAST, range(1, 1, 1), "bitmap", ByKey),
    // Keys
    cmd("del", -2, WRITE, range(1, -1, 1), "keyspace", ByKey),
    cmd("unlink", -2, WRITE | FAST, range(1, -1, 1), "keyspace", ByKey),
    cmd("exists", -2, READONLY | FAST, range(1, -1, 1), "keyspace", ByKey),
    cmd("type", 2, READONLY | FAST, range(1, 1, 1), "keyspace", ByKey),
    cmd("expire", -3, WRITE | FAST, range(1, 1, 1), "keyspace", ByKey),
    cmd("pexpire", -3, WRITE | FAST, range(1, 1, 1), "keyspace", ByKey),
    cmd("expireat", -3, WRITE | FAST, range(1, 1, 1), "keyspace", ByKey),
    cmd("pexpireat", -3, WRITE | FAST, range(1, 1, 1), "keyspace", ByKey),
    cmd("ttl", 2, READONLY | FAST, range(1, 1, 1), "keyspace", ByKey),
    cmd("pttl", 2, READONLY | FAST, range(1, 1, 1), "keyspace", ByKey),
    cmd("expiretime", 2, READONLY | FAST, range(1, 1, 1), "keyspace", ByKey),
    cmd("pexpiretime", 2, READONLY | FAST, range(1, 1, 1), "keyspace", ByKey),
    cmd("persist", 2, WRITE | FAST, range(1, 1, 1), "keyspace", ByKey),
    cmd("keys", 2, READONLY | KEYLESS, NONE, "keyspace", AllNodes),
    cmd("scan", -2, READONLY | KEYLESS, NONE, "keyspace", AllNodes),
    cmd("randomkey", 1, READONLY | KEYLESS, NONE, "keyspace", AnyNode),
    cmd("rename", 3, WRITE, range(1, 2, 1), "keyspace", ByKey),
    cmd("renamenx", 3, WRITE | FAST, range(1, 2, 1), "keyspace", ByKey),
    cmd("touch", -2, READONLY | FAST, range(1, -1, 1), "keyspace", ByKey),
    cmd("copy", -3, WRITE | DENYOOM, range(1, 2, 1), "keyspace", ByKey),
    cmd("object", -2, 0, NONE, "keyspace", ByKey).with_subs(&[
        cmd("object|encoding", 3, READONLY, range(2, 2, 1), "keyspace", ByKey),
        cmd("object|freq", 3, READONLY, range(2, 2, 1), "keyspace", ByKey),
        cmd("object|idletime", 3, READONLY, range(2, 2, 1), "keyspace", ByKey),
        cmd("object|refcount", 3, READONLY, range(2, 2, 1), "keyspace", ByKey),
        cmd("object|tier", 3, READONLY, range(2, 2, 1), "keyspace", ByKey),
        cmd("object|help", 2, LOADING | STALE | KEYLESS, NONE, "keyspace", Local),
    ]),
    cmd("dump", 2, READONLY, range(1, 1, 1), "keyspace", ByKey),
    cmd("restore", -4, WRITE | DENYOOM, range(1, 1, 1), "keyspace", ByKey),
    cmd("dbsize", 1, READONLY | FAST | KEYLESS, NONE, "keyspace", AllNodes),
    cmd("flushdb", -1, WRITE | KEYLESS, NONE, "keyspace", AllNodes),
    cmd("flushall", -1, WRITE | KEYLESS, NONE, "keyspace", AllNodes),
    // Server and connection
    cmd("ping", -1, FAST | KEYLESS | PUBSUB_CONTEXT, NONE, "connection", Local),
    cmd("echo", 2, LOADING | STALE | FAST | KEYLESS, NONE, "connection", Local),
    cmd("select", 2, LOADING | STALE | FAST | KEYLESS, NONE, "connection", Local),
    cmd("info", -1, LOADING | STALE | KEYLESS, NONE, "server", Local),
    cmd("config", -2, KEYLESS, NONE, "server", Local).with_subs(&[
        cmd("config|get", -3, ADMIN | NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "server", Local),
        cmd("config|set", -4, ADMIN | NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "server", Local),
        cmd("config|resetstat", 2, ADMIN | NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "server", Local),
        cmd("config|help", 2, LOADING | STALE | KEYLESS, NONE, "server", Local),
    ]),
    cmd("client", -2, KEYLESS, NONE, "connection", Local).with_subs(&[
        cmd("client|id", 2, NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("client|setname", 3, NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("client|getname", 2, NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("client|list", -2, ADMIN | NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("client|info", 2, NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("client|kill", -3, ADMIN | NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("client|setinfo", 4, NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("client|no-evict", 3, ADMIN | NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("client|reply", 3, NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("client|help", 2, LOADING | STALE | KEYLESS, NONE, "connection", Local),
    ]),
    cmd("command", -1, LOADING | STALE | KEYLESS, NONE, "connection", Local).with_subs(&[
        cmd("command|count", 2, LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("command|info", -2, LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("command|getkeys", -4, LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("command|list", -2, LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("command|docs", -2, LOADING | STALE | KEYLESS, NONE, "connection", Local),
        cmd("command|help", 2, LOADING | STALE | KEYLESS, NONE, "connection", Local),
    ]),
    cmd("time", 1, LOADING | STALE | FAST | KEYLESS, NONE, "server", AnyNode),
    cmd("quit", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | KEYLESS | PUBSUB_CONTEXT, NONE, "connection", Local),
    cmd("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | KEYLESS | PUBSUB_CONTEXT, NONE, "connection", Local),
    cmd("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | KEYLESS, NONE, "connection", Local),
    cmd("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | KEYLESS, NONE, "connection", Local),
    cmd("memory", -2, 0, NONE, "server", ByKey).with_subs(&[
        cmd("memory|usage", -3, READONLY, range(2, 2, 1), "server", ByKey),
    ]),
    // Hashes
    cmd("hset", -4, WRITE | DENYOOM | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hsetnx", 4, WRITE | DENYOOM | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hget", 3, READONLY | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hmset", -4, WRITE | DENYOOM | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hmget", -3, READONLY | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hgetall", 2, READONLY, range(1, 1, 1), "hash", ByKey),
    cmd("hdel", -3, WRITE | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hexists", 3, READONLY | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hlen", 2, READONLY | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hkeys", 2, READONLY, range(1, 1, 1), "hash", ByKey),
    cmd("hvals", 2, READONLY, range(1, 1, 1), "hash", ByKey),
    cmd("hincrby", 4, WRITE | DENYOOM | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hincrbyfloat", 4, WRITE | DENYOOM | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hstrlen", 3, READONLY | FAST, range(1, 1, 1), "hash", ByKey),
    cmd("hrandfield", -2, READONLY, range(1, 1, 1), "hash", ByKey),
    cmd("hscan", -3, READONLY, range(1, 1, 1), "hash", ByKey),
    // Lists
    cmd("lpush", -3, WRITE | DENYOOM | FAST, range(1, 1, 1), "list", ByKey),
    cmd("rpush", -3, WRITE | DENYOOM | FAST, range(1, 1, 1), "list", ByKey),
    cmd("lpushx", -3, WRITE | DENYOOM | FAST, range(1, 1, 1), "list", ByKey),
    cmd("rpushx", -3, WRITE | DENYOOM | FAST, range(1, 1, 1), "list", ByKey),
    cmd("lpop", -2, WRITE | FAST, range(1, 1, 1), "list", ByKey),
    cmd("rpop", -2, WRITE | FAST, range(1, 1, 1), "list", ByKey),
    cmd("llen", 2, READONLY | FAST, range(1, 1, 1), "list", ByKey),
    cmd("lrange", 4, READONLY, range(1, 1, 1), "list", ByKey),
    cmd("lindex", 3, READONLY, range(1, 1, 1), "list", ByKey),
    cmd("lset", 4, WRITE | DENYOOM, range(1, 1, 1), "list", ByKey),
    cmd("linsert", 5, WRITE | DENYOOM, range(1, 1, 1), "list", ByKey),
    cmd("lrem", 4, WRITE, range(1, 1, 1), "list", ByKey),
    cmd("ltrim", 4, WRITE, range(1, 1, 1), "list", ByKey),
    cmd("lpos", -3, READONLY, range(1, 1, 1), "list", ByKey),
    cmd("lmove", 5, WRITE | DENYOOM, range(1, 2, 1), "list", ByKey),
    cmd("rpoplpush", 3, WRITE | DENYOOM, range(1, 2, 1), "list", ByKey),
    cmd("lmpop", -4, WRITE, numkeys(1, None), "list", ByKey),
    cmd("blpop", -3, WRITE | NOSCRIPT | BLOCKING, range(1, -2, 1), "list", ByKey),
    cmd("brpop", -3, WRITE | NOSCRIPT | BLOCKING, range(1, -2, 1), "list", ByKey),
    cmd("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, range(1, 2, 1), "list", ByKey),
    cmd("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, range(1, 2, 1), "list", ByKey),
    cmd("blmpop", -5, WRITE | BLOCKING, numkeys(2, None), "list", ByKey),
    // Sets
    cmd("sadd", -3, WRITE | DENYOOM | FAST, range(1, 1, 1), "set", ByKey),
    cmd("srem", -3, WRITE | FAST, range(1, 1, 1), "set", ByKey),
    cmd("smembers", 2, READONLY, range(1, 1, 1), "set", ByKey),
    cmd("sismember", 3, READONLY | FAST, range(1, 1, 1), "set", ByKey),
    cmd("smismember", -3, READONLY | FAST, range(1, 1, 1), "set", ByKey),
    cmd("scard", 2, READONLY | FAST, range(1, 1, 1), "set", ByKey),
    cmd("spop", -2, WRITE | FAST, range(1, 1, 1), "set", ByKey),
    cmd("srandmember", -2, READONLY, range(1, 1, 1), "set", ByKey),
    cmd("smove", 4, WRITE | FAST, range(1, 2, 1), "set", ByKey),
    cmd("sinter", -2, READONLY, range(1, -1, 1), "set", ByKey),
    cmd("sunion", -2, READONLY, range(1, -1, 1), "set", ByKey),
    cmd("sdiff", -2, READONLY, range(1, -1, 1), "set", ByKey),
    cmd("sinterstore", -3, WRITE | DENYOOM, range(1, -1, 1), "set", ByKey),
    cmd("sunionstore", -3, WRITE | DENYOOM, range(1, -1, 1), "set", ByKey),
    cmd("sdiffstore", -3, WRITE | DENYOOM, range(1, -1, 1), "set", ByKey),
    cmd("sintercard", -3, READONLY, numkeys(1, None), "set", ByKey),
    cmd("sscan", -3, READONLY, range(1, 1, 1), "set", ByKey),
    // Sorted sets
    cmd("zadd", -4, WRITE | DENYOOM | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zrem", -3, WRITE | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zscore", 3, READONLY | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zmscore", -3, READONLY | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zincrby", 4, WRITE | DENYOOM | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zcard", 2, READONLY | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zcount", 4, READONLY | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zrange", -4, READONLY, range(1, 1, 1), "sortedset", ByKey),
    cmd("zrangestore", -5, WRITE | DENYOOM, range(1, 2, 1), "sortedset", ByKey),
    cmd("zrevrange", -4, READONLY, range(1, 1, 1), "sortedset", ByKey),
    cmd("zrangebyscore", -4, READONLY, range(1, 1, 1), "sortedset", ByKey),
    cmd("zrevrangebyscore", -4, READONLY, range(1, 1, 1), "sortedset", ByKey),
    cmd("zrangebylex", -4, READONLY, range(1, 1, 1), "sortedset", ByKey),
    cmd("zrevrangebylex", -4, READONLY, range(1, 1, 1), "sortedset", ByKey),
    cmd("zrank", 3, READONLY | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zrevrank", 3, READONLY | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zremrangebyrank", 4, WRITE, range(1, 1, 1), "sortedset", ByKey),
    cmd("zremrangebyscore", 4, WRITE, range(1, 1, 1), "sortedset", ByKey),
    cmd("zremrangebylex", 4, WRITE, range(1, 1, 1), "sortedset", ByKey),
    cmd("zlexcount", 4, READONLY | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zpopmin", -2, WRITE | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("zpopmax", -2, WRITE | FAST, range(1, 1, 1), "sortedset", ByKey),
    cmd("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, range(1, -2, 1), "sortedset", ByKey),
    cmd("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, range(1, -2, 1), "sortedset", ByKey),
    cmd("zmpop", -4, WRITE, numkeys(1, None), "sortedset", ByKey),
    cmd("bzmpop", -5, WRITE | BLOCKING, numkeys(2, None), "sortedset", ByKey),
    cmd("zunion", -3, READONLY, numkeys(1, None), "sortedset", ByKey),
    cmd("zinter", -3, READONLY, numkeys(1, None), "sortedset", ByKey),
    cmd("zdiff", -3, READONLY, numkeys(1, None), "sortedset", ByKey),
    cmd("zunionstore", -4, WRITE | DENYOOM, numkeys(2, Some(1)), "sortedset", ByKey),
    cmd("zinterstore", -4, WRITE | DENYOOM, numkeys(2, Some(1)), "sortedset", ByKey),
    cmd("zdiffstore", -4, WRITE | DENYOOM, numkeys(2, Some(1)), "sortedset", ByKey),
    cmd("zintercard", -3, READONLY, numkeys(1, None), "sortedset", ByKey),
    cmd("zrandmember", -2, READONLY, range(1, 1, 1), "sortedset", ByKey),
    cmd("zscan", -3, READONLY, range(1, 1, 1), "sortedset", ByKey),
    // Scripting
    cmd("eval", -3, NOSCRIPT | STALE, numkeys(2, None), "scripting", ByKey),
    cmd("evalsha", -3, NOSCRIPT | STALE, numkeys(2, None), "scripting", ByKey),
    cmd("eval_ro", -3, NOSCRIPT | STALE | READONLY, numkeys(2, None), "scripting", ByKey),
    cmd("evalsha_ro", -3, NOSCRIPT | STALE | READONLY, numkeys(2, None), "scripting", ByKey),
    cmd("script", -2, KEYLESS, NONE, "scripting", Local).with_subs(&[
        cmd("script|load", 3, NOSCRIPT | STALE | KEYLESS, NONE, "scripting", Local),
        cmd("script|exists", -3, NOSCRIPT | STALE | KEYLESS, NONE, "scripting", Local),
        cmd("script|flush", -2, NOSCRIPT | KEYLESS, NONE, "scripting", Local),
        cmd("script|kill", 2, NOSCRIPT | ALLOW_BUSY | KEYLESS, NONE, "scripting", Local),
        cmd("script|help", 2, LOADING | STALE | KEYLESS, NONE, "scripting", Local),
    ]),
    // Transactions
    cmd("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | KEYLESS, NONE, "transaction", Local),
    cmd("exec", 1, NOSCRIPT | LOADING | STALE | KEYLESS, NONE, "transaction", Local),
    cmd("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | KEYLESS, NONE, "transaction", Local),
    cmd("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, range(1, -1, 1), "transaction", ByKey),
    cmd("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | KEYLESS, NONE, "transaction", Local),
    // Pub/sub
    cmd("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE | KEYLESS | PUBSUB_CONTEXT, NONE, "pubsub", Local),
    cmd("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | KEYLESS | PUBSUB_CONTEXT, NONE, "pubsub", Local),
    cmd("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE | KEYLESS | PUBSUB_CONTEXT, NONE, "pubsub", Local),
    cmd("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | KEYLESS | PUBSUB_CONTEXT, NONE, "pubsub", Local),
    cmd("publish", 3, PUBSUB | LOADING | STALE | FAST | KEYLESS, NONE, "pubsub", AnyNode),
    cmd("pubsub", -2, KEYLESS, NONE, "pubsub", Local).with_subs(&[
        cmd("pubsub|channels", -2, PUBSUB | LOADING | STALE | KEYLESS, NONE, "pubsub", AllNodes),
        cmd("pubsub|numsub", -2, PUBSUB | LOADING | STALE | KEYLESS, NONE, "pubsub", AllNodes),
        cmd("pubsub|numpat", 2, PUBSUB | LOADING | STALE | KEYLESS, NONE, "pubsub", AllNodes),
        cmd("pubsub|shardchannels", -2, PUBSUB | LOADING | STALE | KEYLESS, NONE, "pubsub", AllNodes),
        cmd("pubsub|shardnumsub", -2, PUBSUB | LOADING | STALE | KEYLESS, NONE, "pubsub", AllNodes),
        cmd("pubsub|help", 2, LOADING | STALE | KEYLESS, NONE, "pubsub", Local),
    ]),
    cmd("ssubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE | PUBSUB_CONTEXT, range(1, -1, 1), "pubsub", ByKey),
    cmd("sunsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | PUBSUB_CONTEXT, range(1, -1, 1), "pubsub", ByKey),
    cmd("spublish", 3, PUBSUB | LOADING | STALE | FAST, range(1, 1, 1), "pubsub", ByKey),
    // Cluster
    cmd("cluster", -2, KEYLESS, NONE, "cluster", Local).with_subs(&[
        cmd("cluster|slots", 2, STALE | KEYLESS, NONE, "cluster", Local),
        cmd("cluster|shards", 2, STALE | KEYLESS, NONE, "cluster", Local),
        cmd("cluster|nodes", 2, STALE | KEYLESS, NONE, "cluster", Local),
        cmd("cluster|myid", 2, STALE | KEYLESS, NONE, "cluster", Local),
        cmd("cluster|info", 2, STALE | KEYLESS, NONE, "cluster", Local),
        cmd("cluster|keyslot", 3, STALE | KEYLESS, NONE, "cluster", Local),
        cmd("cluster|countkeysinslot", 3, STALE | KEYLESS, NONE, "cluster", Local),
        cmd("cluster|getkeysinslot", 4, STALE | KEYLESS, NONE, "cluster", Local),
        cmd("cluster|help", 2, LOADING | STALE | KEYLESS, NONE, "cluster", Local),
    ]),
    cmd("asking", 1, FAST | KEYLESS, NONE, "connection", Local),
    cmd("readonly", 1, LOADING | STALE | FAST | KEYLESS, NONE, "connection", Local),
    cmd("readwrite", 1, LOADING | STALE | FAST | KEYLESS, NONE, "connection", Local),
];

/// `COMMAND DOCS` text for every row of [`COMMANDS`] and of their subcommands, from Redis 7.0:
/// `doc(name, since, group, complexity, summary)`. The group is Redis's documentation group,
/// which is not always the ACL category (`generic`, `sorted-set`, `transactions` …).
#[rustfmt::skip]
pub(super) static DOCS: &[CommandDoc] = &[
    doc("get", "1.0.0", "string", "O(1)", "Get the value of a key"),
    doc("set", "1.0.0", "string", "O(1)", "Set the string value of a key"),
    doc("setnx", "1.0.0", "string", "O(1)", "Set the value of a key, only if the key does not exist"),
    doc("setex", "2.0.0", "string", "O(1)", "Set the value and expiration of a key"),
    doc("psetex", "2.6.0", "string", "O(1)", "Set the value and expiration in milliseconds of a key"),
    doc("getset", "1.0.0", "string", "O(1)", "Set the string value of a key and return its old value"),
    doc("getdel", "6.2.0", "string", "O(1)", "Get the value of a key and delete the key"),
    doc("getex", "6.2.0", "string", "O(1)", "Get the value of a key and optionally set its expiration"),
    doc("mget", "1.0.0", "string", "O(N) where N is the number of keys to retrieve.", "Get the values of all the given keys"),
    doc("mset", "1.0.1", "string", "O(N) where N is the number of keys to set.", "Set multiple keys to multiple values"),
    doc("msetnx", "1.0.1", "string", "O(N) where N is the number of keys to set.", "Set multiple keys to multiple values, only if none of the keys exist"),
    doc("incr", "1.0.0", "string", "O(1)", "Increment the integer value of a key by one"),
    doc("decr", "1.0.0", "string", "O(1)", "Decrement the integer value of a key by one"),
    doc("incrby", "1.0.0", "string", "O(1)", "Increment the integer value of a key by the given amount"),
    doc("decrby", "1.0.0", "string", "O(1)", "Decrement the integer value of a key by the given number"),
    doc("incrbyfloat", "2.6.0", "string", "O(1)", "Increment the float value of a key by the given amount"),
    doc("append", "2.0.0", "string", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.", "Append a value to a key"),
    doc("strlen", "2.2.0", "string", "O(1)", "Get the length of the value stored in a key"),
    doc("getrange", "2.4.0", "string", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "Get a substring of the string stored at a key"),
    doc("setrange", "2.2.0", "string", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.", "Overwrite part of a string at key starting at the specified offset"),
    doc("substr", "1.0.0", "string", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "Get a substring of the string stored at a key"),
    doc("lcs", "7.0.0", "string", "O(N*M) where N and M are the lengths of s1 and s2, respectively", "Find longest common substring"),
    doc("setbit", "2.2.0", "bitmap", "O(1)", "Sets or clears the bit at offset in the string value stored at key"),
    doc("getbit", "2.2.0", "bitmap", "O(1)", "Returns the bit value at offset in the string value stored at key"),
    doc("bitcount", "2.6.0", "bitmap", "O(N)", "Count set bits in a string"),
    doc("bitpos", "2.8.7", "bitmap", "O(N)", "Find first bit set or clear in a string"),
    doc("bitop", "2.6.0", "bitmap", "O(N)", "Perform bitwise operations between strings"),
    doc("bitfield", "3.2.0", "bitmap", "O(1) for each subcommand specified", "Perform arbitrary bitfield integer operations on strings"),
    doc("bitfield_ro", "6.0.0", "bitmap", "O(1) for each subcommand specified", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD"),
    doc("del", "1.0.0", "generic", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).", "Delete a key"),
    doc("unlink", "4.0.0", "generic", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking."),
    doc("exists", "1.0.0", "generic", "O(N) where N is the number of keys to check.", "Determine if a key exists"),
    doc("type", "1.0.0", "generic", "O(1)", "Determine the type stored at key"),
    doc("expire", "1.0.0", "generic", "O(1)", "Set a key's time to live in seconds"),
    doc("pexpire", "2.6.0", "generic", "O(1)", "Set a key's time to live in milliseconds"),
    doc("expireat", "1.2.0", "generic", "O(1)", "Set the expiration for a key as a UNIX timestamp"),
    doc("pexpireat", "2.6.0", "generic", "O(1)", "Set the expiration for a key as a UNIX timestamp specified in milliseconds"),
    doc("ttl", "1.0.0", "generic", "O(1)", "Get the time to live for a key in seconds"),
    doc("pttl", "2.6.0", "generic", "O(1)", "Get the time to live for a key in milliseconds"),
    doc("expiretime", "7.0.0", "generic", "O(1)", "Get the expiration Unix timestamp for a key"),
    doc("pexpiretime", "7.0.0", "generic", "O(1)", "Get the expiration Unix timestamp for a key in milliseconds"),
    doc("persist", "2.2.0", "generic", "O(1)", "Remove the expiration from a key"),
    doc("keys", "1.0.0", "generic", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", "Find all keys matching the given pattern"),
    doc("scan", "2.8.0", "generic", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Incrementally iterate the keys space"),
    doc("randomkey", "1.0.0", "generic", "O(1)", "Return a random key from the keyspace"),
    doc("rename", "1.0.0", "generic", "O(1)", "Rename a key"),
    doc("renamenx", "1.0.0", "generic", "O(1)", "Rename a key, only if the new key does not exist"),
    doc("touch", "3.2.1", "generic", "O(N) where N is the number of keys that will be touched.", "Alters the last access time of a key(s). Returns the number of existing keys specified."),
    doc("copy", "6.2.0", "generic", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", "Copy a key"),
    doc("object", "2.2.3", "generic", "Depends on subcommand.", "A container for object introspection commands"),
    doc("object|encoding", "2.2.3", "generic", "O(1)", "Inspect the internal encoding of a Redis object"),
    doc("object|freq", "4.0.0", "generic", "O(1)", "Get the logarithmic access frequency counter of a Redis object"),
    doc("object|idletime", "2.2.3", "generic", "O(1)", "Get the time since a Redis object was last accessed"),
    doc("object|refcount", "2.2.3", "generic", "O(1)", "Get the number of references to the value of the key"),
    doc("object|tier", "7.0.0", "generic", "O(1)", "Tell which storage tier (memory or warm) holds the key"),
    doc("object|help", "6.2.0", "generic", "O(1)", "Show helpful text about the different subcommands"),
    doc("dump", "2.6.0", "generic", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).", "Return a serialized version of the value stored at the specified key."),
    doc("restore", "2.6.0", "generic", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", "Create a key using the provided serialized value, previously obtained using DUMP."),
    doc("dbsize", "1.0.0", "server", "O(1)", "Return the number of keys in the selected database"),
    doc("flushdb", "1.0.0", "server", "O(N) where N is the number of keys in the selected database", "Remove all keys from the current database"),
    doc("flushall", "1.0.0", "server", "O(N) where N is the total number of keys in all databases", "Remove all keys from all databases"),
    doc("ping", "1.0.0", "connection", "O(1)", "Ping the server"),
    doc("echo", "1.0.0", "connection", "O(1)", "Echo the given string"),
    doc("select", "1.0.0", "connection", "O(1)", "Change the selected database for the current connection"),
    doc("info", "1.0.0", "server", "O(1)", "Get information and statistics about the server"),
    doc("config", "2.0.0", "server", "Depends on subcommand.", "A container for server configuration commands"),
    doc("config|get", "2.0.0", "server", "O(N) when N is the number of configuration parameters provided", "Get the values of configuration parameters"),
    doc("config|set", "2.0.0", "server", "O(N) when N is the number of configuration parameters provided", "Set configuration parameters to the given values"),
    doc("config|resetstat", "2.0.0", "server", "O(1)", "Reset the stats returned by INFO"),
    doc("config|help", "5.0.0", "server", "O(1)", "Show helpful text about the different subcommands"),
    doc("client", "2.4.0", "connection", "Depends on subcommand.", "A container for client connection commands"),
    doc("client|id", "5.0.0", "connection", "O(1)", "Returns the client ID for the current connection"),
    doc("client|setname", "2.6.9", "connection", "O(1)", "Set the current connection name"),
    doc("client|getname", "2.6.9", "connection", "O(1)", "Get the current connection name"),
    doc("client|list", "2.4.0", "connection", "O(N) where N is the number of client connections", "Get the list of client connections"),
    doc("client|info", "6.2.0", "connection", "O(1)", "Returns information about the current client connection."),
    doc("client|kill", "2.4.0", "connection", "O(N) where N is the number of client connections", "Kill the connection of a client"),
    doc("client|setinfo", "7.2.0", "connection", "O(1)", "Sets information specific to the client or connection."),
    doc("client|no-evict", "7.0.0", "connection", "O(1)", "Set client eviction mode for the current connection"),
    doc("client|reply", "3.2.0", "connection", "O(1)", "Instruct the server whether to reply to commands"),
    doc("client|help", "5.0.0", "connection", "O(1)", "Show helpful text about the different subcommands"),
    doc("command", "2.8.13", "server", "O(N) where N is the total number of Redis commands", "Get array of Redis command details"),
    doc("command|count", "2.8.13", "server", "O(1)", "Get total number of Redis commands"),
    doc("command|info", "2.8.13", "server", "O(N) where N is the number of commands to look up", "Get array of specific Redis command details, or all when no argument is given."),
    doc("command|getkeys", "2.8.13", "server", "O(N) where N is the number of arguments to the command", "Extract keys given a full Redis command"),
    doc("command|list", "7.0.0", "server", "O(N) where N is the total number of Redis commands", "Get an array of Redis command names"),
    doc("command|docs", "7.0.0", "server", "O(N) where N is the number of commands to look up", "Get array of specific Redis command documentation"),
    doc("command|help", "5.0.0", "server", "O(1)", "Show helpful text about the different subcommands"),
    doc("time", "2.6.0", "server", "O(1)", "Return the current server time"),
    doc("quit", "1.0.0", "connection", "O(1)", "Close the connection"),
    doc("reset", "6.2.0", "connection", "O(1)", "Reset the connection"),
    doc("hello", "6.0.0", "connection", "O(1)", "Handshake with Redis"),
    doc("auth", "1.0.0", "connection", "O(N) where N is the number of passwords defined for the user", "Authenticate to the server"),
    doc("memory", "4.0.0", "server", "Depends on subcommand.", "A container for memory diagnostics commands"),
    doc("memory|usage", "4.0.0", "server", "O(N) where N is the number of samples.", "Estimate the memory usage of a key"),
    doc("hset", "2.0.0", "hash", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", "Set the string value of a hash field"),
    doc("hsetnx", "2.0.0", "hash", "O(1)", "Set the value of a hash field, only if the field does not exist"),
    doc("hget", "2.0.0", "hash", "O(1)", "Get the value of a hash field"),
    doc("hmset", "2.0.0", "hash", "O(N) where N is the number of fields being set.", "Set multiple hash fields to multiple values"),
    doc("hmget", "2.0.0", "hash", "O(N) where N is the number of fields being requested.", "Get the values of all the given hash fields"),
    doc("hgetall", "2.0.0", "hash", "O(N) where N is the size of the hash.", "Get all the fields and values in a hash"),
    doc("hdel", "2.0.0", "hash", "O(N) where N is the number of fields to be removed.", "Delete one or more hash fields"),
    doc("hexists", "2.0.0", "hash", "O(1)", "Determine if a hash field exists"),
    doc("hlen", "2.0.0", "hash", "O(1)", "Get the number of fields in a hash"),
    doc("hkeys", "2.0.0", "hash", "O(N) where N is the size of the hash.", "Get all the fields in a hash"),
    doc("hvals", "2.0.0", "hash", "O(N) where N is the size of the hash.", "Get all the values in a hash"),
    doc("hincrby", "2.0.0", "hash", "O(1)", "Increment the integer value of a hash field by the given number"),
    doc("hincrbyfloat", "2.6.0", "hash", "O(1)", "Increment the float value of a hash field by the given amount"),
    doc("hstrlen", "3.2.0", "hash", "O(1)", "Get the length of the value of a hash field"),
    doc("hrandfield", "6.2.0", "hash", "O(N) where N is the number of fields returned", "Get one or multiple random fields from a hash"),
    doc("hscan", "2.8.0", "hash", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", "Incrementally iterate hash fields and associated values"),
    doc("lpush", "1.0.0", "list", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Prepend one or multiple elements to a list"),
    doc("rpush", "1.0.0", "list", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Append one or multiple elements to a list"),
    doc("lpushx", "2.2.0", "list", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Prepend an element to a list, only if the list exists"),
    doc("rpushx", "2.2.0", "list", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Append an element to a list, only if the list exists"),
    doc("lpop", "1.0.0", "list", "O(N) where N is the number of elements returned", "Remove and get the first elements in a list"),
    doc("rpop", "1.0.0", "list", "O(N) where N is the number of elements returned", "Remove and get the last elements in a list"),
    doc("llen", "1.0.0", "list", "O(1)", "Get the length of a list"),
    doc("lrange", "1.0.0", "list", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", "Get a range of elements from a list"),
    doc("lindex", "1.0.0", "list", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", "Get an element from a list by its index"),
    doc("lset", "1.0.0", "list", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", "Set the value of an element in a list by its index"),
    doc("linsert", "2.2.0", "list", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", "Insert an element before or after another element in a list"),
    doc("lrem", "1.0.0", "list", "O(N+M) where N is the length of the list and M is the number of elements removed.", "Remove elements from a list"),
    doc("ltrim", "1.0.0", "list", "O(N) where N is the number of elements to be removed by the operation.", "Trim a list to the specified range"),
    doc("lpos", "6.0.6", "list", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", "Return the index of matching elements on a list"),
    doc("lmove", "6.2.0", "list", "O(1)", "Pop an element from a list, push it to another list and return it"),
    doc("rpoplpush", "1.2.0", "list", "O(1)", "Remove the last element in a list, prepend it to another list and return it"),
    doc("lmpop", "7.0.0", "list", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Pop elements from a list"),
    doc("blpop", "2.0.0", "list", "O(N) where N is the number of provided keys.", "Remove and get the first element in a list, or block until one is available"),
    doc("brpop", "2.0.0", "list", "O(N) where N is the number of provided keys.", "Remove and get the last element in a list, or block until one is available"),
    doc("blmove", "6.2.0", "list", "O(1)", "Pop an element from a list, push it to another list and return it; or block until one is available"),
    doc("brpoplpush", "2.2.0", "list", "O(1)", "Pop an element from a list, push it to another list and return it; or block until one is available"),
    doc("blmpop", "7.0.0", "list", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Pop elements from a list, or block until one is available"),
    doc("sadd", "1.0.0", "set", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Add one or more members to a set"),
    doc("srem", "1.0.0", "set", "O(N) where N is the number of members to be removed.", "Remove one or more members from a set"),
    doc("smembers", "1.0.0", "set", "O(N) where N is the set cardinality.", "Get all the members in a set"),
    doc("sismember", "1.0.0", "set", "O(1)", "Determine if a given value is a member of a set"),
    doc("smismember", "6.2.0", "set", "O(N) where N is the number of elements being checked for membership", "Returns the membership associated with the given elements for a set"),
    doc("scard", "1.0.0", "set", "O(1)", "Get the number of members in a set"),
    doc("spop", "1.0.0", "set", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", "Remove and return one or multiple random members from a set"),
    doc("srandmember", "1.0.0", "set", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", "Get one or multiple random members from a set"),
    doc("smove", "1.0.0", "set", "O(1)", "Move a member from one set to another"),
    doc("sinter", "1.0.0", "set", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Intersect multiple sets"),
    doc("sunion", "1.0.0", "set", "O(N) where N is the total number of elements in all given sets.", "Add multiple sets"),
    doc("sdiff", "1.0.0", "set", "O(N) where N is the total number of elements in all given sets.", "Subtract multiple sets"),
    doc("sinterstore", "1.0.0", "set", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Intersect multiple sets and store the resulting set in a key"),
    doc("sunionstore", "1.0.0", "set", "O(N) where N is the total number of elements in all given sets.", "Add multiple sets and store the resulting set in a key"),
    doc("sdiffstore", "1.0.0", "set", "O(N) where N is the total number of elements in all given sets.", "Subtract multiple sets and store the resulting set in a key"),
    doc("sintercard", "7.0.0", "set", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Intersect multiple sets and return the cardinality of the result"),
    doc("sscan", "2.8.0", "set", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", "Incrementally iterate Set elements"),
    doc("zadd", "1.2.0", "sorted-set", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "Add one or more members to a sorted set, or update its score if it already exists"),
    doc("zrem", "1.2.0", "sorted-set", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "Remove one or more members from a sorted set"),
    doc("zscore", "1.2.0", "sorted-set", "O(1)", "Get the score associated with the given member in a sorted set"),
    doc("zmscore", "6.2.0", "sorted-set", "O(N) where N is the number of members being requested.", "Get the score associated with the given members in a sorted set"),
    doc("zincrby", "1.2.0", "sorted-set", "O(log(N)) where N is the number of elements in the sorted set.", "Increment the score of a member in a sorted set"),
    doc("zcard", "1.2.0", "sorted-set", "O(1)", "Get the number of members in a sorted set"),
    doc("zcount", "2.0.0", "sorted-set", "O(log(N)) with N being the number of elements in the sorted set.", "Count the members in a sorted set with scores within the given values"),
    doc("zrange", "1.2.0", "sorted-set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "Return a range of members in a sorted set"),
    doc("zrangestore", "6.2.0", "sorted-set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", "Store a range of members from sorted set into another key"),
    doc("zrevrange", "1.2.0", "sorted-set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "Return a range of members in a sorted set, by index, with scores ordered from high to low"),
    doc("zrangebyscore", "1.0.5", "sorted-set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Return a range of members in a sorted set, by score"),
    doc("zrevrangebyscore", "2.2.0", "sorted-set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Return a range of members in a sorted set, by score, with scores ordered from high to low"),
    doc("zrangebylex", "2.8.9", "sorted-set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Return a range of members in a sorted set, by lexicographical range"),
    doc("zrevrangebylex", "2.8.9", "sorted-set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings."),
    doc("zrank", "2.0.0", "sorted-set", "O(log(N))", "Determine the index of a member in a sorted set"),
    doc("zrevrank", "2.0.0", "sorted-set", "O(log(N))", "Determine the index of a member in a sorted set, with scores ordered from high to low"),
    doc("zremrangebyrank", "2.0.0", "sorted-set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Remove all members in a sorted set within the given indexes"),
    doc("zremrangebyscore", "1.2.0", "sorted-set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Remove all members in a sorted set within the given scores"),
    doc("zremrangebylex", "2.8.9", "sorted-set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Remove all members in a sorted set between the given lexicographical range"),
    doc("zlexcount", "2.8.9", "sorted-set", "O(log(N)) with N being the number of elements in the sorted set.", "Count the number of members in a sorted set between a given lexicographical range"),
    doc("zpopmin", "5.0.0", "sorted-set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Remove and return members with the lowest scores in a sorted set"),
    doc("zpopmax", "5.0.0", "sorted-set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Remove and return members with the highest scores in a sorted set"),
    doc("bzpopmin", "5.0.0", "sorted-set", "O(log(N)) with N being the number of elements in the sorted set.", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available"),
    doc("bzpopmax", "5.0.0", "sorted-set", "O(log(N)) with N being the number of elements in the sorted set.", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available"),
    doc("zmpop", "7.0.0", "sorted-set", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "Remove and return members with scores in a sorted set"),
    doc("bzmpop", "7.0.0", "sorted-set", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "Remove and return members with scores in a sorted set or block until one is available"),
    doc("zunion", "6.2.0", "sorted-set", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "Add multiple sorted sets"),
    doc("zinter", "6.2.0", "sorted-set", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "Intersect multiple sorted sets"),
    doc("zdiff", "6.2.0", "sorted-set", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "Subtract multiple sorted sets"),
    doc("zunionstore", "2.0.0", "sorted-set", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "Add multiple sorted sets and store the resulting sorted set in a new key"),
    doc("zinterstore", "2.0.0", "sorted-set", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "Intersect multiple sorted sets and store the resulting sorted set in a new key"),
    doc("zdiffstore", "6.2.0", "sorted-set", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "Subtract multiple sorted sets and store the resulting sorted set in a new key"),
    doc("zintercard", "7.0.0", "sorted-set", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", "Intersect multiple sorted sets and return the cardinality of the result"),
    doc("zrandmember", "6.2.0", "sorted-set", "O(N) where N is the number of elements returned", "Get one or multiple random elements from a sorted set"),
    doc("zscan", "2.8.0", "sorted-set", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", "Incrementally iterate sorted sets elements and associated scores"),
    doc("eval", "2.6.0", "scripting", "Depends on the script that is executed.", "Execute a Lua script server side"),
    doc("evalsha", "2.6.0", "scripting", "Depends on the script that is executed.", "Execute a Lua script server side"),
    doc("eval_ro", "7.0.0", "scripting", "Depends on the script that is executed.", "Execute a read-only Lua script server side"),
    doc("evalsha_ro", "7.0.0", "scripting", "Depends on the script that is executed.", "Execute a read-only Lua script server side"),
    doc("script", "2.6.0", "scripting", "Depends on subcommand.", "A container for Lua scripts management commands"),
    doc("script|load", "2.6.0", "scripting", "O(N) with N being the length in bytes of the script body.", "Load the specified Lua script into the script cache."),
    doc("script|exists", "2.6.0", "scripting", "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).", "Check existence of scripts in the script cache."),
    doc("script|flush", "2.6.0", "scripting", "O(N) with N being the number of scripts in cache", "Remove all the scripts from the script cache."),
    doc("script|kill", "2.6.0", "scripting", "O(1)", "Kill the script currently in execution."),
    doc("script|help", "5.0.0", "scripting", "O(1)", "Show helpful text about the different subcommands"),
    doc("multi", "1.2.0", "transactions", "O(1)", "Mark the start of a transaction block"),
    doc("exec", "1.2.0", "transactions", "Depends on commands in the transaction", "Execute all commands issued after MULTI"),
    doc("discard", "2.0.0", "transactions", "O(N), when N is the number of queued commands", "Discard all commands issued after MULTI"),
    doc("watch", "2.2.0", "transactions", "O(1) for every key.", "Watch the given keys to determine execution of the MULTI/EXEC block"),
    doc("unwatch", "2.2.0", "transactions", "O(1)", "Forget about all watched keys"),
    doc("subscribe", "2.0.0", "pubsub", "O(N) where N is the number of channels to subscribe to.", "Listen for messages published to the given channels"),
    doc("unsubscribe", "2.0.0", "pubsub", "O(N) where N is the number of clients already subscribed to a channel.", "Stop listening for messages posted to the given channels"),
    doc("psubscribe", "2.0.0", "pubsub", "O(N) where N is the number of patterns the client is already subscribed to.", "Listen for messages published to channels matching the given patterns"),
    doc("punsubscribe", "2.0.0", "pubsub", "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).", "Stop listening for messages posted to channels matching the given patterns"),
    doc("publish", "2.0.0", "pubsub", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", "Post a message to a channel"),
    doc("pubsub", "2.8.0", "pubsub", "Depends on subcommand.", "A container for Pub/Sub commands"),
    doc("pubsub|channels", "2.8.0", "pubsub", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)", "List active channels"),
    doc("pubsub|numsub", "2.8.0", "pubsub", "O(N) for the NUMSUB subcommand, where N is the number of requested channels", "Get the count of subscribers for channels"),
    doc("pubsub|numpat", "2.8.0", "pubsub", "O(1)", "Get the count of unique patterns pattern subscriptions"),
    doc("pubsub|shardchannels", "7.0.0", "pubsub", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).", "List active shard channels"),
    doc("pubsub|shardnumsub", "7.0.0", "pubsub", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels", "Get the count of subscribers for shard channels"),
    doc("pubsub|help", "6.2.0", "pubsub", "O(1)", "Show helpful text about the different subcommands"),
    doc("ssubscribe", "7.0.0", "pubsub", "O(N) where N is the number of shard channels to subscribe to.", "Listen for messages published to the given shard channels"),
    doc("sunsubscribe", "7.0.0", "pubsub", "O(N) where N is the number of clients already subscribed to a shard channel.", "Stop listening for messages posted to the given shard channels"),
    doc("spublish", "7.0.0", "pubsub", "O(N) where N is the number of clients subscribed to the receiving shard channel.", "Post a message to a shard channel"),
    doc("cluster", "3.0.0", "cluster", "Depends on subcommand.", "A container for cluster commands"),
    doc("cluster|slots", "3.0.0", "cluster", "O(N) where N is the total number of Cluster nodes", "Get array of Cluster slot to node mappings"),
    doc("cluster|shards", "7.0.0", "cluster", "O(N) where N is the total number of cluster nodes", "Get array of cluster slots to node mappings"),
    doc("cluster|nodes", "3.0.0", "cluster", "O(N) where N is the total number of Cluster nodes", "Get Cluster config for the node"),
    doc("cluster|myid", "3.0.0", "cluster", "O(1)", "Return the node id"),
    doc("cluster|info", "3.0.0", "cluster", "O(1)", "Provides info about Redis Cluster node state"),
    doc("cluster|keyslot", "3.0.0", "cluster", "O(N) where N is the number of bytes in the key", "Returns the hash slot of the specified key"),
    doc("cluster|countkeysinslot", "3.0.0", "cluster", "O(1)", "Return the number of local keys in the specified hash slot"),
    doc("cluster|getkeysinslot", "3.0.0", "cluster", "O(log(N)) where N is the number of requested keys", "Return local key names in the specified hash slot"),
    doc("cluster|help", "5.0.0", "cluster", "O(1)", "Show helpful text about the different subcommands"),
    doc("asking", "3.0.0", "cluster", "O(1)", "Sent by cluster clients after an -ASK redirect"),
    doc("readonly", "3.0.0", "cluster", "O(1)", "Enables read queries for a connection to a cluster replica node"),
    doc("readwrite", "3.0.0", "cluster", "O(1)", "Disables read queries for a connection to a cluster replica node"),
];

#[cfg(test)]
mod tests {
    use super::super::{lookup, lookup_sub, position, KeysError};
    use super::*;

    fn all_rows() -> impl Iterator<Item = &'static CommandSpec> {
        COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands))
    }

    fn get(name: &str) -> &'static CommandSpec {
        lookup(name.as_bytes()).unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn spot_checks_against_redis_7() {
        let g = get("get");
        assert_eq!((g.arity, g.flags & !KEYLESS), (2, READONLY | FAST));
        assert_eq!(g.key_positions(), (1, 1, 1));
        let s = get("set");
        assert_eq!((s.arity, s.flags), (-3, WRITE | DENYOOM));
        assert_eq!(get("del").arity, -2);
        assert_eq!(get("mget").key_positions(), (1, -1, 1));
        assert_eq!(get("mset").key_positions(), (1, -1, 2));
        assert_eq!(get("blpop").key_positions(), (1, -2, 1));
        assert_eq!(get("bzpopmax").key_positions(), (1, -2, 1));
        let z = get("zunionstore");
        assert!(z.movable_keys());
        assert_eq!(
            z.keys,
            KeyRule::NumKeys {
                numkeys: 2,
                dest: Some(1)
            }
        );
        assert_eq!(z.key_positions(), (1, 1, 1));
        assert_eq!(
            get("blmpop").keys,
            KeyRule::NumKeys {
                numkeys: 2,
                dest: None
            }
        );
        assert_eq!(
            get("bzmpop").keys,
            KeyRule::NumKeys {
                numkeys: 2,
                dest: None
            }
        );
        assert_eq!(
            get("lmpop").keys,
            KeyRule::NumKeys {
                numkeys: 1,
                dest: None
            }
        );
        assert_eq!(get("blmpop").key_positions(), (0, 0, 0));
        assert!(get("blmpop").has(BLOCKING));
        let config = get("config");
        let config_get = lookup_sub(config, b"GET").unwrap();
        assert_eq!((config_get.name, config_get.arity), ("config|get", -3));
        assert!(config_get.has(ADMIN));
        assert_eq!(lookup_sub(get("command"), b"getkeys").unwrap().arity, -4);
        let encoding = lookup_sub(get("object"), b"encoding").unwrap();
        assert_eq!(encoding.key_positions(), (2, 2, 1));
        assert_eq!(get("ssubscribe").key_positions(), (1, -1, 1));
        assert_eq!(get("spublish").key_positions(), (1, 1, 1));
        assert_eq!(get("publish").keys, KeyRule::None);
    }

    #[test]
    fn lookup_ignores_case() {
        for name in ["get", "GET", "Get", "zUnIoNsToRe"] {
            let spec = lookup(name.as_bytes()).unwrap();
            assert!(spec.name.eq_ignore_ascii_case(name));
        }
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(b"").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
        assert_eq!(
            lookup_sub(get("client"), b"No-Evict").unwrap().name,
            "client|no-evict"
        );
        for (i, spec) in COMMANDS.iter().enumerate() {
            assert_eq!(position(spec), i);
        }
    }

    #[test]
    fn names_unique_and_lower_case() {
        let mut seen = std::collections::HashSet::new();
        for spec in all_rows() {
            assert!(seen.insert(spec.name), "duplicate {}", spec.name);
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
        }
        for parent in COMMANDS {
            assert!(!parent.name.contains('|'));
            for sub in parent.subcommands {
                let (p, s) = sub.name.split_once('|').expect("parent|sub");
                assert_eq!(p, parent.name);
                assert!(!s.is_empty() && sub.subcommands.is_empty());
            }
        }
    }

    #[test]
    fn routing_follows_keys() {
        for spec in all_rows() {
            let containers_keys = spec.subcommands.iter().any(|s| s.keys != KeyRule::None);
            let keyed = spec.keys != KeyRule::None || containers_keys;
            assert_eq!(keyed, spec.routing == Routing::ByKey, "{}", spec.name);
            assert_eq!(keyed, !spec.has(KEYLESS), "{}", spec.name);
            assert!(spec.arity != 0, "{}", spec.name);
            assert!(
                !(spec.has(READONLY) && spec.has(WRITE)),
                "{} is both read and write",
                spec.name
            );
        }
        for name in ["dbsize", "flushdb", "flushall", "keys", "scan"] {
            assert_eq!(get(name).routing, Routing::AllNodes, "{name}");
        }
        for name in ["randomkey", "time", "publish"] {
            assert_eq!(get(name).routing, Routing::AnyNode, "{name}");
        }
        for name in [
            "ping",
            "hello",
            "auth",
            "multi",
            "exec",
            "subscribe",
            "cluster",
            "asking",
        ] {
            assert_eq!(get(name).routing, Routing::Local, "{name}");
        }
        assert_eq!(get("watch").routing, Routing::ByKey);
    }

    #[test]
    fn pubsub_context_commands() {
        let allowed: Vec<_> = COMMANDS
            .iter()
            .filter(|c| c.has(PUBSUB_CONTEXT))
            .map(|c| c.name)
            .collect();
        let mut want = [
            "subscribe",
            "ssubscribe",
            "unsubscribe",
            "sunsubscribe",
            "psubscribe",
            "punsubscribe",
            "ping",
            "quit",
            "reset",
        ];
        let mut got = allowed.clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
    }

    #[test]
    fn key_indexes_of_movable_commands() {
        let idx = |line: &str| {
            let args: Vec<&str> = line.split(' ').collect();
            get(args[0]).key_indexes(&args)
        };
        assert_eq!(idx("mset a 1 b 2"), Ok(vec![1, 3]));
        assert_eq!(idx("zunionstore dst 2 a b weights 1 2"), Ok(vec![1, 3, 4]));
        assert_eq!(idx("blmpop 0 2 a b left count 1"), Ok(vec![3, 4]));
        assert_eq!(idx("bzmpop 0.5 1 a min"), Ok(vec![3]));
        assert_eq!(idx("sintercard 2 a b"), Ok(vec![2, 3]));
        assert_eq!(idx("blpop a b 0"), Ok(vec![1, 2]));
        assert_eq!(
            idx("zunionstore dst x a"),
            Err(KeysError::NumKeysNotInteger)
        );
        assert_eq!(idx("blmpop 0 3 a b"), Err(KeysError::NumKeysOutOfRange));
    }

    #[test]
    fn families_sorted_by_group() {
        for (name, group) in [
            ("get", "string"),
            ("del", "keyspace"),
            ("hset", "hash"),
            ("lpush", "list"),
            ("sadd", "set"),
            ("zadd", "sortedset"),
            ("multi", "transaction"),
            ("publish", "pubsub"),
            ("ping", "connection"),
            ("config", "server"),
            ("cluster", "cluster"),
        ] {
            assert_eq!(get(name).group, group, "{name}");
        }
    }
}
