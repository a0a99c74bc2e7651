//! Locations: each a compartment (its own key pair, its name and address sealed to it),
//! added by an admin, listed with their occupancy and, for holders of their key, their names.

use crate::*;

/// A location as listed, with its occupancy.
#[derive(Debug)]
pub struct LocationView {
    pub location: Location,
    pub present: u64,
    pub name: Option<Revealed>,
    pub address: Option<Revealed>,
}

impl App {
    pub(crate) async fn location_by_code(&self, code: &str) -> AppResult<Location> {
        self.store
            .location_by_code(&code.trim().to_ascii_uppercase())
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "location",
                code: code.to_string(),
            })
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn add_location(
        &self,
        session: &Session,
        code: &str,
        kind: LocationKind,
        country: &str,
        capacity: u32,
        name: Option<&str>,
        address: Option<&str>,
    ) -> AppResult<Location> {
        session.require(Action::ManageLocations)?;
        for (field, text) in [("name", name), ("address", address)] {
            if let Some(text) = text {
                check_text(field, text, false)?;
            }
        }
        let code = code.trim().to_ascii_uppercase();
        if code.is_empty()
            || code.len() > 32
            || !code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(AppError::invalid(
                "code",
                Reason::new("location-code-letters"),
            ));
        }
        if CodeKind::of_code(&code).is_some() {
            return Err(AppError::invalid(
                "code",
                Reason::new("looks-like-a-record-code").with("code", &code),
            ));
        }
        let country = country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(AppError::invalid("country", Reason::new("country-code")));
        }
        if self.store.location_by_code(&code).await?.is_some() {
            return Err(AppError::invalid(
                "code",
                Reason::new("location-exists").with("code", &code),
            ));
        }
        let id = LocationId(self.new_uuid()?);
        let id_text = id.to_string();
        // Its own compartment, whose members alone read its name and address.
        let mut keys = self.new_keys(session).await?;
        if self.compartment_model().await? {
            let (writes, public) = self.new_location_compartment(id).await?;
            keys.add_compartment(&id_text, 1, public);
            for write in writes {
                keys.keep_write(write);
            }
        }
        let sealer = keys.seal_new(&id_text, &id_text)?;
        let sealer = sealer.as_ref();
        let location = Location {
            id,
            code: code.clone(),
            kind,
            country,
            capacity,
            name: name
                .map(|text| seal(sealer, text, location_context(&id_text, "name")))
                .transpose()?,
            address: address
                .map(|text| seal(sealer, text, location_context(&id_text, "address")))
                .transpose()?,
            version: 0,
        };
        let commit = Commit {
            events: vec![self.new_event(
                session,
                EventBody::LocationAdded {
                    location: location.clone(),
                },
            )?],
            side_writes: keys.into_side_writes(),
            ..Commit::default()
        };
        self.commit(commit).await?;
        Ok(location)
    }

    /// Locations with occupancy; their protected names only with `reveal` (logged).
    pub async fn locations(&self, session: &Session, reveal: bool) -> AppResult<Vec<LocationView>> {
        session.require(Action::ViewLocations)?;
        if reveal {
            session.require(Action::RevealIdentity)?;
        }
        let occupancy: std::collections::BTreeMap<_, _> =
            self.store.occupancy().await?.into_iter().collect();
        let mut views = Vec::new();
        let locations = self.store.locations().await?;
        let sealers = if reveal {
            let ids: Vec<String> = locations.iter().map(|l| l.id.to_string()).collect();
            self.record_sealers(session, &ids).await?
        } else {
            Default::default()
        };
        for location in locations {
            let id_text = location.id.to_string();
            // A name is shown to who can open it: a location outside one's compartments
            // shows its code only.
            let open = |sealed: &Option<Sealed>, field| -> AppResult<Option<Revealed>> {
                match (sealed, sealers.get(&id_text)) {
                    (Some(sealed), Some(sealer)) => Ok(Some(
                        sealer.open(&sealed.0, location_context(&id_text, field))?,
                    )),
                    _ => Ok(None),
                }
            };
            views.push(LocationView {
                present: occupancy.get(&location.id).copied().unwrap_or_default(),
                name: open(&location.name, "name")?,
                address: open(&location.address, "address")?,
                location,
            });
        }
        if reveal {
            self.log(
                &session.user().name,
                AccessAction::Reveal,
                "locations",
                "names",
            )
            .await?;
        }
        Ok(views)
    }
}
