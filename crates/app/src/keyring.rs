//! The keys a session opens records with, and the record keys a command makes
//! (docs/architecture.md, "Compartments").
//!
//! An organisation made before compartments has one data key that seals everything
//! (`Keyring::Single`). One made since has a key pair per compartment (each location, and the
//! organisation itself) and generation, whose secret half is wrapped to each holder's public
//! key; each record (a person with their notes, an incident, a location's name) has its own
//! key, wrapped to the compartment it lives in. A session holds its user's key pair and opens
//! compartments and records as it needs them: what opens is decided by which wraps exist, not
//! by the user's role.

use crate::*;
use refuge_crypto::{Envelope, Holder, KeyPair, PublicKey, Sealer, SecretKey};
use refuge_store::{RecordKey, SideWrite};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The compartment every registering user holds: the blind-index key lives in it.
pub(crate) const ORGANISATION: &str = "organisation";
/// The holder name of the recovery code's key pair.
pub(crate) const RECOVERY: &str = "recovery";
/// The record whose key is the blind-index key.
pub(crate) const INDEX_RECORD: &str = "blind-index";
/// The record whose key this installation's exchange identity derives from (docs/exchange.md).
pub(crate) const DEVICE_RECORD: &str = "exchange-device";
/// Says which key model an organisation uses; absent: one data key.
pub(crate) const META_KEY_MODEL: &str = "key_model";
pub(crate) const COMPARTMENT_MODEL: &str = "compartments";
/// Changes each time the values are sealed again (an upgrade, a `--reseal`): sessions opened
/// before it are no longer current.
pub(crate) const META_KEYS_SEALED: &str = "keys_sealed";
/// The recovery key pair's public half.
pub(crate) const META_RECOVERY_PUBLIC: &str = "recovery_public_key";
/// Record sealers a session keeps (a long-lived web session reads many people).
const MAX_CACHED_RECORDS: usize = 20_000;

/// Associated data of a compartment secret wrapped to a holder.
pub(crate) fn holder_context(compartment: &str, generation: i64, holder: &str) -> String {
    format!("compartment:{compartment}:{generation}|holder:{holder}")
}

/// Associated data of a record key wrapped to a compartment.
pub(crate) fn record_context(record: &str, compartment: &str, generation: i64) -> String {
    format!("record:{record}|compartment:{compartment}:{generation}")
}

pub(crate) enum Keyring {
    /// One data key seals everything (an organisation from before compartments).
    Single {
        data_key: SecretKey,
        sealer: Arc<Sealer>,
        /// `META_KEYS_SEALED` when this keyring was opened.
        sealed_at: Option<String>,
    },
    Compartments(Box<Compartments>),
}

pub(crate) struct Compartments {
    /// Whose key pair this is (the holder name of their wraps).
    user_id: String,
    user: Holder,
    /// Compartment secrets opened so far, by (compartment, generation).
    opened: Mutex<HashMap<(String, i64), Arc<Holder>>>,
    /// Record sealers opened so far.
    records: Mutex<HashMap<String, Arc<Sealer>>>,
    /// The blind-index sealer, when the user holds the organisation compartment.
    index: Option<Arc<Sealer>>,
    /// Sealer of what is the user's own (an API token's label).
    own: Arc<Sealer>,
    /// `META_KEYS_SEALED` when this keyring was opened.
    sealed_at: Option<String>,
}

impl Keyring {
    pub(crate) fn single(data_key: SecretKey) -> AppResult<Self> {
        let sealer = Arc::new(Sealer::new(&data_key)?);
        Ok(Keyring::Single {
            data_key,
            sealer,
            sealed_at: None,
        })
    }

    /// The keys of a holder that opens compartments but no index: the recovery key pair
    /// while `refuge recover` runs.
    pub(crate) fn holder(holder: &str, pair: KeyPair) -> AppResult<Keyring> {
        Ok(Keyring::Compartments(Box::new(Self::compartments(
            holder.to_string(),
            pair,
        )?)))
    }

    /// A user's key pair, before the index is opened (`App::open_keyring`).
    fn compartments(user_id: String, pair: KeyPair) -> AppResult<Compartments> {
        let own = Arc::new(Sealer::new(&pair.secret())?);
        Ok(Compartments {
            user_id,
            user: Holder::new(pair),
            opened: Mutex::new(HashMap::new()),
            records: Mutex::new(HashMap::new()),
            index: None,
            own,
            sealed_at: None,
        })
    }

