//! Test harness: an in-process AutoCache node (`autocache_node::run`) on an ephemeral
//! loopback port, a `redis` crate client to inspect it, and a load-test config aimed at it.
#![allow(dead_code)]

use autocache_loadtest::{Config, Target};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct Node {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Node {
    pub async fn start() -> Node {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let config = autocache_node::Config::default_for_tests();
        tokio::spawn(autocache_node::run(listener, config, async {
            let _ = rx.await;
        }));
        Node {
            addr,
            stop: Some(tx),
        }
    }

    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(format!("redis://{}/", self.addr))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("connect")
    }

    /// A small, seeded workload against this node.
    pub fn config(&self) -> Config {
        let mut c = Config::new(Target::Single(self.addr.to_string()));
        c.clients = 4;
        c.pipeline = 8;
        c.keyspace = 200;
        c.seed = 42;
        c.timeout = std::time::Duration::from_secs(5);
        c
    }

    /// `calls=` per command from INFO commandstats, e.g. `calls["set"]`.
    pub async fn command_calls(&self) -> HashMap<String, u64> {
        let mut c = self.client().await;
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut c)
            .await
            .unwrap();
        info.lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("cmdstat_")?;
                let (name, fields) = rest.split_once(':')?;
                let calls = fields.split(',').find_map(|f| f.strip_prefix("calls="))?;
                Some((name.to_string(), calls.trim().parse().ok()?))
            })
            .collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
