//! Exchange with other installations (docs/exchange.md): this installation's device
//! identity, the peers it exchanges with, and sealed, signed bundles of events.

mod bundle;
mod merge;
mod receive;
mod resolve;

pub use bundle::{BundleRequest, BundleSummary, DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS};
pub use merge::{Conflict, ConflictSide, MergeReport};
pub use receive::BundleReport;
/// The largest bundle file read (checked before it is read), and the checks that run before
/// any cryptography (and before a passphrase is asked for).
pub use refuge_crypto::{MAX_BUNDLE_BYTES, check_envelope as check_bundle_envelope};
pub use resolve::Resolved;

use crate::keyring::{DEVICE_RECORD, ORGANISATION};
use crate::*;
use refuge_core::NodeId;
use refuge_crypto::{DeviceKeys, DevicePublic, Revealed, SecretKey};
use refuge_store::{Commit, SideWrite};
use serde::{Deserialize, Serialize};
use time::Date;

/// Meta keys of the peers: `peer:NAME`.
const PEER_PREFIX: &str = "peer:";
/// A peer's name: what `peer add` and `bundle export --to` take.
const MAX_PEER_NAME: usize = 40;

/// This installation as its peers know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeIdentity {
    /// `refuge-device1:…`, to give to a peer (`refuge peer add NAME --key …`).
    pub public_key: String,
    /// To compare aloud or on screen with what the peer was given.
    pub fingerprint: String,
}

/// An installation we exchange bundles with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub name: String,
    pub public_key: String,
    pub fingerprint: String,
    pub added: Date,
    /// Removed peers stay, so a bundle they send later is refused as from a removed sender.
    pub removed: Option<Date>,
    /// The sequence number of the last bundle sent to them, and received from them.
    pub sent: u64,
    pub received: u64,
    /// The node ids (epochs) their bundles came from: names the writer of received events.
    #[serde(default)]
    pub epochs: Vec<NodeId>,
}

impl Peer {
    fn device(&self) -> AppResult<DevicePublic> {
        Ok(DevicePublic::decode(&self.public_key)?)
    }

    fn meta_write(&self) -> AppResult<SideWrite> {
        Ok(SideWrite::Meta {
            key: format!("{PEER_PREFIX}{}", self.name),
            value: serde_json::to_string(self)
                .map_err(|error| StoreError::Corrupt(format!("peer record: {error}")))?,
        })
    }
}

/// A peer's record as stored under `key` in meta.
fn parse_peer(key: &str, value: &str) -> AppResult<Peer> {
    serde_json::from_str(value)
        .map_err(|error| StoreError::Corrupt(format!("{key}: {error}")).into())
}

fn check_peer_name(name: &str) -> AppResult<()> {
    let fits = (1..=MAX_PEER_NAME).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '.');
    if fits {
        Ok(())
    } else {
        Err(AppError::invalid(
            "peer",
            Reason::new("peer-name").count("max", MAX_PEER_NAME as u64),
        ))
    }
}

