//! Where requests go: one endpoint (node, proxy or any Redis), or a Redis Cluster that the
//! router learns with `CLUSTER SLOTS` and follows like a smart client (`MOVED` updates the
//! slot's owner, `ASK` retries once on the named node after `ASKING`).
//!
//! A client sends its requests in rounds: a [`Batch`] of encoded commands goes out in one
//! write per server, then every reply is read and classified.

use crate::conn::{Conn, ConnOpts};
use crate::resp::{encode_command, parse, Reply};
use crate::Error;
use bytes::Bytes;
use std::io;
use std::ops::Range;
use tokio::time::Instant;

/// The server(s) a run talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `host:port` of one endpoint.
    Single(String),
    /// Seed `host:port`s of a cluster.
    Cluster(Vec<String>),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Single(a) => write!(f, "{a}"),
            Target::Cluster(seeds) => write!(f, "cluster {}", seeds.join(",")),
        }
    }
}

/// What came back for one command.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// No reply (yet): when a round fails, these commands may or may not have run.
    Pending,
    Ok,
    Nil,
    /// A bulk reply, kept only for commands that asked for it.
    Value(Bytes),
    Error(String),
}

/// One command of a round.
#[derive(Debug)]
pub struct Op {
    range: Range<usize>,
    slot: Option<u16>,
    want_value: bool,
    pub outcome: Outcome,
    /// When its reply arrived.
    pub at: Instant,
}

