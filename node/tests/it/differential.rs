//! Differential testing against a real redis-server 7.0: the same commands go to both
//! servers, every reply must be byte-identical, and so must what each publishes as keyspace
//! notifications (a `PSUBSCRIBE __key*__:*` client on each).

use crate::common::*;

/// A server under test: a connection for commands and a subscriber to every notification.
pub struct Side {
    pub name: &'static str,
    cmd: Raw,
    sub: Raw,
}

impl Side {
    pub async fn new(name: &'static str, addr: std::net::SocketAddr) -> Side {
        let mut sub = Raw::connect(addr).await;
        sub.cmd(&["PSUBSCRIBE", "__key*__:*"]).await;
        let reply = read_reply(&mut sub).await;
        assert!(reply.starts_with(b"*3\r\n$10\r\npsubscribe"), "{name}");
        Side {
            name,
            cmd: Raw::connect(addr).await,
            sub,
        }
    }

    pub async fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.cmd.send(&encode_bin(args)).await;
        read_reply(&mut self.cmd).await
    }

    /// Every message published since the last call: a marker is published last and
    /// everything before it is returned (in order, as raw pmessage frames).
    pub async fn messages(&mut self) -> Vec<String> {
        let marker = b"__keyspace@0__:--marker--";
        let n = self.call(&[b"PUBLISH", marker, b"end"]).await;
        assert_eq!(
            n, b":1\r\n",
            "{}: the subscriber receives the marker",
            self.name
        );
        let mut seen = Vec::new();
        loop {
            let frame = read_reply(&mut self.sub).await;
            let text = String::from_utf8_lossy(&frame).replace("\r\n", " ");
            if text.contains("--marker--") {
                return seen;
            }
            seen.push(text);
        }
    }
}

/// Runs `script` on both servers, asserting equal replies, then equal notifications.
pub async fn same(ours: &mut Side, redis: &mut Side, script: &[&[&str]]) -> Vec<String> {
    for args in script {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let r = redis.call(&args).await;
        let o = ours.call(&args).await;
        assert_eq!(
            String::from_utf8_lossy(&o),
            String::from_utf8_lossy(&r),
            "reply to {:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
    }
    let (o, r) = (ours.messages().await, redis.messages().await);
    assert_eq!(o, r, "notifications for {script:?}");
    o
}

/// Our server and a redis-server side by side.
pub struct Pair {
    pub server: TestServer,
    _redis: RedisServer,
    pub o: Side,
    pub r: Side,
}

impl Pair {
    pub async fn start(server: TestServer) -> Pair {
        let redis = RedisServer::start().await;
        let o = Side::new("ours", server.addr).await;
        let r = Side::new("redis", redis.addr).await;
        Pair {
            server,
            _redis: redis,
            o,
            r,
        }
    }

    /// [`same`] on both sides.
    pub async fn same(&mut self, script: &[&[&str]]) -> Vec<String> {
        same(&mut self.o, &mut self.r, script).await
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// A fixed-seed xorshift generator: `next(n)` is below `n`, the same run every time.
pub fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}
