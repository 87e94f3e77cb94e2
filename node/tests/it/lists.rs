//! List commands against the real server: exact replies (RESP2, and RESP3 where the shapes
//! differ), errors, empty-list deletion, encodings, and the blocking pops.

use crate::common::*;

/// `[key, element]` as BLPOP answers.
fn pair(key: &str, element: &str) -> Vec<u8> {
    bulks(&[key, element])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_length() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["LPUSH", "l", "a", "b", "c"], b":3\r\n").await;
    c.call(&["RPUSH", "l", "d", "e"], b":5\r\n").await;
    c.call(
        &["LRANGE", "l", "0", "-1"],
        &bulks(&["c", "b", "a", "d", "e"]),
    )
    .await;
    c.call(&["LLEN", "l"], b":5\r\n").await;
    c.call(&["LLEN", "missing"], b":0\r\n").await;
    c.call(&["LPUSHX", "l", "x", "y"], b":7\r\n").await;
    c.call(&["RPUSHX", "l", "z"], b":8\r\n").await;
    c.call(
        &["LRANGE", "l", "0", "-1"],
        &bulks(&["y", "x", "c", "b", "a", "d", "e", "z"]),
    )
    .await;
    c.call(&["LPUSHX", "nope", "x"], b":0\r\n").await;
    c.call(&["RPUSHX", "nope", "x"], b":0\r\n").await;
    c.call(&["EXISTS", "nope"], b":0\r\n").await;
    c.call(
        &["LPUSH", "l"],
        b"-ERR wrong number of arguments for 'lpush' command\r\n",
    )
    .await;
    c.call(&["RPUSH", "empty", ""], b":1\r\n").await;
    c.call(&["LRANGE", "empty", "0", "-1"], b"*1\r\n$0\r\n\r\n")
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pops_with_and_without_count() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["LPOP", "missing"], b"$-1\r\n").await;
    c.call(&["RPOP", "missing"], b"$-1\r\n").await;
    c.call(&["LPOP", "missing", "2"], b"*-1\r\n").await;
    c.call(&["LPOP", "missing", "0"], b"*-1\r\n").await;
    c.call(&["RPUSH", "l", "a", "b", "c", "d", "e"], b":5\r\n")
        .await;
    c.call(&["LPOP", "l"], b"$1\r\na\r\n").await;
    c.call(&["RPOP", "l"], b"$1\r\ne\r\n").await;
    c.call(&["LPOP", "l", "0"], b"*0\r\n").await;
    c.call(&["LPOP", "l", "2"], &bulks(&["b", "c"])).await;
    let positive = b"-ERR value is out of range, must be positive\r\n";
    c.call(&["LPOP", "l", "-1"], positive).await;
    c.call(&["RPOP", "l", "abc"], positive).await;
    c.call(
        &["LPOP", "l", "1", "2"],
        b"-ERR wrong number of arguments for 'lpop' command\r\n",
    )
    .await;
    c.call(
        &["RPOP", "l", "1", "2"],
        b"-ERR wrong number of arguments for 'rpop' command\r\n",
    )
    .await;
    // Asking for more than there is returns what there is, and the empty list is deleted.
    c.call(&["RPUSH", "l", "x", "y"], b":3\r\n").await;
    c.call(&["RPOP", "l", "10"], &bulks(&["y", "x", "d"])).await;
    c.call(&["EXISTS", "l"], b":0\r\n").await;
    c.call(&["RPUSH", "one", "v"], b":1\r\n").await;
    c.call(&["LPOP", "one"], b"$1\r\nv\r\n").await;
    c.call(&["EXISTS", "one"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_refuses_other_types() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["SET", "s", "v"], b"+OK\r\n").await;
    c.call(&["RPUSH", "l", "a"], b":1\r\n").await;
    let calls: &[&[&str]] = &[
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "2"],
        &["LPOP", "s", "0"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "x"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "l", "LEFT", "LEFT"],
        &["LMOVE", "l", "s", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "l"],
        &["RPOPLPUSH", "l", "s"],
        &["LMPOP", "2", "missing", "s", "LEFT"],
        &["BLPOP", "missing", "s", "0"],
        &["BRPOP", "s", "0"],
        &["BLMOVE", "s", "l", "LEFT", "LEFT", "0"],
        &["BLMOVE", "l", "s", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "s", "l", "0"],
        &["BLMPOP", "0", "1", "s", "LEFT"],
    ];
    for args in calls {
        c.call(args, WRONGTYPE).await;
    }
    // A refused move leaves the source untouched.
    c.call(&["LRANGE", "l", "0", "-1"], &bulks(&["a"])).await;
    c.call(&["GET", "s"], b"$1\r\nv\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_and_indexes_count_from_either_end() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["RPUSH", "l", "a", "b", "c", "d", "e"], b":5\r\n")
        .await;
    c.call(&["LRANGE", "l", "1", "2"], &bulks(&["b", "c"]))
        .await;
    c.call(&["LRANGE", "l", "-2", "-1"], &bulks(&["d", "e"]))
        .await;
    c.call(
        &["LRANGE", "l", "-100", "100"],
        &bulks(&["a", "b", "c", "d", "e"]),
    )
    .await;
    c.call(&["LRANGE", "l", "3", "1"], b"*0\r\n").await;
    c.call(&["LRANGE", "l", "5", "10"], b"*0\r\n").await;
    c.call(&["LRANGE", "missing", "0", "-1"], b"*0\r\n").await;
    c.call(
        &["LRANGE", "l", "x", "1"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    c.call(&["LINDEX", "l", "0"], b"$1\r\na\r\n").await;
    c.call(&["LINDEX", "l", "-1"], b"$1\r\ne\r\n").await;
    c.call(&["LINDEX", "l", "-5"], b"$1\r\na\r\n").await;
    c.call(&["LINDEX", "l", "-6"], b"$-1\r\n").await;
    c.call(&["LINDEX", "l", "5"], b"$-1\r\n").await;
    c.call(&["LINDEX", "missing", "0"], b"$-1\r\n").await;
    c.call(
        &["LINDEX", "l", "x"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lset_replaces_by_index() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["LSET", "missing", "0", "x"], b"-ERR no such key\r\n")
        .await;
    c.call(&["RPUSH", "l", "a", "b", "c"], b":3\r\n").await;
    c.call(&["LSET", "l", "1", "B"], b"+OK\r\n").await;
    c.call(&["LSET", "l", "-1", "C"], b"+OK\r\n").await;
    c.call(&["LRANGE", "l", "0", "-1"], &bulks(&["a", "B", "C"]))
        .await;
    c.call(&["LSET", "l", "3", "x"], b"-ERR index out of range\r\n")
        .await;
    c.call(&["LSET", "l", "-4", "x"], b"-ERR index out of range\r\n")
        .await;
    c.call(
        &["LSET", "l", "x", "x"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linsert_before_and_after_the_first_pivot() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["LINSERT", "missing", "BEFORE", "a", "x"], b":0\r\n")
        .await;
    c.call(&["EXISTS", "missing"], b":0\r\n").await;
    c.call(&["RPUSH", "l", "a", "b", "a"], b":3\r\n").await;
    c.call(&["LINSERT", "l", "BEFORE", "a", "x"], b":4\r\n")
        .await;
    c.call(&["LINSERT", "l", "after", "a", "y"], b":5\r\n")
        .await;
    c.call(&["LINSERT", "l", "AFTER", "b", "z"], b":6\r\n")
        .await;
    c.call(
        &["LRANGE", "l", "0", "-1"],
        &bulks(&["x", "a", "y", "b", "z", "a"]),
    )
    .await;
    c.call(&["LINSERT", "l", "BEFORE", "nope", "x"], b":-1\r\n")
        .await;
    c.call(
        &["LINSERT", "l", "MIDDLE", "a", "x"],
        b"-ERR syntax error\r\n",
    )
    .await;
    c.call(
        &["LINSERT", "missing", "MIDDLE", "a", "x"],
        b"-ERR syntax error\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lrem_from_head_tail_or_everywhere() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["LREM", "missing", "0", "a"], b":0\r\n").await;
    c.call(&["RPUSH", "l", "a", "b", "a", "c", "a", "b"], b":6\r\n")
        .await;
    c.call(&["LREM", "l", "1", "a"], b":1\r\n").await;
    c.call(
        &["LRANGE", "l", "0", "-1"],
        &bulks(&["b", "a", "c", "a", "b"]),
    )
    .await;
    c.call(&["LREM", "l", "-1", "b"], b":1\r\n").await;
    c.call(&["LRANGE", "l", "0", "-1"], &bulks(&["b", "a", "c", "a"]))
        .await;
    c.call(&["LREM", "l", "0", "a"], b":2\r\n").await;
    c.call(&["LRANGE", "l", "0", "-1"], &bulks(&["b", "c"]))
        .await;
    c.call(&["LREM", "l", "5", "zz"], b":0\r\n").await;
    c.call(
        &["LREM", "l", "x", "b"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    c.call(&["LREM", "l", "0", "b"], b":1\r\n").await;
    c.call(&["LREM", "l", "-10", "c"], b":1\r\n").await;
    c.call(&["EXISTS", "l"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ltrim_keeps_a_range_and_deletes_an_empty_list() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["LTRIM", "missing", "0", "1"], b"+OK\r\n").await;
    c.call(&["RPUSH", "l", "a", "b", "c", "d", "e"], b":5\r\n")
        .await;
    c.call(&["LTRIM", "l", "1", "-2"], b"+OK\r\n").await;
    c.call(&["LRANGE", "l", "0", "-1"], &bulks(&["b", "c", "d"]))
        .await;
    c.call(&["LTRIM", "l", "-2", "100"], b"+OK\r\n").await;
    c.call(&["LRANGE", "l", "0", "-1"], &bulks(&["c", "d"]))
        .await;
    c.call(
        &["LTRIM", "l", "x", "1"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    c.call(&["LTRIM", "l", "1", "0"], b"+OK\r\n").await;
    c.call(&["EXISTS", "l"], b":0\r\n").await;
    c.call(&["RPUSH", "l", "a"], b":1\r\n").await;
    c.call(&["LTRIM", "l", "5", "10"], b"+OK\r\n").await;
    c.call(&["EXISTS", "l"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lpos_rank_count_and_maxlen() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(
        &["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"],
        b":8\r\n",
    )
    .await;
    c.call(&["LPOS", "l", "c"], b":2\r\n").await;
    c.call(&["LPOS", "l", "zz"], b"$-1\r\n").await;
    c.call(&["LPOS", "l", "c", "RANK", "2"], b":6\r\n").await;
    c.call(&["LPOS", "l", "c", "RANK", "4"], b"$-1\r\n").await;
    c.call(&["LPOS", "l", "c", "RANK", "-1"], b":7\r\n").await;
    c.call(&["LPOS", "l", "c", "RANK", "-3"], b":2\r\n").await;
    c.call(&["LPOS", "l", "c", "COUNT", "2"], b"*2\r\n:2\r\n:6\r\n")
        .await;
    c.call(
        &["LPOS", "l", "c", "COUNT", "0"],
        b"*3\r\n:2\r\n:6\r\n:7\r\n",
    )
    .await;
    c.call(
        &["LPOS", "l", "c", "RANK", "-1", "COUNT", "2"],
        b"*2\r\n:7\r\n:6\r\n",
    )
    .await;
    c.call(
        &["LPOS", "l", "c", "RANK", "2", "COUNT", "0"],
        b"*2\r\n:6\r\n:7\r\n",
    )
    .await;
    c.call(&["LPOS", "l", "zz", "COUNT", "0"], b"*0\r\n").await;
    c.call(
        &["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"],
        b"*2\r\n:2\r\n:6\r\n",
    )
    .await;
    c.call(&["LPOS", "l", "c", "MAXLEN", "2"], b"$-1\r\n").await;
    c.call(&["LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1"], b":7\r\n")
        .await;
    c.call(
        &["LPOS", "l", "c", "RANK", "-1", "COUNT", "0", "MAXLEN", "3"],
        b"*2\r\n:7\r\n:6\r\n",
    )
    .await;
    c.call(&["LPOS", "missing", "c"], b"$-1\r\n").await;
    c.call(&["LPOS", "missing", "c", "COUNT", "1"], b"*0\r\n")
        .await;
    c.call(
        &["LPOS", "l", "c", "RANK", "0"],
        b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n",
    )
    .await;
    c.call(
        &["LPOS", "l", "c", "COUNT", "-1"],
        b"-ERR COUNT can't be negative\r\n",
    )
    .await;
    c.call(
        &["LPOS", "l", "c", "MAXLEN", "-1"],
        b"-ERR MAXLEN can't be negative\r\n",
    )
    .await;
    c.call(
        &["LPOS", "l", "c", "RANK", "x"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    c.call(
        &["LPOS", "l", "c", "RANK", "-9223372036854775808"],
        b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
    )
    .await;
    c.call(&["LPOS", "l", "c", "RANK"], b"-ERR syntax error\r\n")
        .await;
    c.call(&["LPOS", "l", "c", "FOO", "1"], b"-ERR syntax error\r\n")
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lmove_between_lists_and_onto_itself() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["LMOVE", "missing", "dst", "LEFT", "RIGHT"], b"$-1\r\n")
        .await;
    c.call(&["EXISTS", "dst"], b":0\r\n").await;
    c.call(&["RPUSH", "src", "a", "b", "c"], b":3\r\n").await;
    c.call(&["LMOVE", "src", "dst", "LEFT", "RIGHT"], b"$1\r\na\r\n")
        .await;
    c.call(&["LMOVE", "src", "dst", "right", "left"], b"$1\r\nc\r\n")
        .await;
    c.call(&["LRANGE", "dst", "0", "-1"], &bulks(&["c", "a"]))
        .await;
    c.call(&["RPOPLPUSH", "src", "dst"], b"$1\r\nb\r\n").await;
    c.call(&["EXISTS", "src"], b":0\r\n").await;
    c.call(&["LRANGE", "dst", "0", "-1"], &bulks(&["b", "c", "a"]))
        .await;
    // Rotation: the same key as source and destination.
    c.call(&["RPOPLPUSH", "dst", "dst"], b"$1\r\na\r\n").await;
    c.call(&["LRANGE", "dst", "0", "-1"], &bulks(&["a", "b", "c"]))
        .await;
    c.call(&["LMOVE", "dst", "dst", "LEFT", "RIGHT"], b"$1\r\na\r\n")
        .await;
    c.call(&["LRANGE", "dst", "0", "-1"], &bulks(&["b", "c", "a"]))
        .await;
    c.call(&["RPUSH", "one", "x"], b":1\r\n").await;
    c.call(&["LMOVE", "one", "one", "LEFT", "LEFT"], b"$1\r\nx\r\n")
        .await;
    c.call(&["LRANGE", "one", "0", "-1"], &bulks(&["x"])).await;
    c.call(
        &["LMOVE", "one", "dst", "UP", "LEFT"],
        b"-ERR syntax error\r\n",
    )
    .await;
    c.call(
        &["LMOVE", "one", "dst", "LEFT", "DOWN"],
        b"-ERR syntax error\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lmpop_pops_from_the_first_non_empty_list() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["LMPOP", "2", "a", "b", "LEFT"], b"*-1\r\n").await;
    c.call(&["RPUSH", "b", "1", "2", "3"], b":3\r\n").await;
    c.call(
        &["LMPOP", "2", "a", "b", "LEFT"],
        b"*2\r\n$1\r\nb\r\n*1\r\n$1\r\n1\r\n",
    )
    .await;
    c.call(
        &["LMPOP", "2", "a", "b", "RIGHT", "COUNT", "5"],
        b"*2\r\n$1\r\nb\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n",
    )
    .await;
    c.call(&["EXISTS", "b"], b":0\r\n").await;
    c.call(
        &["LMPOP", "0", "a", "LEFT"],
        b"-ERR numkeys should be greater than 0\r\n",
    )
    .await;
    c.call(
        &["LMPOP", "x", "a", "LEFT"],
        b"-ERR numkeys should be greater than 0\r\n",
    )
    .await;
    c.call(&["LMPOP", "3", "a", "b", "LEFT"], b"-ERR syntax error\r\n")
        .await;
    c.call(&["LMPOP", "1", "a", "UP"], b"-ERR syntax error\r\n")
        .await;
    c.call(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "0"],
        b"-ERR count should be greater than 0\r\n",
    )
    .await;
    c.call(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "x"],
        b"-ERR count should be greater than 0\r\n",
    )
    .await;
    c.call(
        &["LMPOP", "1", "a", "LEFT", "COUNT"],
        b"-ERR syntax error\r\n",
    )
    .await;
    c.call(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"],
        b"-ERR syntax error\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_changes_keep_the_ttl() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["RPUSH", "l", "a", "b", "c"], b":3\r\n").await;
    c.call(&["EXPIRE", "l", "1000"], b":1\r\n").await;
    c.call(&["RPUSH", "l", "d"], b":4\r\n").await;
    c.call(&["LPOP", "l"], b"$1\r\na\r\n").await;
    c.call(&["LSET", "l", "0", "B"], b"+OK\r\n").await;
    c.call(&["LINSERT", "l", "AFTER", "B", "x"], b":4\r\n")
        .await;
    c.call(&["LREM", "l", "0", "x"], b":1\r\n").await;
    c.call(&["LTRIM", "l", "0", "1"], b"+OK\r\n").await;
    c.call(&["RPOPLPUSH", "l", "l"], b"$1\r\nc\r\n").await;
    let ttl: i64 = redis::cmd("TTL")
        .arg("l")
        .query_async(&mut s.client().await)
        .await
        .unwrap();
    assert!((990..=1000).contains(&ttl), "TTL kept, got {ttl}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoding_turns_quicklist_past_the_limits_and_back() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["RPUSH", "l", "a"], b":1\r\n").await;
    c.call(&["OBJECT", "ENCODING", "l"], b"$8\r\nlistpack\r\n")
        .await;
    for i in 2..=128 {
        c.call(&["RPUSH", "l", "a"], format!(":{i}\r\n").as_bytes())
            .await;
    }
    c.call(&["OBJECT", "ENCODING", "l"], b"$8\r\nlistpack\r\n")
        .await;
    c.call(&["LPUSH", "l", "b"], b":129\r\n").await;
    c.call(&["OBJECT", "ENCODING", "l"], b"$9\r\nquicklist\r\n")
        .await;
    c.call(&["LINDEX", "l", "0"], b"$1\r\nb\r\n").await;
    c.call(&["LINDEX", "l", "-1"], b"$1\r\na\r\n").await;
    // Back to listpack only at half the limit, so it does not flip at the boundary.
    c.call(&["LTRIM", "l", "0", "64"], b"+OK\r\n").await;
    c.call(&["OBJECT", "ENCODING", "l"], b"$9\r\nquicklist\r\n")
        .await;
    c.call(&["RPOP", "l"], b"$1\r\na\r\n").await;
    c.call(&["OBJECT", "ENCODING", "l"], b"$8\r\nlistpack\r\n")
        .await;
    c.call(&["LLEN", "l"], b":64\r\n").await;
    // One long element is enough.
    let long = "x".repeat(65);
    c.call(&["RPUSH", "big", "short", &long], b":2\r\n").await;
    c.call(&["OBJECT", "ENCODING", "big"], b"$9\r\nquicklist\r\n")
        .await;
    c.call(&["LRANGE", "big", "0", "-1"], &bulks(&["short", &long]))
        .await;
    c.call(&["RPUSH", "edge", &"y".repeat(64)], b":1\r\n").await;
    c.call(&["OBJECT", "ENCODING", "edge"], b"$8\r\nlistpack\r\n")
        .await;
    c.call(&["LSET", "edge", "0", &long], b"+OK\r\n").await;
    c.call(&["OBJECT", "ENCODING", "edge"], b"$9\r\nquicklist\r\n")
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_nulls() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.cmd(&["HELLO", "3"]).await;
    c.cmd(&["PING"]).await;
    // Skip HELLO's map: our replies start after PING's.
    let mut seen = Vec::new();
    while !seen.ends_with(b"+PONG\r\n") {
        seen.extend(c.read_exact_len(1).await);
    }
    assert!(seen.starts_with(b"%"), "HELLO 3 answers a map");
    c.call(&["LPOP", "missing"], b"_\r\n").await;
    c.call(&["LPOP", "missing", "2"], b"_\r\n").await;
    c.call(&["LINDEX", "missing", "0"], b"_\r\n").await;
    c.call(&["LPOS", "missing", "a"], b"_\r\n").await;
    c.call(&["LMOVE", "missing", "d", "LEFT", "LEFT"], b"_\r\n")
        .await;
    c.call(&["LMPOP", "1", "missing", "LEFT"], b"_\r\n").await;
    c.call(&["BLPOP", "missing", "0.01"], b"_\r\n").await;
    c.call(
        &["BLMOVE", "missing", "d", "LEFT", "LEFT", "0.01"],
        b"_\r\n",
    )
    .await;
    c.call(&["RPUSH", "l", "a", "b"], b":2\r\n").await;
    c.call(&["LPOP", "l", "1"], b"*1\r\n$1\r\na\r\n").await;
    c.call(
        &["LMPOP", "1", "l", "LEFT"],
        b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\nb\r\n",
    )
    .await;
    s.stop().await;
}

// ---- blocking ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_pops_serve_at_once_when_data_is_there() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["RPUSH", "b", "1", "2"], b":2\r\n").await;
    c.call(&["BLPOP", "a", "b", "0"], &pair("b", "1")).await;
    c.call(&["BRPOP", "a", "b", "0"], &pair("b", "2")).await;
    c.call(&["EXISTS", "b"], b":0\r\n").await;
    c.call(&["RPUSH", "src", "x", "y"], b":2\r\n").await;
    c.call(
        &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"],
        b"$1\r\ny\r\n",
    )
    .await;
    c.call(&["BRPOPLPUSH", "src", "dst", "0"], b"$1\r\nx\r\n")
        .await;
    c.call(&["LRANGE", "dst", "0", "-1"], &bulks(&["x", "y"]))
        .await;
    c.call(
        &["BLMPOP", "0", "2", "a", "dst", "RIGHT", "COUNT", "5"],
        b"*2\r\n$3\r\ndst\r\n*2\r\n$1\r\ny\r\n$1\r\nx\r\n",
    )
    .await;
    c.call(
        &["BLPOP", "a", "x"],
        b"-ERR timeout is not a float or out of range\r\n",
    )
    .await;
    c.call(&["BLPOP", "a", "-1"], b"-ERR timeout is negative\r\n")
        .await;
    c.call(
        &["BLMOVE", "a", "b", "UP", "LEFT", "0"],
        b"-ERR syntax error\r\n",
    )
    .await;
    c.call(
        &["BRPOPLPUSH", "a", "b", "x"],
        b"-ERR timeout is not a float or out of range\r\n",
    )
    .await;
    c.call(
        &["BLMPOP", "0", "0", "a", "LEFT"],
        b"-ERR numkeys should be greater than 0\r\n",
    )
    .await;
    c.call(
        &["BLMPOP", "x", "1", "a", "LEFT"],
        b"-ERR timeout is not a float or out of range\r\n",
    )
    .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blpop_is_woken_by_a_push_from_another_client() {
    let s = TestServer::start().await;
    let mut waiter = s.raw().await;
    let mut pusher = s.raw().await;
    waiter.cmd(&["BLPOP", "other", "q", "0"]).await;
    wait_blocked(&s, 1).await;
    pusher
        .call(&["RPUSH", "q", "hello", "world"], b":2\r\n")
        .await;
    waiter.expect(&pair("q", "hello")).await;
    wait_blocked(&s, 0).await;
    pusher
        .call(&["LRANGE", "q", "0", "-1"], &bulks(&["world"]))
        .await;
    // The connection works normally afterwards.
    waiter.call(&["BRPOP", "q", "0"], &pair("q", "world")).await;
    waiter.call(&["EXISTS", "q"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_timeouts_answer_null() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["BLPOP", "q", "0.1"], b"*-1\r\n").await;
    c.call(&["BRPOP", "q", "r", "0.1"], b"*-1\r\n").await;
    c.call(&["BLMPOP", "0.1", "1", "q", "LEFT"], b"*-1\r\n")
        .await;
    // As redis-server 7.0 answers: a null array for these too.
    c.call(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0.1"], b"*-1\r\n")
        .await;
    c.call(&["BRPOPLPUSH", "q", "d", "0.1"], b"*-1\r\n").await;
    c.call(&["EXISTS", "d"], b":0\r\n").await;
    // Redis 7.0 casts timeout * 1000 to a long long: past its range (infinities too) the
    // timeout is negative, hexadecimal reads.
    for huge in ["9223372036854775807", "1e100", "inf", "-inf"] {
        c.call(&["BLPOP", "q", huge], b"-ERR timeout is negative\r\n")
            .await;
    }
    c.call(&["BLPOP", "q", "0x0.1p-3"], b"*-1\r\n").await;
    // Under a millisecond rounds up to one, not down to "forever".
    c.call(&["BLPOP", "q", "0.0001"], b"*-1\r\n").await;
    // Under the range, far beyond any clock: waits (forever) instead of failing.
    let mut far = s.raw().await;
    far.cmd(&["BLPOP", "q", "9223372036854775"]).await;
    wait_blocked(&s, 1).await;
    c.call(&["RPUSH", "q", "v"], b":1\r\n").await;
    far.expect(&pair("q", "v")).await;
    wait_blocked(&s, 0).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_clients_are_served_first_come_first_served() {
    let s = TestServer::start().await;
    let mut first = s.raw().await;
    let mut second = s.raw().await;
    let mut third = s.raw().await;
    first.cmd(&["BLPOP", "q", "0"]).await;
    wait_blocked(&s, 1).await;
    second.cmd(&["BLPOP", "q", "0"]).await;
    wait_blocked(&s, 2).await;
    third.cmd(&["BLPOP", "q", "0"]).await;
    wait_blocked(&s, 3).await;
    let mut pusher = s.raw().await;
    pusher.call(&["RPUSH", "q", "1"], b":1\r\n").await;
    first.expect(&pair("q", "1")).await;
    wait_blocked(&s, 2).await;
    pusher.call(&["RPUSH", "q", "2"], b":1\r\n").await;
    second.expect(&pair("q", "2")).await;
    wait_blocked(&s, 1).await;
    pusher.call(&["RPUSH", "q", "3"], b":1\r\n").await;
    third.expect(&pair("q", "3")).await;
    wait_blocked(&s, 0).await;
    pusher.call(&["EXISTS", "q"], b":0\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blmove_and_blmpop_are_woken_by_a_push() {
    let s = TestServer::start().await;
    let mut mover = s.raw().await;
    let mut pusher = s.raw().await;
    mover
        .cmd(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"])
        .await;
    wait_blocked(&s, 1).await;
    pusher.call(&["RPUSH", "dst", "old"], b":1\r\n").await;
    pusher.call(&["RPUSH", "src", "v"], b":1\r\n").await;
    mover.expect(b"$1\r\nv\r\n").await;
    pusher
        .call(&["LRANGE", "dst", "0", "-1"], &bulks(&["old", "v"]))
        .await;
    pusher.call(&["EXISTS", "src"], b":0\r\n").await;

    mover.cmd(&["BRPOPLPUSH", "src", "dst", "0"]).await;
    wait_blocked(&s, 1).await;
    pusher.call(&["LPUSH", "src", "w"], b":1\r\n").await;
    mover.expect(b"$1\r\nw\r\n").await;
    pusher
        .call(&["LRANGE", "dst", "0", "-1"], &bulks(&["w", "old", "v"]))
        .await;

    mover
        .cmd(&["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"])
        .await;
    wait_blocked(&s, 1).await;
    pusher.call(&["RPUSH", "b", "1", "2", "3"], b":3\r\n").await;
    mover
        .expect(b"*2\r\n$1\r\nb\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n")
        .await;
    pusher
        .call(&["LRANGE", "b", "0", "-1"], &bulks(&["1"]))
        .await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_waiter_does_not_take_the_element() {
    let s = TestServer::start().await;
    let mut waiter = s.raw().await;
    waiter.cmd(&["BLPOP", "q", "0"]).await;
    wait_blocked(&s, 1).await;
    drop(waiter);
    wait_blocked(&s, 0).await;
    let mut c = s.raw().await;
    c.call(&["RPUSH", "q", "kept"], b":1\r\n").await;
    c.call(&["LRANGE", "q", "0", "-1"], &bulks(&["kept"])).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_commands_inside_exec_do_not_block() {
    let s = TestServer::start().await;
    let mut c = s.raw().await;
    c.call(&["MULTI"], b"+OK\r\n").await;
    c.call(&["BLPOP", "q", "0"], b"+QUEUED\r\n").await;
    c.call(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0"], b"+QUEUED\r\n")
        .await;
    c.call(&["BLMPOP", "0", "1", "q", "LEFT"], b"+QUEUED\r\n")
        .await;
    c.call(&["RPUSH", "r", "x"], b"+QUEUED\r\n").await;
    c.call(&["BRPOP", "r", "0"], b"+QUEUED\r\n").await;
    let mut expected = b"*5\r\n*-1\r\n$-1\r\n*-1\r\n:1\r\n".to_vec();
    expected.extend(pair("r", "x"));
    c.call(&["EXEC"], &expected).await;
    c.call(&["PING"], b"+PONG\r\n").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_inside_exec_wakes_a_blocked_client() {
    let s = TestServer::start().await;
    let mut waiter = s.raw().await;
    let mut c = s.raw().await;
    waiter.cmd(&["BRPOP", "q", "0"]).await;
    wait_blocked(&s, 1).await;
    c.call(&["MULTI"], b"+OK\r\n").await;
    c.call(&["RPUSH", "q", "x"], b"+QUEUED\r\n").await;
    c.call(&["RPUSH", "q", "y"], b"+QUEUED\r\n").await;
    c.call(&["EXEC"], b"*2\r\n:1\r\n:2\r\n").await;
    waiter.expect(&pair("q", "y")).await;
    c.call(&["LRANGE", "q", "0", "-1"], &bulks(&["x"])).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_client_sees_the_same_lists() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    let n: i64 = redis::cmd("RPUSH")
        .arg("l")
        .arg(&["1", "2", "3"])
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let all: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(all, ["1", "2", "3"]);
    let popped: Option<String> = redis::cmd("LPOP")
        .arg("missing")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(popped, None);
    s.stop().await;
}