/// The commands of one round, encoded back to back.
#[derive(Debug, Default)]
pub struct Batch {
    buf: Vec<u8>,
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ops.clear();
    }

    /// Adds a command that `encode` appends; `key` routes it in a cluster.
    pub fn push(
        &mut self,
        key: Option<&[u8]>,
        want_value: bool,
        encode: impl FnOnce(&mut Vec<u8>),
    ) {
        let start = self.buf.len();
        encode(&mut self.buf);
        self.ops.push(Op {
            range: start..self.buf.len(),
            slot: key.map(autocache_proto::slot::key_slot),
            want_value,
            outcome: Outcome::Pending,
            at: Instant::now(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Sends batches to the target, reconnecting lazily after a failed round.
pub enum Router {
    Single(Single),
    Cluster(Cluster),
}

impl Router {
    /// Connects (or learns the cluster's map); failures here mean a bad target.
    pub async fn open(target: &Target, opts: &ConnOpts) -> Result<Router, Error> {
        match target {
            Target::Single(addr) => {
                let conn = Conn::connect(addr, opts)
                    .await
                    .map_err(|source| Error::Connect {
                        addr: addr.clone(),
                        source,
                    })?;
                Ok(Router::Single(Single {
                    addr: addr.clone(),
                    conn: Some(conn),
                    opts: opts.clone(),
                }))
            }
            Target::Cluster(seeds) => {
                let mut c = Cluster::new(seeds.clone(), opts.clone());
                c.refresh().await.map_err(|source| Error::Connect {
                    addr: seeds.join(","),
                    source,
                })?;
                Ok(Router::Cluster(c))
            }
        }
    }

    /// MOVED/ASK redirects followed so far (always 0 for a single endpoint).
    pub fn redirects(&self) -> u64 {
        match self {
            Router::Single(_) => 0,
            Router::Cluster(c) => c.redirects,
        }
    }

    /// Sends every command of `batch` and fills in the outcomes. On an I/O error or timeout
    /// the connections are dropped (the next round reconnects) and unanswered commands stay
    /// [`Outcome::Pending`].
    pub async fn execute(&mut self, batch: &mut Batch) -> io::Result<()> {
        let timeout = match self {
            Router::Single(s) => s.opts.timeout,
            Router::Cluster(c) => c.opts.timeout,
        };
        let run = async {
            match self {
                Router::Single(s) => s.execute(batch).await,
                Router::Cluster(c) => c.execute(batch).await,
            }
        };
        let res = match tokio::time::timeout(timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no reply within the timeout",
            )),
        };
        if res.is_err() {
            match self {
                Router::Single(s) => s.conn = None,
                Router::Cluster(c) => c.reset(),
            }
        }
        res
    }
}

fn classify(frame: Bytes, want_value: bool) -> Outcome {
    match frame.first() {
        Some(b'-' | b'!') => match parse(&frame) {
            Ok(Reply::Error(e)) => Outcome::Error(e),
            _ => Outcome::Error("malformed error reply".into()),
        },
        Some(b'_') => Outcome::Nil,
        Some(b'$' | b'*') if frame.starts_with(b"$-1\r") || frame.starts_with(b"*-1\r") => {
            Outcome::Nil
        }
        Some(b'$') if want_value => match parse(&frame) {
            Ok(Reply::Bulk(b)) => Outcome::Value(b),
            _ => Outcome::Ok,
        },
        _ => Outcome::Ok,
    }
}

pub struct Single {
    addr: String,
    conn: Option<Conn>,
    opts: ConnOpts,
}

impl Single {
    async fn execute(&mut self, batch: &mut Batch) -> io::Result<()> {
        if self.conn.is_none() {
            self.conn = Some(Conn::connect(&self.addr, &self.opts).await?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        conn.write(&batch.buf).await?;
        for op in &mut batch.ops {
            let frame = conn.frame().await?;
            op.outcome = classify(frame, op.want_value);
            op.at = conn.read_at;
        }
        Ok(())
    }
}

/// Slot owner not known: send to any node and let it redirect.
const UNKNOWN: u16 = u16::MAX;
/// Redirects followed per command before its error is kept as the outcome.
const MAX_REDIRECTS: usize = 5;

pub struct Cluster {
    seeds: Vec<String>,
    /// Known node addresses; `conns` and the slot table index into it.
    nodes: Vec<String>,
    conns: Vec<Option<Conn>>,
    slots: Vec<u16>,
    opts: ConnOpts,
    /// Fetch the map again before the next round (after a failure).
    stale: bool,
    /// MOVED and ASK replies followed.
    redirects: u64,
}

/// A `MOVED` or `ASK` error.
#[derive(Debug, PartialEq, Eq)]
pub struct Redirect {
    pub ask: bool,
    pub slot: u16,
    pub addr: String,
}

impl Redirect {
    /// Parses `MOVED 3999 127.0.0.1:6381` / `ASK 3999 127.0.0.1:6381`.
    pub fn parse(err: &str) -> Option<Redirect> {
        let mut words = err.split_whitespace();
        let ask = match words.next()? {
            "MOVED" => false,
            "ASK" => true,
            _ => return None,
        };
        let slot = words.next()?.parse().ok()?;
        let addr = words.next()?.to_string();
        Some(Redirect { ask, slot, addr })
    }
}

impl Cluster {
    fn new(seeds: Vec<String>, opts: ConnOpts) -> Cluster {
        Cluster {
            seeds,
            nodes: Vec::new(),
            conns: Vec::new(),
            slots: vec![UNKNOWN; 16384],
            opts,
            stale: true,
            redirects: 0,
        }
    }

    fn reset(&mut self) {
        self.conns.iter_mut().for_each(|c| *c = None);
        self.stale = true;
    }

    /// Learns the slot map from the first seed or known node that answers CLUSTER SLOTS.
    async fn refresh(&mut self) -> io::Result<()> {
        let candidates: Vec<String> = self.seeds.iter().chain(&self.nodes).cloned().collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no seed nodes");
        for addr in candidates {
            match fetch_slots(&addr, &self.opts).await {
                Ok(ranges) => {
                    self.slots.fill(UNKNOWN);
                    for (start, end, owner) in ranges {
                        let node = self.node_index(&owner);
                        for s in start..=end.min(16383) {
                            self.slots[s as usize] = node;
                        }
                    }
                    self.stale = false;
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn node_index(&mut self, addr: &str) -> u16 {
        if let Some(i) = self.nodes.iter().position(|n| n == addr) {
            return i as u16;
        }
        self.nodes.push(addr.to_string());
        self.conns.push(None);
        (self.nodes.len() - 1) as u16
    }

    fn node_for(&self, slot: Option<u16>) -> usize {
        match slot.map(|s| self.slots[s as usize]) {
            Some(n) if n != UNKNOWN => n as usize,
            _ => 0,
        }
    }

    async fn conn(&mut self, node: usize) -> io::Result<&mut Conn> {
        if self.conns[node].is_none() {
            self.conns[node] = Some(Conn::connect(&self.nodes[node], &self.opts).await?);
        }
        Ok(self.conns[node].as_mut().expect("connected above"))
    }

    async fn execute(&mut self, batch: &mut Batch) -> io::Result<()> {
        if self.stale {
            self.refresh().await?;
        }
        if self.nodes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "cluster has no nodes",
            ));
        }
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, op) in batch.ops.iter().enumerate() {
            groups[self.node_for(op.slot)].push(i);
        }
        // All writes first, then all reads: the nodes work on their parts at the same time.
        let mut out = Vec::new();
        for (node, idxs) in groups.iter().enumerate().filter(|(_, g)| !g.is_empty()) {
            out.clear();
            for &i in idxs {
                out.extend_from_slice(&batch.buf[batch.ops[i].range.clone()]);
            }
            self.conn(node).await?.write(&out).await?;
        }
        for (node, idxs) in groups.iter().enumerate().filter(|(_, g)| !g.is_empty()) {
            let conn = self.conns[node].as_mut().expect("written above");
            for &i in idxs {
                let frame = conn.frame().await?;
                batch.ops[i].outcome = classify(frame, batch.ops[i].want_value);
                batch.ops[i].at = conn.read_at;
            }
        }
        for i in 0..batch.ops.len() {
            self.follow_redirects(batch, i).await?;
        }
        Ok(())
    }

    /// Re-sends command `i` where MOVED/ASK point, as a cluster client must.
    async fn follow_redirects(&mut self, batch: &mut Batch, i: usize) -> io::Result<()> {
        for _ in 0..MAX_REDIRECTS {
            let redirect = match &batch.ops[i].outcome {
                Outcome::Error(e) => match Redirect::parse(e) {
                    Some(r) => r,
                    None => return Ok(()),
                },
                _ => return Ok(()),
            };
            self.redirects += 1;
            let node = self.node_index(&redirect.addr);
            let mut out = Vec::new();
            if redirect.ask {
                encode_command(&mut out, &[b"ASKING"]);
            } else {
                self.slots[redirect.slot as usize & 16383] = node;
            }
            out.extend_from_slice(&batch.buf[batch.ops[i].range.clone()]);
            let conn = self.conn(node as usize).await?;
            conn.write(&out).await?;
            if redirect.ask {
                conn.frame().await?; // ASKING's +OK
            }
            let frame = conn.frame().await?;
            batch.ops[i].outcome = classify(frame, batch.ops[i].want_value);
            batch.ops[i].at = conn.read_at;
        }
        Ok(())
    }
}

/// `CLUSTER SLOTS` from `addr` as (first slot, last slot, owner address) ranges.
async fn fetch_slots(addr: &str, opts: &ConnOpts) -> io::Result<Vec<(u16, u16, String)>> {
    let mut conn = Conn::connect(addr, opts).await?;
    let reply = tokio::time::timeout(opts.timeout, conn.call(&[b"CLUSTER", b"SLOTS"]))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "CLUSTER SLOTS timed out"))??;
    let seed_host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    parse_slots(&reply, seed_host).map_err(|e| io::Error::other(format!("CLUSTER SLOTS: {e}")))
}

/// Reads a CLUSTER SLOTS reply; an empty or `?` host means "the node you asked".
pub fn parse_slots(reply: &Reply, seed_host: &str) -> Result<Vec<(u16, u16, String)>, String> {
    let ranges = match reply {
        Reply::Array(r) => r,
        Reply::Error(e) => return Err(e.clone()),
        other => return Err(format!("unexpected reply {other:?}")),
    };
    let mut out = Vec::new();
    for range in ranges {
        let Reply::Array(fields) = range else {
            return Err("a slot range is not an array".into());
        };
        let (Some(Reply::Int(start)), Some(Reply::Int(end)), Some(Reply::Array(master))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            return Err("malformed slot range".into());
        };
        let (Some(host), Some(Reply::Int(port))) =
            (master.first().and_then(Reply::as_text), master.get(1))
        else {
            return Err("malformed node in slot range".into());
        };
        let host = if host.is_empty() || host == "?" {
            seed_host.to_string()
        } else {
            host
        };
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        out.push((*start as u16, *end as u16, addr));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_parse() {
        assert_eq!(
            Redirect::parse("MOVED 3999 127.0.0.1:6381"),
            Some(Redirect {
                ask: false,
                slot: 3999,
                addr: "127.0.0.1:6381".into()
            })
        );
        assert!(Redirect::parse("ASK 1 10.0.0.1:7000").unwrap().ask);
        assert_eq!(Redirect::parse("ERR unknown command"), None);
        assert_eq!(Redirect::parse("MOVED x y"), None);
    }

    #[test]
    fn cluster_slots_reply_parses() {
        let frame = Bytes::from_static(
            b"*2\r\n\
              *3\r\n:0\r\n:8191\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n\
              *4\r\n:8192\r\n:16383\r\n*2\r\n$0\r\n\r\n:7001\r\n*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n",
        );
        let reply = parse(&frame).unwrap();
        assert_eq!(
            parse_slots(&reply, "127.0.0.9").unwrap(),
            vec![
                (0, 8191, "127.0.0.1:7000".to_string()),
                (8192, 16383, "127.0.0.9:7001".to_string())
            ]
        );
        let err = Reply::Error("ERR This instance has cluster support disabled".into());
        assert!(parse_slots(&err, "h")
            .unwrap_err()
            .contains("cluster support disabled"));
    }

    #[test]
    fn replies_classify() {
        let c = |b: &'static [u8], want| classify(Bytes::from_static(b), want);
        assert_eq!(c(b"+OK\r\n", false), Outcome::Ok);
        assert_eq!(c(b"$-1\r\n", true), Outcome::Nil);
        assert_eq!(c(b"_\r\n", true), Outcome::Nil);
        assert_eq!(c(b"$2\r\nab\r\n", false), Outcome::Ok);
        assert_eq!(
            c(b"$2\r\nab\r\n", true),
            Outcome::Value(Bytes::from_static(b"ab"))
        );
        assert_eq!(
            c(b"-MOVED 1 h:1\r\n", false),
            Outcome::Error("MOVED 1 h:1".into())
        );
    }
}
