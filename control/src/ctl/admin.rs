//! The cluster commands of `autocachectl`: one gRPC call to control each, then (for commands
//! that queue migrations) a progress bar polling Status until the moves are done.

use std::time::Duration;

use anyhow::{anyhow, Context};
use autocache_proto::pb::control::{self as pb, control_client::ControlClient};
use indicatif::{ProgressBar, ProgressStyle};
use tonic::transport::Channel;

use super::output::{self, AdminJson};
use super::{parse_slots, Command, Ctl, WaitArgs};

const POLL: Duration = Duration::from_millis(200);

pub async fn run(ctl: &Ctl) -> anyhow::Result<i32> {
    let mut client = connect(&ctl.control).await?;
    let result = dispatch(ctl, &mut client).await;
    match result {
        Ok(()) => Ok(0),
        Err(e) => {
            // gRPC refusals carry control's own message.
            match e.downcast_ref::<tonic::Status>() {
                Some(s) => eprintln!("error: {}", s.message()),
                None => eprintln!("error: {e:#}"),
            }
            Ok(1)
        }
    }
}

async fn connect(addr: &str) -> anyhow::Result<ControlClient<Channel>> {
    let url = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    ControlClient::connect(url.clone())
        .await
        .with_context(|| format!("cannot connect to control at {addr}"))
}

fn ranges(slots: &str) -> anyhow::Result<Vec<pb::SlotRange>> {
    let parsed = parse_slots(slots).map_err(|e| anyhow!(e))?;
    Ok(parsed
        .into_iter()
        .map(|(start, end)| pb::SlotRange { start, end })
        .collect())
}

async fn dispatch(ctl: &Ctl, client: &mut ControlClient<Channel>) -> anyhow::Result<()> {
    let (reply, wait) = match &ctl.command {
        Command::Status => return status(ctl, client).await,
        Command::Assign { slots, to } => {
            let req = pb::AssignSlotsRequest {
                ranges: ranges(slots)?,
                node: to.clone(),
            };
            (client.assign_slots(req).await?.into_inner(), None)
        }
        Command::Migrate {
            slots,
            from,
            to,
            wait,
        } => {
            let req = pb::MigrateSlotsRequest {
                ranges: ranges(slots)?,
                source: from.clone(),
                target: to.clone(),
            };
            (client.migrate_slots(req).await?.into_inner(), Some(*wait))
        }
        Command::Rebalance { wait } => (
            client
                .rebalance(pb::RebalanceRequest {})
                .await?
                .into_inner(),
            Some(*wait),
        ),
        Command::Drain { node, wait } => {
            let req = pb::DrainRequest { node: node.clone() };
            (client.drain(req).await?.into_inner(), Some(*wait))
        }
        Command::Forget { node } => {
            let req = pb::ForgetRequest { node: node.clone() };
            (client.forget(req).await?.into_inner(), None)
        }
        Command::Cli(_) => unreachable!("cli does not talk to control"),
    };
    let mut shown = AdminJson::from(&reply);
    if let Some(WaitArgs { no_wait: false }) = wait {
        if reply.slots_queued > 0 {
            shown.epoch = wait_for_moves(client, !ctl.json).await?;
        }
    }
    if ctl.json {
        println!("{}", serde_json::to_string_pretty(&shown)?);
    } else {
        print!("{}", output::admin_text(&shown));
    }
    Ok(())
}

async fn status(ctl: &Ctl, client: &mut ControlClient<Channel>) -> anyhow::Result<()> {
    let reply = client.status(pb::StatusRequest {}).await?.into_inner();
    let s = output::status_json(&reply).map_err(|e| anyhow!(e))?;
    if ctl.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", output::status_text(&s));
    }
    Ok(())
}

/// Polls Status until no migration is active or queued; returns the final epoch.
async fn wait_for_moves(client: &mut ControlClient<Channel>, show: bool) -> anyhow::Result<u64> {
    let bar = if show {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} migrating [{bar:40}] {pos}/{len} slots {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let mut total = 0u64;
    loop {
        let reply = client.status(pb::StatusRequest {}).await?.into_inner();
        let remaining = reply.moves.len() as u64;
        total = total.max(remaining);
        bar.set_length(total);
        bar.set_position(total - remaining);
        let active = reply
            .moves
            .iter()
            .filter(|m| m.state == pb::MoveState::Active as i32)
            .count();
        bar.set_message(format!("({active} active)"));
        if remaining == 0 {
            bar.finish_and_clear();
            return Ok(reply.map.map_or(0, |m| m.epoch));
        }
        tokio::time::sleep(POLL).await;
    }
}
