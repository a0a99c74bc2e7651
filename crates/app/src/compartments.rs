//! Who holds which compartment, and the writes that found, grant, rotate and revoke them
//! (docs/architecture.md, "Compartments").

use crate::keyring::*;
use crate::*;
use refuge_core::{LocationId, Role, User, UserId};
use refuge_crypto::{Envelope, KeyPair, PublicKey, RecoveryCode, SecretKey};
use refuge_store::{Commit, CompartmentKey, HolderWrap, RecordKey, SideWrite};
use std::collections::{BTreeSet, HashMap};

/// Record keys re-wrapped per page when a compartment turns to a new generation.
const ROTATION_PAGE: u32 = 5_000;

/// The compartments a user holds: the organisation's and every location's for admins and
/// coordinators, the organisation's and her own locations' for a caseworker, none for
/// analysts and auditors (they see no identity); none at all once deactivated.
pub(crate) fn holdings(
    role: Role,
    locations: &BTreeSet<LocationId>,
    active: bool,
    all_locations: &[LocationId],
) -> BTreeSet<String> {
    if !active {
        return BTreeSet::new();
    }
    let mut held = BTreeSet::new();
    match role {
        Role::Admin | Role::Coordinator => {
            held.insert(ORGANISATION.to_string());
            held.extend(all_locations.iter().map(|id| id.to_string()));
        }
        Role::Caseworker => {
            held.insert(ORGANISATION.to_string());
            held.extend(locations.iter().map(|id| id.to_string()));
        }
        Role::Analyst | Role::Auditor => {}
    }
    held
}

pub(crate) fn holder_wrap(
    compartment: &str,
    generation: i64,
    holder: &str,
    to: &PublicKey,
    secret: &SecretKey,
) -> AppResult<SideWrite> {
    Ok(SideWrite::HolderWrap(HolderWrap {
        compartment: compartment.to_string(),
        generation,
        holder: holder.to_string(),
        wrapped: Envelope::to(to)?
            .wrap(secret, &holder_context(compartment, generation, holder))?,
    }))
}

/// What a new organisation's keys are: the first user's key pair, the organisation
/// compartment with the blind-index key in it, and the recovery key pair, whose secret the
/// recovery code wraps.
pub(crate) struct Founding {
    pub(crate) user: KeyPair,
    pub(crate) writes: Vec<SideWrite>,
}

pub(crate) fn found_keys(
    user: &User,
    code: &RecoveryCode,
    index_key: Option<SecretKey>,
) -> AppResult<Founding> {
    let pair = KeyPair::generate()?;
    let organisation = KeyPair::generate()?;
    let recovery = KeyPair::generate()?;
    let holder = user.id.to_string();
    // The blind-index key: a record key in the organisation compartment.
    let index = match index_key {
        Some(key) => key,
        None => SecretKey::generate()?,
    };
    let writes = vec![
        SideWrite::UserKey {
            user: user.id,
            public_key: pair.public().encode(),
        },
        SideWrite::Compartment(CompartmentKey {
            compartment: ORGANISATION.into(),
            generation: 1,
            public_key: organisation.public().encode(),
        }),
        holder_wrap(
            ORGANISATION,
            1,
            &holder,
            &pair.public(),
            &organisation.secret(),
        )?,
        holder_wrap(
            ORGANISATION,
            1,
            RECOVERY,
            &recovery.public(),
            &organisation.secret(),
        )?,
        SideWrite::RecordKey(RecordKey {
            record: INDEX_RECORD.into(),
            compartment: ORGANISATION.into(),
            generation: 1,
            wrapped: Envelope::to(&organisation.public())?
                .wrap(&index, &record_context(INDEX_RECORD, ORGANISATION, 1))?,
        }),
        SideWrite::Meta {
            key: META_RECOVERY_PUBLIC.into(),
            value: recovery.public().encode(),
        },
        SideWrite::Meta {
            key: keys::META_RECOVERY_ESCROW.into(),
            value: code.wrap(&recovery.secret())?.encode(),
        },
        SideWrite::Meta {
            key: META_KEY_MODEL.into(),
            value: COMPARTMENT_MODEL.into(),
        },
    ];
    Ok(Founding { user: pair, writes })
}

