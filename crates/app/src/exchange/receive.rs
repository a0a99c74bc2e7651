//! A received bundle checked before anything of it is used (docs/exchange.md): opened with
//! this device's key, its sender's signature, manifest, prerequisites and events against the
//! log, in that order.

use super::Peer;
use super::bundle::{
    FORMAT, KNOWN_CAPABILITIES, MAX_PAYLOAD_BYTES, Manifest, Payload, Prerequisite,
};
use crate::*;
use flate2::read::GzDecoder;
use refuge_core::{Event, EventId, NodeId};
use refuge_crypto::{chain_hash, open_bundle};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What a received bundle holds, checked, before anything of it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleReport {
    pub sender: String,
    pub fingerprint: String,
    pub sequence: u64,
    pub created: String,
    pub expires: String,
    pub events: usize,
    pub new_events: usize,
    pub known_events: usize,
    /// Records the new events add: (people, households, locations).
    pub new_records: (usize, usize, usize),
    pub revealed: bool,
    pub prerequisites: usize,
}

/// A received bundle that passed every check: `payload.events` holds only the events new
/// here.
pub(super) struct Checked {
    pub(super) manifest: Manifest,
    pub(super) peer: Peer,
    pub(super) payload: Payload,
    pub(super) report: BundleReport,
}

pub(super) fn refused(reason: Reason) -> AppError {
    AppError::invalid("bundle", reason)
}

/// A received file that does not open or verify, refused with what the reader found (sizes,
/// a damaged header, a bad signature: never the contents).
fn unopened(error: refuge_crypto::CryptoError) -> AppError {
    refused(Reason::new("bundle-unreadable").with("why", error))
}

impl App {
    /// `refuge bundle inspect FILE`: opens and checks a received bundle, and says what it
    /// holds against what this installation has. Writes nothing but the access-log entry.
    pub async fn inspect_bundle(&self, session: &Session, file: &[u8]) -> AppResult<BundleReport> {
        let checked = self.check_received(session, file).await?;
        let report = checked.report;
        self.log(
            &session.user().name,
            AccessAction::Import,
            "bundle",
            &format!(
                "bundle {} from {} inspected: {} events, {} new",
                report.sequence, report.sender, report.events, report.new_events
            ),
        )
        .await?;
        Ok(report)
    }

    /// Every check a received bundle passes, in order (docs/exchange.md), and what it holds
    /// against what this installation has.
    pub(super) async fn check_received(
        &self,
        session: &Session,
        file: &[u8],
    ) -> AppResult<Checked> {
        session.require(Action::Exchange)?;
        let device = self.device_keys(session).await?;
        let opened = open_bundle(file, &device).map_err(unopened)?;
        let manifest: Manifest = serde_json::from_slice(&opened.manifest)
            .map_err(|_| refused(Reason::new("bundle-manifest-unreadable")))?;
        if manifest.format != FORMAT {
            return Err(refused(
                Reason::new("bundle-format").count("format", u64::from(manifest.format)),
            ));
        }
        let peer = self.sending_peer(&manifest.sender).await?;
        opened.verify(&peer.device()?).map_err(unopened)?;
        if manifest.content_sha256 != opened.payload_sha256 {
            return Err(refused(Reason::new("bundle-altered")));
        }
        self.check_manifest(&manifest, &peer, &device.public().fingerprint())?;
        let mut payload = read_payload(&opened.payload)?;
        check_hashes(&payload.events)?;
        self.check_prerequisites(&manifest.prerequisites).await?;
        let known = self.check_against_log(&payload.events).await?;
        let total = payload.events.len();
        payload.events.retain(|event| !known.contains(&event.id));
        let new = &payload.events;
        let count = |kind: &str| new.iter().filter(|e| e.body.kind() == kind).count();
        let report = BundleReport {
            sender: peer.name.clone(),
            fingerprint: peer.fingerprint.clone(),
            sequence: manifest.sequence,
            created: manifest.created.clone(),
            expires: manifest.expires.clone(),
            events: total,
            new_events: new.len(),
            known_events: total - new.len(),
            new_records: (
                count("person_added"),
                count("household_added"),
                count("location_added"),
            ),
            revealed: !payload.record_keys.is_empty(),
            prerequisites: manifest.prerequisites.len(),
        };
        Ok(Checked {
            manifest,
            peer,
            payload,
            report,
        })
    }

