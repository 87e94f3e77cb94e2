use anyhow::Context;
use autocache_node::Config;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    // One thread is tokio's current-thread scheduler rather than a multi-thread runtime with
    // one worker (whose `block_on` thread is a second one): no cross-thread queues or
    // wake-ups. Pinned to one core, interleaved against one worker (three A/B runs, medians
    // of 3-6): SET -P 16 +11 to +27 %, -P 1 +12 to +21 %; GET of present keys +18 to +30 %
    // at -P 16; GET of missing keys unchanged.
    let mut builder = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if config.threads > 0 {
            b.worker_threads(config.threads);
        }
        b
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let addr = config.listen_addr();
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        tracing::info!("autocache-node listening on {}", listener.local_addr()?);
        autocache_node::run(listener, config, shutdown_signal()).await?;
        tracing::info!("autocache-node stopped");
        Ok(())
    })
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
