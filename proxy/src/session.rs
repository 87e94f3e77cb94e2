//! Dedicated streams for stateful clients: WATCH … EXEC, blocking pops and subscriptions
//! each get an `Execute` stream of their own to the owning node, which the node treats as one
//! client session. The shared streams thus never carry client state.

use autocache_proto::pb::node::{reply, Command, CommandBatch, Reply, ReplyBatch};
use bytes::Bytes;
use tokio::sync::mpsc;
use tonic::Streaming;

use crate::upstream::UpError;

/// One node-side session.
pub struct Session {
    addr: String,
    out: mpsc::UnboundedSender<CommandBatch>,
    inbound: Streaming<ReplyBatch>,
    /// Replies received but not consumed yet (a batch may hold several).
    ready: std::collections::VecDeque<Reply>,
    next_id: u64,
}

impl Session {
    pub fn new(
        addr: String,
        out: mpsc::UnboundedSender<CommandBatch>,
        inbound: Streaming<ReplyBatch>,
    ) -> Session {
        Session {
            addr,
            out,
            inbound,
            ready: Default::default(),
            next_id: 1,
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends commands as one batch without waiting; returns their ids.
    pub fn send(&mut self, cmds: Vec<Vec<Bytes>>, resp_version: u32) -> Result<Vec<u64>, UpError> {
        let mut ids = Vec::with_capacity(cmds.len());
        let commands = cmds
            .into_iter()
            .map(|args| {
                let id = self.next_id;
                self.next_id += 1;
                ids.push(id);
                Command {
                    id,
                    args,
                    resp_version,
                    asking: false,
                    raw: Bytes::new(),
                }
            })
            .collect();
        self.out
            .send(CommandBatch {
                commands,
                pipelines: Vec::new(),
            })
            .map_err(|_| UpError::Unreachable(self.addr.clone()))?;
        Ok(ids)
    }

    /// The next reply the node sends, whatever its id (pushes of a subscription included).
    pub async fn next(&mut self) -> Result<Reply, UpError> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Ok(r);
            }
            match self.inbound.message().await {
                Ok(Some(batch)) => self.ready.extend(batch.replies),
                _ => return Err(UpError::Unreachable(self.addr.clone())),
            }
        }
    }

    /// Sends `cmds` and returns their replies in order. Replies to other ids (none are
    /// expected outside subscriptions) are dropped.
    pub async fn call_many(
        &mut self,
        cmds: Vec<Vec<Bytes>>,
        resp_version: u32,
    ) -> Result<Vec<Reply>, UpError> {
        let ids = self.send(cmds, resp_version)?;
        let mut replies: Vec<Option<Reply>> = vec![None; ids.len()];
        let first = ids.first().copied().unwrap_or(0);
        let mut missing = ids.len();
        while missing > 0 {
            let r = self.next().await?;
            let Some(slot) = r.id.checked_sub(first).map(|i| i as usize) else {
                continue;
            };
            if slot < replies.len() && replies[slot].is_none() {
                replies[slot] = Some(r);
                missing -= 1;
            }
        }
        Ok(replies.into_iter().flatten().collect())
    }

    pub async fn call(&mut self, args: Vec<Bytes>, resp_version: u32) -> Result<Reply, UpError> {
        let mut v = self.call_many(vec![args], resp_version).await?;
        Ok(v.remove(0))
    }
}

/// The RESP bytes of a reply, or the redirect as an error a client may see (only used when
/// following it is not possible, e.g. inside a pinned session).
pub fn reply_bytes(r: Reply) -> Bytes {
    match r.result {
        Some(reply::Result::Resp(b)) => b,
        Some(reply::Result::Redirect(_)) => {
            Bytes::from_static(b"-TRYAGAIN Slot moved while the session was open\r\n")
        }
        None => Bytes::from_static(b"-ERR empty reply from node\r\n"),
    }
}

/// A subscription: the node's `Execute` stream has no way to push published messages, so a
/// subscribed client gets a plain RESP connection to the node owning its channels' slot, and
/// the proxy relays frames both ways for as long as the client stays subscribed.
pub struct Subscription {
    node: tokio::net::TcpStream,
    buf: bytes::BytesMut,
    pub slot: u16,
}

impl Subscription {
    /// Connects to the node's RESP address, switching to RESP3 first when the client
    /// speaks it (the node then writes pushes the way the client expects).
    pub async fn open(resp_addr: &str, slot: u16, resp_version: u32) -> std::io::Result<Self> {
        let node = tokio::net::TcpStream::connect(resp_addr).await?;
        let _ = node.set_nodelay(true);
        let mut sub = Subscription {
            node,
            buf: bytes::BytesMut::with_capacity(4096),
            slot,
        };
        if resp_version == 3 {
            sub.send(&[Bytes::from_static(b"HELLO"), Bytes::from_static(b"3")])
                .await?;
            sub.next().await?;
        }
        Ok(sub)
    }

    pub async fn send(&mut self, args: &[Bytes]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.node.write_all(&out).await
    }

    /// The next complete frame from the node.
    pub async fn next(&mut self) -> std::io::Result<Bytes> {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(end) = crate::resp::skip(&self.buf, 0) {
                return Ok(self.buf.split_to(end).freeze());
            }
            if self.node.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}