    /// The manifest's own checks: addressed here, understood, not expired, not a replay.
    fn check_manifest(&self, manifest: &Manifest, peer: &Peer, own: &str) -> AppResult<()> {
        if !manifest.recipients.iter().any(|recipient| recipient == own) {
            return Err(refused(Reason::new("bundle-for-someone-else")));
        }
        if let Some(unknown) = manifest
            .capabilities
            .iter()
            .find(|capability| !KNOWN_CAPABILITIES.contains(&capability.as_str()))
        {
            return Err(refused(
                Reason::new("bundle-capability").with("capability", unknown),
            ));
        }
        let expires = OffsetDateTime::parse(&manifest.expires, &Rfc3339)
            .map_err(|_| refused(Reason::new("bundle-manifest-unreadable")))?;
        if expires < self.now() {
            return Err(refused(
                Reason::new("bundle-expired").with("expires", &manifest.expires),
            ));
        }
        if manifest.sequence <= peer.received {
            return Err(refused(
                Reason::new("bundle-replayed")
                    .count("sequence", manifest.sequence)
                    .count("last", peer.received)
                    .with("peer", &peer.name),
            ));
        }
        Ok(())
    }

    /// The peer whose device `fingerprint` is: unknown and removed senders are refused.
    async fn sending_peer(&self, fingerprint: &str) -> AppResult<Peer> {
        let peers = self.stored_peers().await?;
        let Some(peer) = peers
            .iter()
            .rev()
            .find(|peer| peer.fingerprint == fingerprint)
        else {
            return Err(refused(
                Reason::new("bundle-unknown-sender").with("fingerprint", fingerprint),
            ));
        };
        if peer.removed.is_some() {
            return Err(refused(
                Reason::new("bundle-removed-sender").with("peer", &peer.name),
            ));
        }
        Ok(peer.clone())
    }

    async fn check_prerequisites(&self, prerequisites: &[Prerequisite]) -> AppResult<()> {
        let ids: Vec<Uuid> = prerequisites.iter().map(|p| p.id.0).collect();
        let held: BTreeMap<EventId, String> = self
            .store
            .events_with_ids(&ids)
            .await?
            .into_iter()
            .map(|event| (event.id, event.hash))
            .collect();
        let missing: Vec<&Prerequisite> = prerequisites
            .iter()
            .filter(|p| held.get(&p.id) != Some(&p.hash))
            .collect();
        match missing.first() {
            None => Ok(()),
            Some(first) => Err(refused(
                Reason::new("bundle-missing-prerequisites")
                    .count("missing", missing.len() as u64)
                    .with("first", first.id),
            )),
        }
    }

    /// The ids of the events this installation already holds; the same id with other
    /// contents, or one node's sequence number used twice, is an integrity alarm.
    async fn check_against_log(&self, events: &[Event]) -> AppResult<BTreeSet<EventId>> {
        let by_id: HashMap<EventId, &Event> = events.iter().map(|e| (e.id, e)).collect();
        let by_slot: HashMap<(NodeId, i64), &Event> =
            events.iter().map(|e| ((e.node, e.seq), e)).collect();
        let mut known = BTreeSet::new();
        for stored in self.store.known_events(events).await? {
            if let Some(received) = by_id.get(&stored.id)
                && received.hash != stored.hash
            {
                return Err(refused(
                    Reason::new("bundle-event-differs").with("event", stored.id),
                ));
            }
            if let Some(received) = by_slot.get(&(stored.node, stored.seq))
                && received.id != stored.id
            {
                return Err(refused(
                    Reason::new("bundle-equivocation")
                        .with("node", stored.node)
                        .count("sequence", stored.seq.unsigned_abs()),
                ));
            }
            known.insert(stored.id);
        }
        Ok(known)
    }
}

fn read_payload(compressed: &[u8]) -> AppResult<Payload> {
    let mut json = Vec::new();
    GzDecoder::new(compressed)
        .take(MAX_PAYLOAD_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|_| refused(Reason::new("bundle-payload-unreadable")))?;
    if json.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(refused(Reason::new("bundle-payload-unreadable")));
    }
    serde_json::from_slice(&json).map_err(|_| refused(Reason::new("bundle-payload-unreadable")))
}

/// Each event hashes to its contents over the hash it names as previous (a received chain
/// may have gaps: the sender keeps what is not the recipient's to know).
fn check_hashes(events: &[Event]) -> AppResult<()> {
    for event in events {
        let matches = event
            .canonical_bytes()
            .is_ok_and(|bytes| chain_hash(&event.prev_hash, &bytes) == event.hash);
        if !matches {
            return Err(refused(
                Reason::new("bundle-event-differs").with("event", event.id),
            ));
        }
    }
    Ok(())
}
