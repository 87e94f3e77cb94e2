//! `autocache-proxy`: serves legacy RESP clients as one big Redis, routing by slot to the
//! nodes named by the control service's slot map.

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;

// jemalloc: the proxy allocates a few small objects per command (its arguments, the reply
// slot); glibc's malloc took 16 % of the proxy's time at -P 16, jemalloc's thread caches less.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = autocache_proxy::Config::parse();
    // One thread is tokio's current-thread scheduler, not a multi-thread one with one worker:
    // every task, the I/O driver and the timers on the thread that started them, no
    // cross-thread queues. Measured interleaved against one worker (3 runs, medians): GET
    // 6-8 % more requests/s at -P 16, 6-14 % at -P 1; SET 1-3 % and 2-8 %.
    let mut builder = if config.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(config.threads);
        b
    };
    builder
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(serve(config))
}

async fn serve(config: autocache_proxy::Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;
    tracing::info!(addr = %config.addr, control = ?config.control, "proxy listening");
    autocache_proxy::run(listener, config, shutdown_signal()).await?;
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
