//! Serving: plain HTTP or HTTPS (rustls) on one accept loop with the same limits (a
//! connection cap, a header-read and handshake timeout), and the session sweeper.

use crate::{Shared, router};
use std::time::Duration;

/// Drops expired sessions (and zeroes their keys) every minute.
fn sweep_sessions(shared: &Shared) {
    let shared = shared.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            shared.sessions.sweep(shared.app.now());
        }
    });
}

/// What one server holds open at once, and how long it waits for a client.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; beyond it, new ones wait in the kernel's queue.
    pub max_connections: usize,
    /// A client must send a request's headers within this (a half-open connection is
    /// closed), and finish a TLS handshake within it.
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves plain HTTP until the listener fails or the process ends.
pub async fn serve(shared: Shared, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    serve_with(shared, listener, None, Limits::default()).await
}

/// Serves HTTPS on `listener`. A failed or stalled handshake ends that connection only.
pub async fn serve_tls(
    shared: Shared,
    listener: tokio::net::TcpListener,
    tls: Tls,
) -> std::io::Result<()> {
    serve_with(shared, listener, Some(tls), Limits::default()).await
}

/// Serves plain HTTP, or HTTPS with `tls`, with the same limits on both.
pub async fn serve_with(
    shared: Shared,
    listener: tokio::net::TcpListener,
    tls: Option<Tls>,
    limits: Limits,
) -> std::io::Result<()> {
    sweep_sessions(&shared);
    let app = router(shared);
    let acceptor = tls.map(|tls| tokio_rustls::TlsAcceptor::from(tls.config));
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    loop {
        // At the limit, wait for a connection to end before taking the next one.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        let (tcp, address) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match acceptor {
                Some(acceptor) => {
                    let handshake = acceptor.accept(tcp);
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(limits.header_read_timeout, handshake).await
                    {
                        serve_connection(stream, app, address, limits).await;
                    }
                }
                None => serve_connection(tcp, app, address, limits).await,
            }
        });
    }
}

/// Serves one connection's requests until it closes, breaks or times out; the next
/// connection is unaffected.
async fn serve_connection<S>(
    stream: S,
    app: axum::Router,
    address: std::net::SocketAddr,
    limits: Limits,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(address));
            tower::ServiceExt::oneshot(app.clone(), request)
        });
    if let Err(error) = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%error, "connection ended");
    }
}

/// A certificate chain and private key for serving HTTPS directly (rustls, ring).
pub struct Tls {
    config: std::sync::Arc<rustls::ServerConfig>,
}

impl Tls {
    /// Loads a PEM certificate chain (leaf first) and its PEM private key. Errors name the
    /// file and what is wrong with it.
    pub fn from_pem_files(
        certificate: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Tls, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
            .and_then(|certificates| certificates.collect())
            .map_err(|error| format!("{}: {error}", certificate.display()))?;
        if certificates.is_empty() {
            return Err(format!(
                "{}: no PEM certificate in it",
                certificate.display()
            ));
        }
        let private_key = PrivateKeyDer::from_pem_file(key)
            .map_err(|error| format!("{}: no usable PEM private key ({error})", key.display()))?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .with_no_client_auth()
            .with_single_cert(certificates, private_key)
            .map_err(|error| {
                format!(
                    "{} and {} do not make a usable certificate and key: {error}",
                    certificate.display(),
                    key.display()
                )
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: std::sync::Arc::new(config),
        })
    }
}