impl App {
    /// This installation's device keys, made the first time they are asked for (their
    /// secret is a record key of the organisation compartment).
    pub(crate) async fn device_keys(&self, session: &Session) -> AppResult<DeviceKeys> {
        session.require(Action::Exchange)?;
        if !self.compartment_model().await? {
            return Err(AppError::invalid(
                "keys",
                Reason::new("exchange-needs-compartments"),
            ));
        }
        let found = self
            .record_secrets(session, &[DEVICE_RECORD.to_string()])
            .await?;
        if let Some((_, secret)) = found.into_iter().next() {
            return Ok(DeviceKeys::from_secret(&secret)?);
        }
        if !self
            .store
            .record_keys(&[DEVICE_RECORD.to_string()])
            .await?
            .is_empty()
        {
            // There is a device key this session cannot open: never make a second one.
            return Err(AppError::invalid(
                "keys",
                Reason::new("no-organisation-key"),
            ));
        }
        let secret = SecretKey::generate()?;
        let mut keys = self.new_keys(session).await?;
        keys.keep_secret(DEVICE_RECORD, ORGANISATION, &secret)?;
        let device = DeviceKeys::from_secret(&secret)?;
        self.commit(Commit {
            side_writes: keys.into_side_writes(),
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::PeerChanged,
                "device",
                &format!("device keys made: {}", device.public().fingerprint()),
            )],
            ..Commit::default()
        })
        .await?;
        Ok(device)
    }

    /// `refuge node keys`: this installation's public identity.
    pub async fn node_identity(&self, session: &Session) -> AppResult<NodeIdentity> {
        let public = self.device_keys(session).await?.public();
        Ok(NodeIdentity {
            public_key: public.encode()?,
            fingerprint: public.fingerprint(),
        })
    }

    /// The device's age identity, to open a bundle with the standard `age` tool in an
    /// emergency (`refuge node keys --age-identity FILE`). Logged.
    pub async fn node_age_identity(&self, session: &Session) -> AppResult<Revealed> {
        let device = self.device_keys(session).await?;
        self.log(
            &session.user().name,
            AccessAction::Reveal,
            "device",
            "age identity written out",
        )
        .await?;
        Ok(device.age_identity()?)
    }

    /// Every peer, removed ones included (oldest first).
    pub async fn peers(&self, session: &Session) -> AppResult<Vec<Peer>> {
        session.require(Action::Exchange)?;
        self.stored_peers().await
    }

    async fn stored_peers(&self) -> AppResult<Vec<Peer>> {
        let mut peers = Vec::new();
        for (key, value) in self.store.all_meta().await? {
            if key.starts_with(PEER_PREFIX) {
                peers.push(parse_peer(&key, &value)?);
            }
        }
        peers.sort_by(|a, b| (a.added, &a.name).cmp(&(b.added, &b.name)));
        Ok(peers)
    }

    async fn peer(&self, name: &str) -> AppResult<Peer> {
        let key = format!("{PEER_PREFIX}{name}");
        let stored = self.store.meta(&key).await?;
        match stored.map(|value| parse_peer(&key, &value)).transpose()? {
            Some(peer) if peer.removed.is_none() => Ok(peer),
            _ => Err(AppError::NotFound {
                what: "peer",
                code: name.to_string(),
            }),
        }
    }

    /// Stores a peer's record, with its access-log line.
    async fn save_peer(&self, session: &Session, peer: Peer, detail: &str) -> AppResult<Peer> {
        self.commit(Commit {
            side_writes: vec![peer.meta_write()?],
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::PeerChanged,
                &peer.name,
                detail,
            )],
            ..Commit::default()
        })
        .await?;
        Ok(peer)
    }

    /// `refuge peer add NAME --key KEY`.
    pub async fn add_peer(&self, session: &Session, name: &str, key: &str) -> AppResult<Peer> {
        session.require(Action::Exchange)?;
        check_peer_name(name)?;
        let device = DevicePublic::decode(key)
            .map_err(|_| AppError::invalid("key", Reason::new("not-a-device-key")))?;
        let peers = self.stored_peers().await?;
        if let Some(same) = peers.iter().find(|peer| peer.name == name) {
            return Err(AppError::Duplicate {
                what: "peer",
                value: same.name.clone(),
            });
        }
        if let Some(same) = peers
            .iter()
            .find(|peer| peer.removed.is_none() && peer.fingerprint == device.fingerprint())
        {
            return Err(AppError::invalid(
                "key",
                Reason::new("peer-key-known").with("peer", &same.name),
            ));
        }
        // Last: the first use makes the device keys, which a refused request must not.
        if device == self.device_keys(session).await?.public() {
            return Err(AppError::invalid("key", Reason::new("peer-is-this-device")));
        }
        let peer = Peer {
            name: name.to_string(),
            public_key: device.encode()?,
            fingerprint: device.fingerprint(),
            added: self.today(),
            removed: None,
            sent: 0,
            received: 0,
            epochs: Vec::new(),
        };
        let detail = format!("peer added: {}", peer.fingerprint);
        self.save_peer(session, peer, &detail).await
    }

    /// `refuge peer remove NAME`: nothing more goes to them, nothing more from them is read.
    pub async fn remove_peer(&self, session: &Session, name: &str) -> AppResult<Peer> {
        session.require(Action::Exchange)?;
        let mut peer = self.peer(name).await?;
        peer.removed = Some(self.today());
        self.save_peer(session, peer, "peer removed").await
    }
}
