//! `autocachectl`: the admin CLI. Cluster commands talk to control over gRPC (human output,
//! or `--json`); `cli` is a one-shot RESP client for any node or proxy.

mod admin;
pub mod cli;
pub mod output;
pub mod reply;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "autocachectl", version, about = "AutoCache admin CLI")]
pub struct Ctl {
    /// Control service gRPC address.
    #[arg(
        long,
        global = true,
        env = "AUTOCACHE_CONTROL",
        default_value = "127.0.0.1:7000"
    )]
    pub control: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Nodes, health, slot ranges, migrations with progress.
    Status,
    /// Give unowned slots (or slots of a failed node) to a node, without moving data.
    Assign {
        /// Slots: `A-B`, `A`, comma separated.
        #[arg(long)]
        slots: String,
        /// Node id (or unique id prefix, or RESP address).
        #[arg(long)]
        to: String,
    },
    /// Migrate slots from one node to another.
    Migrate {
        #[arg(long)]
        slots: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Even out slots over the healthy nodes.
    Rebalance {
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Move every slot of a node to the others.
    Drain {
        node: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Remove a node that owns no slots.
    Forget { node: String },
    /// One-shot RESP client: `cli [-h HOST] [-p PORT] CMD ARGS...`.
    #[command(disable_help_flag = true)]
    Cli(cli::CliArgs),
}

#[derive(Debug, Clone, Copy, clap::Args)]
pub struct WaitArgs {
    /// Return once the migrations are queued instead of waiting for them.
    #[arg(long)]
    pub no_wait: bool,
}

/// Runs the parsed command; returns the process exit code.
pub async fn run(ctl: Ctl) -> anyhow::Result<i32> {
    match &ctl.command {
        Command::Cli(args) => match cli::run(args).await {
            Ok((text, is_error)) => {
                print!("{text}");
                Ok(i32::from(is_error))
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(1)
            }
        },
        _ => admin::run(&ctl).await,
    }
}

/// Parses `A-B,C,D-E` into inclusive ranges.
pub fn parse_slots(s: &str) -> Result<Vec<(u32, u32)>, String> {
    s.split(',')
        .map(|part| {
            let part = part.trim();
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let num = |x: &str| {
                x.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("invalid slot range '{part}'"))
            };
            let (a, b) = (num(a)?, num(b)?);
            if a > b || b >= autocache_proto::slot::SLOT_COUNT as u32 {
                return Err(format!("invalid slot range '{part}'"));
            }
            Ok((a, b))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_lists() {
        assert_eq!(parse_slots("0-99"), Ok(vec![(0, 99)]));
        assert_eq!(parse_slots("5, 7-8"), Ok(vec![(5, 5), (7, 8)]));
        assert!(parse_slots("9-1").is_err());
        assert!(parse_slots("16384").is_err());
        assert!(parse_slots("x").is_err());
    }

    #[test]
    fn cli_takes_dash_h_as_host() {
        let ctl = Ctl::try_parse_from([
            "autocachectl",
            "cli",
            "-h",
            "10.0.0.1",
            "-p",
            "7001",
            "SET",
            "k",
            "-1",
        ])
        .unwrap();
        let Command::Cli(args) = ctl.command else {
            panic!("not cli")
        };
        assert_eq!((args.host.as_str(), args.port), ("10.0.0.1", 7001));
        assert_eq!(args.command, vec!["SET", "k", "-1"]);
    }
}
