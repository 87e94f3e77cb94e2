//! `autocachectl`: AutoCache admin CLI (see `autocache_control::ctl`).

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let ctl = autocache_control::ctl::Ctl::parse();
    let code = autocache_control::ctl::run(ctl).await?;
    std::process::exit(code);
}
