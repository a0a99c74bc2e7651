//! `refuge node`, `refuge peer` and `refuge bundle`.

use crate::args::{BundleCommand, BundleExportArgs, ConflictsCommand, NodeCommand, PeerCommand};
use crate::config::Config;
use crate::output_file::OutputFile;
use anyhow::{Context, Result, bail};
use refuge_app::BundleRequest;
use refuge_core::Kept;
use std::io::{Read, Write};

pub async fn node(config: &Config<'_>, command: NodeCommand) -> Result<()> {
    let NodeCommand::Keys {
        age_identity,
        force,
    } = command;
    let (app, session) = config.sign_in().await?;
    let identity = app.node_identity(&session).await?;
    outln!("Device key:  {}", identity.public_key);
    outln!("Fingerprint: {}", identity.fingerprint);
    if let Some(path) = age_identity {
        let mut file = OutputFile::create(&path, force, config.db_url())?;
        let secret = app.node_age_identity(&session).await?;
        writeln!(file.file(), "{}", secret.as_str())?;
        file.finish()?;
        eprintln!(
            "Wrote the device's age identity to {} (logged): keep it offline, it opens every bundle sent here.",
            path.display()
        );
    }
    Ok(())
}

pub async fn peer(config: &Config<'_>, command: PeerCommand) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    match command {
        PeerCommand::Add { name, key } => {
            let peer = app.add_peer(&session, &name, &key).await?;
            outln!(
                "Peer {} added, fingerprint {}: compare it with theirs before sending anything.",
                peer.name,
                peer.fingerprint
            );
        }
        PeerCommand::List => {
            let peers = app.peers(&session).await?;
            if peers.is_empty() {
                outln!("No peers yet: `refuge peer add NAME --key KEY`.");
            }
            for peer in peers {
                let state = match peer.removed {
                    Some(on) => format!("removed {on}"),
                    None => format!("added {}", peer.added),
                };
                outln!(
                    "{}  {}  {state}  sent {}  received {}",
                    peer.name,
                    peer.fingerprint,
                    peer.sent,
                    peer.received
                );
            }
        }
        PeerCommand::Remove { name } => {
            let peer = app.remove_peer(&session, &name).await?;
            outln!(
                "Peer {} removed: its bundles are refused from now on.",
                peer.name
            );
        }
    }
    Ok(())
}

pub async fn bundle(config: &Config<'_>, command: BundleCommand) -> Result<()> {
    match command {
        BundleCommand::Export(args) => export(config, args).await,
        BundleCommand::Inspect { file } => inspect(config, &file).await,
        BundleCommand::Import { file, dry_run } => import(config, &file, dry_run).await,
    }
}

async fn export(config: &Config<'_>, args: BundleExportArgs) -> Result<()> {
    let request = BundleRequest {
        to: args.to,
        people: args.people,
        households: args.households,
        locations: args.locations,
        batches: args.batches,
        since: args.since,
        reveal: args.reveal,
        expires_in_days: args.expires_in,
    };
    let (app, session) = config.sign_in().await?;
    let mut file = OutputFile::create(&args.out, args.force, config.db_url())?;
    let summary = app.export_bundle(&session, &request, file.file()).await?;
    file.file().flush()?;
    file.finish()?;
    outln!(
        "Bundle {} for {}: {} people in {} households, {} locations, {} events, {} bytes{}.",
        summary.sequence,
        request.to,
        summary.people,
        summary.households,
        summary.locations,
        summary.events,
        summary.bytes,
        if summary.revealed {
            ", identities included (logged)"
        } else {
            ", no identities"
        }
    );
    Ok(())
}

/// A received bundle's bytes, after the checks that need no passphrase.
fn read_bundle(path: &std::path::Path) -> Result<Vec<u8>> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // The size cap before anything is read into memory.
    let size = file.metadata()?.len();
    if size > refuge_app::MAX_BUNDLE_BYTES {
        bail!(
            "{}: {size} bytes, over the bundle cap of {} bytes",
            path.display(),
            refuge_app::MAX_BUNDLE_BYTES
        );
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    // Size, header and stanza caps before the passphrase: a hostile file costs nothing.
    refuge_app::check_bundle_envelope(&bytes).map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(bytes)
}

async fn inspect(config: &Config<'_>, path: &std::path::Path) -> Result<()> {
    let bytes = read_bundle(path)?;
    let (app, session) = config.sign_in().await?;
    let report = app.inspect_bundle(&session, &bytes).await?;
    print_bundle(&report)?;
    outln!(
        "Checked (sender, signature, recipient, sequence, expiry, every event's hash); nothing was written."
    );
    Ok(())
}

fn print_bundle(report: &refuge_app::BundleReport) -> Result<()> {
    outln!(
        "Bundle {} from {} ({}), created {}, expires {}.",
        report.sequence,
        report.sender,
        report.fingerprint,
        report.created,
        report.expires
    );
    let (people, households, locations) = report.new_records;
    outln!(
        "{} events: {} new, {} already here; new records: {people} people, {households} households, {locations} locations.",
        report.events,
        report.new_events,
        report.known_events
    );
    outln!(
        "Identities: {}. Earlier events it builds on: {}, all here.",
        if report.revealed {
            "included"
        } else {
            "not included"
        },
        report.prerequisites
    );
    Ok(())
}

async fn import(config: &Config<'_>, path: &std::path::Path, dry_run: bool) -> Result<()> {
    let bytes = read_bundle(path)?;
    let (app, session) = config.sign_in().await?;
    let report = app.import_bundle(&session, &bytes, dry_run).await?;
    print_bundle(&report.bundle)?;
    for (code, local) in &report.local_codes {
        outln!("{code} is taken here by another record: shown as {local}.");
    }
    if report.identities > 0 {
        outln!(
            "{} identities sealed to this installation's compartments.",
            report.identities
        );
    }
    outln!(
        "Conflicts: {} ({} new); see refuge conflicts.",
        report.conflicts,
        report.new_conflicts
    );
    if report.merged {
        outln!("Merged.");
    } else {
        outln!("Dry run: checked and merged in memory; nothing was written.");
    }
    Ok(())
}

pub(super) async fn conflicts(
    config: &Config<'_>,
    command: Option<ConflictsCommand>,
) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    if let Some(ConflictsCommand::Resolve { event, keep }) = command {
        let resolved = app.resolve_conflict(&session, &event, keep).await?;
        outln!(
            "Settled: {} {}, {}.",
            resolved.record,
            resolved.field,
            match resolved.kept {
                Kept::Shown => "the value shown kept",
                Kept::Other => "the other value kept; it is shown from now on",
            }
        );
        return Ok(());
    }
    let conflicts = app.conflicts(&session).await?;
    if conflicts.is_empty() {
        outln!("No conflicts.");
        return Ok(());
    }
    for conflict in &conflicts {
        let side = |side: &refuge_app::ConflictSide| {
            format!("{} ({}, {})", side.view.change, side.node, side.at.date())
        };
        match &conflict.shown {
            Some(shown) => outln!(
                "{} {}: shown {}; replaced {} (event {})",
                conflict.record,
                conflict.field,
                side(shown),
                side(&conflict.other),
                conflict.other.event
            ),
            None => outln!(
                "{} contradiction: {} does not apply ({}) (event {})",
                conflict.record,
                side(&conflict.other),
                conflict.detail,
                conflict.other.event
            ),
        }
    }
    outln!(
        "{} {}.",
        conflicts.len(),
        if conflicts.len() == 1 {
            "conflict"
        } else {
            "conflicts"
        }
    );
    Ok(())
}