/// A compartment turning to its next generation: the writes so far (the new public key, the
/// holders' wraps), the current generation's secret and the envelope to the next.
pub(crate) struct NextGeneration {
    compartment: String,
    /// The current generation.
    pub(crate) generation: i64,
    old: refuge_crypto::Holder,
    envelope: Envelope,
    pub(crate) writes: Vec<SideWrite>,
}

impl NextGeneration {
    /// A record key of the current generation, opened.
    pub(crate) fn open(&self, key: &RecordKey) -> AppResult<SecretKey> {
        Ok(self.old.unwrap(
            &key.wrapped,
            &record_context(&key.record, &self.compartment, self.generation),
        )?)
    }

    /// A record key wrapped to the next generation.
    pub(crate) fn wrap(&self, record: &str, key: &SecretKey) -> AppResult<SideWrite> {
        let generation = self.generation + 1;
        Ok(SideWrite::RecordKey(RecordKey {
            record: record.to_string(),
            compartment: self.compartment.clone(),
            generation,
            wrapped: self
                .envelope
                .wrap(key, &record_context(record, &self.compartment, generation))?,
        }))
    }

    /// The writes, with the current generation dropped last.
    pub(crate) fn finish(mut self) -> Vec<SideWrite> {
        self.writes.push(SideWrite::DropGeneration {
            compartment: self.compartment,
            generation: self.generation,
        });
        self.writes
    }
}

impl App {
    /// A compartment's secret, opened by this session (which must hold it).
    async fn compartment_secret(
        &self,
        session: &Session,
        compartment: &str,
        generation: i64,
    ) -> AppResult<SecretKey> {
        let refused = || {
            AppError::invalid(
                "keys",
                Reason::new("no-key-to-give").with("compartment", compartment),
            )
        };
        let Keyring::Compartments(keys) = session.keys() else {
            return Err(refused());
        };
        match self.open_compartment(keys, compartment, generation).await? {
            Some(holder) => Ok(holder.pair().secret()),
            None => Err(refused()),
        }
    }

    /// The current generation of every compartment.
    async fn generations(&self) -> AppResult<HashMap<String, (i64, PublicKey)>> {
        let mut generations = HashMap::new();
        for key in self.store.current_compartments().await? {
            generations.insert(
                key.compartment.clone(),
                (key.generation, PublicKey::decode(&key.public_key)?),
            );
        }
        Ok(generations)
    }

    /// Wraps these compartments' secrets to `holder` (a user id, or `recovery`) at `public`.
    /// The granting session must hold each one; nobody's passphrase is needed.
    pub(crate) async fn grant_writes(
        &self,
        granting: &Session,
        holder: &str,
        public: &PublicKey,
        compartments: &BTreeSet<String>,
    ) -> AppResult<Vec<SideWrite>> {
        let generations = self.generations().await?;
        let mut writes = Vec::new();
        for compartment in compartments {
            let Some((generation, _)) = generations.get(compartment) else {
                continue;
            };
            let secret = self
                .compartment_secret(granting, compartment, *generation)
                .await?;
            writes.push(holder_wrap(
                compartment,
                *generation,
                holder,
                public,
                &secret,
            )?);
        }
        Ok(writes)
    }

