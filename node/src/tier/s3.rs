//! The cold tier on S3 (or any S3-compatible server): segments are objects under a prefix,
//! read back with ranged GETs. Credentials come from the usual AWS chain (environment,
//! profile, web identity, instance metadata); TLS is rustls on ring.

use super::cold::{ColdFuture, ColdStore};
use super::TierError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

/// `--s3-*`: where segments go.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// An S3-compatible server's URL (`http://127.0.0.1:9000`); AWS when unset.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), as most S3-compatible servers want.
    pub path_style: bool,
}

pub struct S3Tier {
    client: Client,
    bucket: String,
}

fn err(what: &str, e: impl std::fmt::Display) -> TierError {
    TierError::Cold(format!("S3 {what}: {e}"))
}

/// The full chain of causes of an SDK error (its Display is terse: "service error").
fn detail<E: std::error::Error>(e: &E) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

impl S3Tier {
    /// Builds the client (on the cold tier's runtime: the SDK loads config asynchronously).
    pub async fn connect(s: S3Settings) -> S3Tier {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
        if let Some(r) = &s.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        if let Some(e) = &s.endpoint {
            loader = loader.endpoint_url(e.clone());
        }
        let shared = loader.load().await;
        let mut conf = aws_sdk_s3::config::Builder::from(&shared).force_path_style(s.path_style);
        if shared.region().is_none() {
            // S3-compatible servers ignore the region, but signing needs one.
            conf = conf.region(aws_config::Region::new("us-east-1"));
        }
        S3Tier {
            client: Client::from_conf(conf.build()),
            bucket: s.bucket,
        }
    }
}

impl ColdStore for S3Tier {
    fn put(&self, name: String, body: Vec<u8>) -> ColdFuture<()> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(name)
            .body(ByteStream::from(body));
        Box::pin(async move {
            req.send().await.map_err(|e| err("put", detail(&e)))?;
            Ok(())
        })
    }

    fn get_range(&self, name: String, offset: u64, len: u64) -> ColdFuture<Vec<u8>> {
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(name)
            .range(format!("bytes={}-{}", offset, offset + len.max(1) - 1));
        Box::pin(async move {
            let out = req.send().await.map_err(|e| err("get", detail(&e)))?;
            let body = out.body.collect().await.map_err(|e| err("read", e))?;
            Ok(body.into_bytes().to_vec())
        })
    }

    fn get(&self, name: String) -> ColdFuture<Vec<u8>> {
        let req = self.client.get_object().bucket(&self.bucket).key(name);
        Box::pin(async move {
            let out = req.send().await.map_err(|e| err("get", detail(&e)))?;
            let body = out.body.collect().await.map_err(|e| err("read", e))?;
            Ok(body.into_bytes().to_vec())
        })
    }

    fn delete(&self, name: String) -> ColdFuture<()> {
        let req = self.client.delete_object().bucket(&self.bucket).key(name);
        Box::pin(async move {
            req.send().await.map_err(|e| err("delete", detail(&e)))?;
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "s3"
    }
}
