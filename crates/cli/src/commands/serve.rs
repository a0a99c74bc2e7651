//! `refuge serve`: the web application, on a real database or a throw-away demo.

use crate::args::ServeArgs;
use crate::commands::setup::remove_database;
use crate::config::Config;
use crate::secrets;
use anyhow::{Context, Result, bail};
use refuge_app::demo::DemoOptions;
use refuge_app::{App, SystemClock};
use refuge_core::NodeId;
use refuge_store::DynStore;

pub async fn serve(config: &Config<'_>, args: ServeArgs) -> Result<()> {
    let ServeArgs {
        demo,
        demo_people,
        listen,
        behind_proxy,
        tls_cert,
        tls_key,
    } = args;
    let tls = match (tls_cert, tls_key) {
        (Some(certificate), Some(key)) => Some(
            refuge_web::Tls::from_pem_files(&certificate, &key)
                .map_err(|problem| anyhow::anyhow!("TLS: {problem}"))?,
        ),
        _ => None,
    };
    if !listen.ip().is_loopback() && !behind_proxy && tls.is_none() {
        bail!(
            "refusing to serve on {listen} without TLS: give --tls-cert and --tls-key, or put refuge behind a TLS-terminating proxy and pass --behind-proxy"
        );
    }
    let (app, demo_file) = if demo {
        let path = demo_path();
        match demo_organisation(config, demo_people, &path).await {
            Ok(app) => (app, Some(path)),
            Err(error) => {
                remove_database(&path);
                return Err(error);
            }
        }
    } else {
        (config.open().await?, None)
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
        replies: Default::default(),
    });
    let served = run(state.clone(), listen, tls).await;
    // Whatever ended the server (Ctrl-C, a termination signal, an error), the demo's synthetic
    // database goes with it. (A process killed outright leaves it; the next demo sweeps it.)
    if let Some(path) = demo_file {
        state.app.close().await;
        remove_database(&path);
        outln!("Removed the demo database {}.", path.display());
    }
    served
}

async fn run(
    state: std::sync::Arc<refuge_web::ServerState>,
    listen: std::net::SocketAddr,
    tls: Option<refuge_web::Tls>,
) -> Result<()> {
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
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = served => result?,
        _ = tokio::signal::ctrl_c() => outln!("Stopped."),
        _ = terminate.recv() => outln!("Stopped."),
    }
    Ok(())
}

/// Demo databases are named after the process that made them, so that a later demo can tell
/// which ones a killed process left behind.
const DEMO_PREFIX: &str = "refuge-demo-";

/// A new demo database's path in the temporary directory, after sweeping away those of demo
/// processes that no longer run.
fn demo_path() -> std::path::PathBuf {
    let directory = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&directory) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(DEMO_PREFIX)
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                std::fs::remove_file(entry.path()).ok();
            }
        }
    }
    directory.join(format!(
        "{DEMO_PREFIX}{}-{}.db",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ))
}

/// A throw-away organisation of synthetic people in a temporary SQLite file.
async fn demo_organisation(
    config: &Config<'_>,
    people: usize,
    path: &std::path::Path,
) -> Result<App> {
    let passphrase = secrets::new_passphrase(
        config.global,
        "REFUGE_PASSPHRASE",
        "Passphrase for every demo user",
    )?;
    let store: DynStore =
        Box::new(refuge_store::SqliteStore::create(path, NodeId(uuid::Uuid::now_v7())).await?);
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
        "Demo organisation: {} synthetic people in {} (removed when the server stops)",
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