    /// A new location's compartment: its key pair, wrapped to every active admin and
    /// coordinator and to the recovery key. Returns the writes and the public key.
    pub(crate) async fn new_location_compartment(
        &self,
        location: LocationId,
    ) -> AppResult<(Vec<SideWrite>, PublicKey)> {
        let pair = KeyPair::generate()?;
        let compartment = location.to_string();
        let mut writes = vec![SideWrite::Compartment(CompartmentKey {
            compartment: compartment.clone(),
            generation: 1,
            public_key: pair.public().encode(),
        })];
        for user in self.store.users().await? {
            if !holdings(user.role, &user.locations, user.active, &[location])
                .contains(&compartment)
            {
                continue;
            }
            if let Some(public) = self.store.user_public_key(user.id).await? {
                writes.push(holder_wrap(
                    &compartment,
                    1,
                    &user.id.to_string(),
                    &PublicKey::decode(&public)?,
                    &pair.secret(),
                )?);
            }
        }
        if let Some(public) = self.store.meta(META_RECOVERY_PUBLIC).await? {
            writes.push(holder_wrap(
                &compartment,
                1,
                RECOVERY,
                &PublicKey::decode(&public)?,
                &pair.secret(),
            )?);
        }
        Ok((writes, pair.public()))
    }

    /// The writes that make a user hold what their new role, locations and status say: new
    /// wraps for what they gain, and for what they lose a new generation of that compartment,
    /// wrapped to those who keep it, with every record key re-wrapped and the old generation
    /// (the user's wraps with it) dropped, so that their passphrase opens nothing of it.
    pub(crate) async fn holding_writes(
        &self,
        session: &Session,
        user: &User,
        role: Role,
        locations: &BTreeSet<LocationId>,
        active: bool,
    ) -> AppResult<Vec<SideWrite>> {
        if !self.compartment_model().await? {
            return Ok(Vec::new());
        }
        let all: Vec<LocationId> = self.store.locations().await?.iter().map(|l| l.id).collect();
        let before = holdings(user.role, &user.locations, user.active, &all);
        let after = holdings(role, locations, active, &all);
        let holder = user.id.to_string();
        let mut writes = Vec::new();
        let gained: BTreeSet<String> = after.difference(&before).cloned().collect();
        if !gained.is_empty() {
            let public = self
                .store
                .user_public_key(user.id)
                .await?
                .ok_or_else(|| AppError::invalid("keys", Reason::new("no-public-key")))?;
            writes.extend(
                self.grant_writes(session, &holder, &PublicKey::decode(&public)?, &gained)
                    .await?,
            );
        }
        for compartment in before.difference(&after) {
            writes.extend(
                self.rotation_writes(session, compartment, Some(&holder))
                    .await?,
            );
        }
        if !active {
            // Still waiting for a first login after the upgrade: their passphrase opens the
            // data key, which opens their waiting key pair: both go.
            writes.extend(self.end_pending_writes(user.id, true).await?);
        }
        Ok(writes)
    }

    /// A compartment's next generation: a new key pair wrapped to every holder of the current
    /// one but `without`. The session must hold the compartment. None when there is no such
    /// compartment.
    pub(crate) async fn next_generation(
        &self,
        session: &Session,
        compartment: &str,
        without: Option<&str>,
    ) -> AppResult<Option<NextGeneration>> {
        let generations = self.generations().await?;
        let Some((generation, _)) = generations.get(compartment).copied() else {
            return Ok(None);
        };
        let old = self
            .compartment_secret(session, compartment, generation)
            .await?;
        let old = refuge_crypto::Holder::new(KeyPair::from_secret(&old));
        let next = KeyPair::generate()?;
        let next_generation = generation + 1;
        let mut writes = vec![SideWrite::Compartment(CompartmentKey {
            compartment: compartment.to_string(),
            generation: next_generation,
            public_key: next.public().encode(),
        })];
        for holder in self.store.holders(compartment, generation).await? {
            if Some(holder.as_str()) == without {
                continue;
            }
            let public = if holder == RECOVERY {
                self.store.meta(META_RECOVERY_PUBLIC).await?
            } else {
                let id = UserId(Uuid::parse_str(&holder).map_err(|_| {
                    AppError::Store(StoreError::Corrupt(format!("holder {holder} is no user")))
                })?);
                self.store.user_public_key(id).await?
            };
            if let Some(public) = public {
                writes.push(holder_wrap(
                    compartment,
                    next_generation,
                    &holder,
                    &PublicKey::decode(&public)?,
                    &next.secret(),
                )?);
            }
        }
        Ok(Some(NextGeneration {
            compartment: compartment.to_string(),
            generation,
            old,
            envelope: Envelope::to(&next.public())?,
            writes,
        }))
    }

