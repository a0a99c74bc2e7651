//! `refuge serve`: the web application, on a real database or a throw-away demo.

use crate::config::Config;
use crate::secrets;
use anyhow::{Context, Result, bail};
use refuge_app::demo::DemoOptions;
use refuge_app::{App, SystemClock};
use refuge_core::NodeId;
use refuge_store::DynStore;

pub async fn serve(
    config: &Config<'_>,
    demo: bool,
    demo_people: usize,
    listen: std::net::SocketAddr,
    behind_proxy: bool,
    tls: Option<refuge_web::Tls>,
) -> Result<()> {
    if !listen.ip().is_loopback() && !behind_proxy && tls.is_none() {
        bail!(
            "refusing to serve on {listen} without TLS: give --tls-cert and --tls-key, or put refuge behind a TLS-terminating proxy and pass --behind-proxy"
        );
    }
    let app = if demo {
        demo_organisation(config, demo_people).await?
    } else {
        config.open().await?
    };
    let transport = if behind_proxy || tls.is_some() {
        refuge_web::Transport::Secure
    } else {
        refuge_web::Transport::Loopback
    };
    let state = std::sync::Arc::new(refuge_web::ServerState {
        app,
        sessions: refuge_web::Sessions::new(refuge_web::SessionPolicy::default()),
        transport,
    });
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    outln!(
        "Serving on {scheme}://{} (Ctrl-C to stop)",
        listener.local_addr()?
    );
    let served = async {
        match tls {
            Some(tls) => refuge_web::serve_tls(state, listener, tls).await,
            None => refuge_web::serve(state, listener).await,
        }
    };
    tokio::select! {
        result = served => result?,
        _ = tokio::signal::ctrl_c() => outln!("Stopped."),
    }
    Ok(())
}

/// A throw-away organisation of synthetic people in a temporary SQLite file.
async fn demo_organisation(config: &Config<'_>, people: usize) -> Result<App> {
    let path =
        std::env::temp_dir().join(format!("refuge-demo-{}.db", uuid::Uuid::now_v7().simple()));
    let passphrase = secrets::new_passphrase(
        config.global,
        "REFUGE_PASSPHRASE",
        "Passphrase for every demo user",
    )?;
    let store: DynStore =
        Box::new(refuge_store::SqliteStore::create(&path, NodeId(uuid::Uuid::now_v7())).await?);
    let app = App::new(store, Box::new(SystemClock));
    let session = app.init("admin", passphrase.value(), people as u64).await?;
    let options = DemoOptions {
        people,
        ..DemoOptions::default()
    };
    let report = app
        .populate_demo(&session, &options, passphrase.value(), &mut |_, _| {})
        .await?;
    drop(session);
    outln!(
        "Demo organisation: {} synthetic people in {}",
        report.people,
        path.display()
    );
    outln!("Log in as any of these users:");
    for (name, role, locations) in &report.users {
        let at = if locations.is_empty() {
            String::new()
        } else {
            format!(" at {}", locations.join(", "))
        };
        outln!("  {name:<16} {role}{at}");
    }
    passphrase.announce("every demo user")?;
    Ok(app)
}
