//! `refuge incident`.

use crate::args::*;
use crate::config::Config;
use crate::output;
use anyhow::Result;
use refuge_app::NewIncident;

pub async fn incident(config: &Config<'_>, command: IncidentCommand) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    match command {
        IncidentCommand::Add {
            location,
            kind,
            severity,
            people,
            note,
            date,
            time,
        } => {
            let incident = app
                .add_incident(
                    &session,
                    NewIncident {
                        people: &people,
                        narrative: note.as_deref(),
                        occurred: date,
                        occurred_time: time,
                        ..NewIncident::new(&location, kind, severity)
                    },
                )
                .await?;
            outln!("Recorded incident {}.", incident.code);
        }
        IncidentCommand::List { open, reveal } => {
            let incidents = app.incidents(&session, open, reveal).await?;
            output::incidents(&incidents)?;
        }
        IncidentCommand::Close { code } => {
            let incident = app.close_incident(&session, &code).await?;
            outln!("Closed incident {}.", incident.code);
        }
    }
    Ok(())
}
