//! `autocache-operator`: the Kubernetes operator for `AutoCacheCluster` (in-cluster config or
//! the local kubeconfig), with `/healthz` on `--metrics-addr`.

use anyhow::Context;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "autocache-operator",
    version,
    about = "Kubernetes operator for AutoCacheCluster"
)]
struct Args {
    /// Watch only this namespace (all namespaces when unset).
    #[arg(long, env = "AUTOCACHE_OPERATOR_NAMESPACE")]
    namespace: Option<String>,
    /// HTTP address answering `/healthz` and `/readyz` (off when unset).
    #[arg(long, env = "AUTOCACHE_OPERATOR_METRICS_ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes configuration (in-cluster or kubeconfig)")?;
    if let Some(addr) = args.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind {addr}"))?;
        tokio::spawn(autocache_proto::http::serve_probes(listener));
    }
    tracing::info!(namespace = ?args.namespace, "operator starting");
    autocache_control::operator::run(
        client,
        args.namespace.as_deref(),
        autocache_control::operator::GrpcControl,
        shutdown_signal(),
    )
    .await;
    tracing::info!("operator stopped");
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
