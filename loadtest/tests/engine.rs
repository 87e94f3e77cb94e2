//! The engine against a real in-process node: exact request counts (as the server counted
//! them), open-loop and duration bounds, command templates, and verification catching keys
//! changed behind the workload's back.

mod common;

use autocache_loadtest::target::Outcome;
use autocache_loadtest::verify::Verdict;
use autocache_loadtest::{key_name, run_workload, verify, KeyPattern, Ratio};
use common::Node;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_requests_send_exactly_that_many_commands() {
    let node = Node::start().await;
    let mut cfg = node.config();
    cfg.requests = Some(1003);
    cfg.templates = "1:3".parse::<Ratio>().unwrap().templates();
    cfg.key_pattern = KeyPattern::Zipf(0.99);
    let w = run_workload(&cfg).await.unwrap();
    let calls = node.command_calls().await;
    let (sets, gets) = (calls["set"], calls["get"]);
    assert_eq!(sets + gets, 1003, "server saw {sets} SET + {gets} GET");
    assert_eq!(w.report.total.count, 1003);
    assert_eq!(w.report.commands[0].count, sets);
    assert_eq!(w.report.commands[1].count, gets);
    assert_eq!(w.report.total.errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_sends_exactly_the_requested_count() {
    let node = Node::start().await;
    let mut cfg = node.config();
    cfg.requests = Some(150);
    cfg.rate = Some(3000.0);
    cfg.clients = 3;
    cfg.templates = "1:0".parse::<Ratio>().unwrap().templates();
    let w = run_workload(&cfg).await.unwrap();
    assert_eq!(node.command_calls().await["set"], 150);
    assert_eq!(w.report.total.count, 150);
    assert_eq!(w.report.rate, Some(3000.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_bound_stops_the_run_and_counts_what_was_sent() {
    let node = Node::start().await;
    let mut cfg = node.config();
    cfg.duration = Some(Duration::from_millis(300));
    cfg.templates = "0:1".parse::<Ratio>().unwrap().templates();
    let w = run_workload(&cfg).await.unwrap();
    assert!(w.report.total.count > 0);
    assert_eq!(node.command_calls().await["get"], w.report.total.count);
    assert!(w.report.duration_secs >= 0.3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_send_their_commands_with_placeholders_filled() {
    let node = Node::start().await;
    let mut cfg = node.config();
    cfg.requests = Some(500);
    cfg.keyspace = 1;
    cfg.key_prefix = "k".into();
    cfg.data_size = "5".parse().unwrap();
    cfg.templates = vec!["APPEND s:__key__ <__data__>".parse().unwrap()];
    let w = run_workload(&cfg).await.unwrap();
    assert_eq!(w.report.commands[0].command, "APPEND");
    let mut c = node.client().await;
    let value: String = redis::cmd("GET")
        .arg("s:k000000000000")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(value, "<xxxxx>".repeat(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_a_key_deleted_behind_its_back_as_lost() {
    let node = Node::start().await;
    let mut cfg = node.config();
    cfg.requests = Some(2000);
    cfg.verify = true;
    cfg.templates = "1:1".parse::<Ratio>().unwrap().templates();
    let w = run_workload(&cfg).await.unwrap();
    let ledger = w.ledger.expect("verify keeps a ledger");
    let clean = verify(&cfg, &ledger).await.unwrap();
    assert_eq!(clean.failures(), 0, "{clean:?}");
    assert!(clean.keys_checked > 100);

    let victim = ledger.keys()[0];
    let mut c = node.client().await;
    let deleted: i64 = redis::cmd("DEL")
        .arg(key_name(&cfg.key_prefix, victim))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let v = verify(&cfg, &ledger).await.unwrap();
    assert_eq!((v.lost, v.stale, v.resurrected, v.unknown), (1, 0, 0, 0));
    assert_eq!(v.failures(), 1);
    let name = String::from_utf8(key_name(&cfg.key_prefix, victim)).unwrap();
    assert_eq!(v.examples, [format!("lost {name}")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_stale_and_resurrected_keys() {
    let node = Node::start().await;
    let mut cfg = node.config();
    cfg.requests = Some(3000);
    cfg.verify = true;
    cfg.keyspace = 50;
    cfg.templates = "2:0:1".parse::<Ratio>().unwrap().templates();
    let w = run_workload(&cfg).await.unwrap();
    let ledger = w.ledger.expect("ledger");
    assert_eq!(verify(&cfg, &ledger).await.unwrap().failures(), 0);

    // A key whose last acknowledged write was a DEL, and one that holds a SET's value.
    let any_value = Outcome::Value(bytes::Bytes::from_static(b"x"));
    let deleted = ledger
        .keys()
        .into_iter()
        .find(|&k| ledger.judge(k, &any_value) == Verdict::Resurrected);
    let present = ledger
        .keys()
        .into_iter()
        .find(|&k| ledger.judge(k, &Outcome::Nil) == Verdict::Lost);
    let (deleted, present) = (deleted.expect("a deleted key"), present.expect("a set key"));
    let mut c = node.client().await;
    // Bring the deleted key back, and give the present one an id no acknowledged write has.
    let _: () = redis::cmd("SET")
        .arg(key_name(&cfg.key_prefix, deleted))
        .arg("back from the dead")
        .query_async(&mut c)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(key_name(&cfg.key_prefix, present))
        .arg(format!("{:016x}{}", u64::MAX, "x".repeat(16)))
        .query_async(&mut c)
        .await
        .unwrap();
    let v = verify(&cfg, &ledger).await.unwrap();
    assert_eq!((v.lost, v.stale, v.resurrected), (0, 1, 1), "{v:?}");
}