    /// The secret a passphrase, a token or the recovery code wraps: the data key, or the
    /// user's key pair's secret half.
    pub(crate) fn wrapped_secret(&self) -> SecretKey {
        match self {
            Keyring::Single { data_key, .. } => data_key.duplicate(),
            Keyring::Compartments(keys) => keys.user.pair().secret(),
        }
    }

    /// The sealer of what belongs to the user alone (a token's label).
    pub(crate) fn own_sealer(&self) -> Arc<Sealer> {
        match self {
            Keyring::Single { sealer, .. } => sealer.clone(),
            Keyring::Compartments(keys) => keys.own.clone(),
        }
    }

    pub(crate) fn is_single(&self) -> bool {
        matches!(self, Keyring::Single { .. })
    }

    /// When the organisation's values were last sealed again, as this keyring knows it: a
    /// session opened before a re-seal holds record keys that no longer exist.
    pub(crate) fn sealed_at(&self) -> Option<&str> {
        match self {
            Keyring::Single { sealed_at, .. } => sealed_at.as_deref(),
            Keyring::Compartments(keys) => keys.sealed_at.as_deref(),
        }
    }

    /// Forgets the record keys opened so far (this session has just sealed them again).
    pub(crate) fn forget_records(&self) {
        if let Keyring::Compartments(keys) = self {
            lock(&keys.records).clear();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The record keys one command makes, and the compartments' public keys to wrap them to;
/// written with its commit (`into_side_writes`).
pub(crate) struct NewKeys {
    single: Option<Arc<Sealer>>,
    /// Current generation and public key of each compartment.
    publics: HashMap<String, (i64, PublicKey)>,
    /// One envelope per compartment for the whole command.
    envelopes: HashMap<String, (i64, Envelope)>,
    writes: Vec<SideWrite>,
}

impl NewKeys {
    /// Adds a compartment made by this command (a new location).
    pub(crate) fn add_compartment(
        &mut self,
        compartment: &str,
        generation: i64,
        public: PublicKey,
    ) {
        self.publics
            .insert(compartment.to_string(), (generation, public));
    }

    /// Prepares the envelope to `compartment`, so that `make` can run on several threads.
    pub(crate) fn prepare(&mut self, compartment: &str) -> AppResult<()> {
        if self.single.is_some() || self.envelopes.contains_key(compartment) {
            return Ok(());
        }
        let (generation, public) = self.publics.get(compartment).copied().ok_or_else(|| {
            AppError::Store(StoreError::Corrupt(format!(
                "no key for compartment {compartment}"
            )))
        })?;
        self.envelopes.insert(
            compartment.to_string(),
            (generation, Envelope::to(&public)?),
        );
        Ok(())
    }

    /// A new record's sealer and, in the compartment model, its key wrapped to `compartment`
    /// (prepared first).
    pub(crate) fn make(
        &self,
        record: &str,
        compartment: &str,
    ) -> AppResult<(Arc<Sealer>, Option<RecordKey>)> {
        if let Some(single) = &self.single {
            return Ok((single.clone(), None));
        }
        let key = SecretKey::generate()?;
        let wrapped = self.wrap(record, compartment, &key)?;
        Ok((Arc::new(Sealer::new(&key)?), Some(wrapped)))
    }

    /// A record's key wrapped to `compartment` (its envelope prepared first).
    fn wrap(&self, record: &str, compartment: &str, key: &SecretKey) -> AppResult<RecordKey> {
        let (generation, envelope) = self.envelopes.get(compartment).ok_or_else(|| {
            AppError::Store(StoreError::Corrupt(format!(
                "no envelope for compartment {compartment}"
            )))
        })?;
        Ok(RecordKey {
            record: record.to_string(),
            compartment: compartment.to_string(),
            generation: *generation,
            wrapped: envelope.wrap(key, &record_context(record, compartment, *generation))?,
        })
    }

    /// Wraps an existing key of `record` to `compartment` and keeps it for the commit.
    pub(crate) fn keep_secret(
        &mut self,
        record: &str,
        compartment: &str,
        key: &SecretKey,
    ) -> AppResult<()> {
        self.prepare(compartment)?;
        let wrapped = self.wrap(record, compartment, key)?;
        self.keep(Some(wrapped));
        Ok(())
    }

    /// `make` and keep the key for the commit.
    pub(crate) fn seal_new(&mut self, record: &str, compartment: &str) -> AppResult<Arc<Sealer>> {
        self.prepare(compartment)?;
        let (sealer, key) = self.make(record, compartment)?;
        self.keep(key);
        Ok(sealer)
    }

    pub(crate) fn keep(&mut self, key: Option<RecordKey>) {
        if let Some(key) = key {
            self.writes.push(SideWrite::RecordKey(key));
        }
    }

    /// Keeps a side write that belongs with the keys (a compartment, a wrap).
    pub(crate) fn keep_write(&mut self, write: SideWrite) {
        self.writes.push(write);
    }

    pub(crate) fn into_side_writes(self) -> Vec<SideWrite> {
        self.writes
    }
}

impl App {
    /// Whether this organisation uses compartment keys. Read every time: another process
    /// (`refuge upgrade-keys`, a duress erase) may change it under a running server.
    pub(crate) async fn compartment_model(&self) -> AppResult<bool> {
        Ok(self.store.meta(META_KEY_MODEL).await?.as_deref() == Some(COMPARTMENT_MODEL))
    }

    /// The keyring a secret unwrapped at login opens: the data key, or the user's key pair
    /// with the blind-index key when the user holds the organisation compartment.
    pub(crate) async fn open_keyring(&self, user: UserId, secret: SecretKey) -> AppResult<Keyring> {
        let sealed_at = self.store.meta(META_KEYS_SEALED).await?;
        if !self.compartment_model().await? {
            let mut keys = Keyring::single(secret)?;
            if let Keyring::Single { sealed_at: at, .. } = &mut keys {
                *at = sealed_at;
            }
            return Ok(keys);
        }
        let mut keys = Keyring::compartments(user.to_string(), KeyPair::from_secret(&secret))?;
        keys.index = self.open_index(&keys).await?;
        keys.sealed_at = sealed_at;
        Ok(Keyring::Compartments(Box::new(keys)))
    }

    async fn open_index(&self, keys: &Compartments) -> AppResult<Option<Arc<Sealer>>> {
        let found = self.store.record_keys(&[INDEX_RECORD.to_string()]).await?;
        let Some(key) = found.into_iter().next() else {
            return Ok(None);
        };
        self.open_record_key(keys, &key).await
    }

    /// The holder of a compartment's generation, if this keyring holds it.
    pub(crate) async fn open_compartment(
        &self,
        keys: &Compartments,
        compartment: &str,
        generation: i64,
    ) -> AppResult<Option<Arc<Holder>>> {
        let slot = (compartment.to_string(), generation);
        if let Some(holder) = lock(&keys.opened).get(&slot) {
            return Ok(Some(holder.clone()));
        }
        let Some(wrapped) = self
            .store
            .holder_wrap(compartment, generation, &keys.user_id)
            .await?
        else {
            return Ok(None);
        };
        let secret = keys.user.unwrap(
            &wrapped,
            &holder_context(compartment, generation, &keys.user_id),
        )?;
        let holder = Arc::new(Holder::new(KeyPair::from_secret(&secret)));
        lock(&keys.opened).insert(slot, holder.clone());
        Ok(Some(holder))
    }

    async fn open_record_key(
        &self,
        keys: &Compartments,
        key: &RecordKey,
    ) -> AppResult<Option<Arc<Sealer>>> {
        if let Some(sealer) = lock(&keys.records).get(&key.record) {
            return Ok(Some(sealer.clone()));
        }
        let Some(holder) = self
            .open_compartment(keys, &key.compartment, key.generation)
            .await?
        else {
            return Ok(None);
        };
        let record_key = holder.unwrap(
            &key.wrapped,
            &record_context(&key.record, &key.compartment, key.generation),
        )?;
        let sealer = Arc::new(Sealer::new(&record_key)?);
        let mut records = lock(&keys.records);
        if records.len() >= MAX_CACHED_RECORDS {
            records.clear();
        }
        records.insert(key.record.clone(), sealer.clone());
        Ok(Some(sealer))
    }

    /// The key itself of an existing record, when this session opens it (compartment model
    /// only): for a bundle that reveals it to another installation, or the device's key.
    pub(crate) async fn record_secrets(
        &self,
        session: &Session,
        records: &[String],
    ) -> AppResult<Vec<(String, SecretKey)>> {
        let Keyring::Compartments(keys) = session.keys() else {
            return Err(AppError::invalid(
                "keys",
                Reason::new("exchange-needs-compartments"),
            ));
        };
        let mut secrets = Vec::with_capacity(records.len());
        for key in self.store.record_keys(records).await? {
            let Some(holder) = self
                .open_compartment(keys, &key.compartment, key.generation)
                .await?
            else {
                continue;
            };
            let secret = holder.unwrap(
                &key.wrapped,
                &record_context(&key.record, &key.compartment, key.generation),
            )?;
            secrets.push((key.record, secret));
        }
        Ok(secrets)
    }

    /// The sealer of an existing record, or None when this session holds no key that opens
    /// it (outside its compartments, whatever its role says).
    pub(crate) async fn record_sealer(
        &self,
        session: &Session,
        record: &str,
    ) -> AppResult<Option<Arc<Sealer>>> {
        Ok(self
            .record_sealers(session, &[record.to_string()])
            .await?
            .remove(record))
    }

    /// The sealers of these records that this session can open.
    pub(crate) async fn record_sealers(
        &self,
        session: &Session,
        records: &[String],
    ) -> AppResult<HashMap<String, Arc<Sealer>>> {
        match session.keys() {
            Keyring::Single { sealer, .. } => Ok(records
                .iter()
                .map(|record| (record.clone(), sealer.clone()))
                .collect()),
            Keyring::Compartments(keys) => {
                let mut sealers = HashMap::with_capacity(records.len());
                let wanted: Vec<String> = {
                    let cached = lock(&keys.records);
                    for record in records {
                        if let Some(sealer) = cached.get(record) {
                            sealers.insert(record.clone(), sealer.clone());
                        }
                    }
                    records
                        .iter()
                        .filter(|record| !cached.contains_key(*record))
                        .cloned()
                        .collect()
                };
                for key in self.store.record_keys(&wanted).await? {
                    if let Some(sealer) = self.open_record_key(keys, &key).await? {
                        sealers.insert(key.record.clone(), sealer);
                    }
                }
                Ok(sealers)
            }
        }
    }

    /// The blind-index sealer (exact-name search, duplicate detection).
    pub(crate) fn index_sealer(&self, session: &Session) -> AppResult<Arc<Sealer>> {
        match session.keys() {
            Keyring::Single { sealer, .. } => Ok(sealer.clone()),
            Keyring::Compartments(keys) => keys
                .index
                .clone()
                .ok_or_else(|| AppError::invalid("keys", Reason::new("no-organisation-key"))),
        }
    }

    /// Record keys for one command, sealed to the compartments as they are now.
    pub(crate) async fn new_keys(&self, session: &Session) -> AppResult<NewKeys> {
        let (single, publics) = match session.keys() {
            // Opened before an upgrade to compartment keys: what it would seal now would be
            // under the data key, which every registering user holds.
            Keyring::Single { .. } if self.compartment_model().await? => {
                return Err(AppError::invalid(
                    "keys",
                    Reason::new("keys-upgraded-log-in-again"),
                ));
            }
            Keyring::Single { sealer, .. } => (Some(sealer.clone()), HashMap::new()),
            Keyring::Compartments(_) => {
                let mut publics = HashMap::new();
                for key in self.store.current_compartments().await? {
                    publics.insert(
                        key.compartment.clone(),
                        (key.generation, PublicKey::decode(&key.public_key)?),
                    );
                }
                (None, publics)
            }
        };
        Ok(NewKeys {
            single,
            publics,
            envelopes: HashMap::new(),
            writes: Vec::new(),
        })
    }

    /// Re-wraps a record's key to another compartment (a move). The session must open it
    /// where it is; anyone may wrap to where it goes. Nothing to do with one data key.
    pub(crate) async fn rewrap_record(
        &self,
        session: &Session,
        record: &str,
        code: &str,
        to: &str,
        keys: &mut NewKeys,
    ) -> AppResult<()> {
        let Keyring::Compartments(held) = session.keys() else {
            return Ok(());
        };
        let Some(current) = self
            .store
            .record_keys(&[record.to_string()])
            .await?
            .into_iter()
            .next()
        else {
            // Received sealed from another installation, which kept its key: nothing here
            // opens it, so nothing moves (a local record without a key fails `verify`).
            return Ok(());
        };
        let Some(holder) = self
            .open_compartment(held, &current.compartment, current.generation)
            .await?
        else {
            session.refused(code, OUTSIDE_COMPARTMENTS.to_string());
            return Err(AppError::OutsideCompartment {
                code: code.to_string(),
            });
        };
        let record_key = holder.unwrap(
            &current.wrapped,
            &record_context(record, &current.compartment, current.generation),
        )?;
        keys.prepare(to)?;
        let moved = keys.wrap(record, to, &record_key)?;
        keys.keep(Some(moved));
        Ok(())
    }
}