    /// A compartment's next generation (`next_generation`) with every record key re-wrapped
    /// to it and the current generation dropped.
    pub(crate) async fn rotation_writes(
        &self,
        session: &Session,
        compartment: &str,
        without: Option<&str>,
    ) -> AppResult<Vec<SideWrite>> {
        let Some(mut next) = self.next_generation(session, compartment, without).await? else {
            return Ok(Vec::new());
        };
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .record_keys_in(
                    compartment,
                    next.generation,
                    after.as_deref(),
                    ROTATION_PAGE,
                )
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.record.clone());
            for key in page {
                let record_key = next.open(&key)?;
                let moved = next.wrap(&key.record, &record_key)?;
                next.writes.push(moved);
            }
        }
        Ok(next.finish())
    }

    /// A user's new key pair (an admin's new passphrase for someone else, or the recovery
    /// code's for an admin): every compartment they should hold wrapped to it by `granting`,
    /// their old wraps dropped. Returns the writes and the pair.
    pub(crate) async fn rekey_user_writes(
        &self,
        granting: &Session,
        user: &User,
    ) -> AppResult<(Vec<SideWrite>, KeyPair)> {
        let pair = KeyPair::generate()?;
        let all: Vec<LocationId> = self.store.locations().await?.iter().map(|l| l.id).collect();
        let held = holdings(user.role, &user.locations, user.active, &all);
        let holder = user.id.to_string();
        let mut writes = self.end_pending_writes(user.id, false).await?;
        writes.extend([
            SideWrite::DropHolderWraps {
                holder: holder.clone(),
            },
            SideWrite::UserKey {
                user: user.id,
                public_key: pair.public().encode(),
            },
        ]);
        writes.extend(
            self.grant_writes(granting, &holder, &pair.public(), &held)
                .await?,
        );
        Ok((writes, pair))
    }

    /// Turns compartments to a new generation (`refuge key rotate`): one location's, or
    /// every compartment's. Every holder keeps their access under the new generation, every
    /// record key is re-wrapped, and the old generation is dropped, all in one transaction:
    /// stopped at any point, nothing has changed, and it can simply run again. Returns how
    /// many compartments and record keys were turned.
    pub async fn rotate_keys(
        &self,
        session: &Session,
        location: Option<&str>,
    ) -> AppResult<(usize, usize)> {
        session.require(Action::ManageKeys)?;
        if !self.compartment_model().await? {
            return Err(AppError::invalid(
                "keys",
                Reason::new("one-data-key-no-compartments"),
            ));
        }
        let compartments = self.compartments_to_turn(location).await?;
        let mut side_writes = Vec::new();
        for compartment in &compartments {
            side_writes.extend(self.rotation_writes(session, compartment, None).await?);
        }
        let records = side_writes
            .iter()
            .filter(|write| matches!(write, SideWrite::RecordKey(_)))
            .count();
        let detail = format!("{} compartments, {records} record keys", compartments.len());
        self.commit(Commit {
            side_writes,
            access: vec![self.access_entry(
                &session.user().name,
                AccessAction::KeysRotated,
                location.unwrap_or("organisation"),
                &detail,
            )],
            ..Default::default()
        })
        .await?;
        // This session's opened compartments are of the old generations: it opens the new
        // ones from the store as it needs them.
        Ok((compartments.len(), records))
    }

    /// One location's compartment, or every compartment.
    pub(crate) async fn compartments_to_turn(
        &self,
        location: Option<&str>,
    ) -> AppResult<Vec<String>> {
        Ok(match location {
            Some(code) => vec![self.location_by_code(code).await?.id.to_string()],
            None => self
                .store
                .current_compartments()
                .await?
                .into_iter()
                .map(|key| key.compartment)
                .collect(),
        })
    }
}
