//! `refuge location`.

use crate::args::*;
use crate::config::Config;
use crate::output;
use anyhow::Result;

pub async fn location(config: &Config<'_>, command: LocationCommand) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    match command {
        LocationCommand::Add {
            code,
            kind,
            country,
            capacity,
            name,
            address,
        } => {
            let location = app
                .add_location(
                    &session,
                    &code,
                    kind,
                    &country,
                    capacity,
                    name.as_deref(),
                    address.as_deref(),
                )
                .await?;
            outln!(
                "Added {} {} in {} with {} beds.",
                location.kind,
                location.code,
                location.country,
                location.capacity
            );
        }
        LocationCommand::List { reveal } => {
            let views = app.locations(&session, reveal).await?;
            output::locations(&views)?;
        }
    }
    Ok(())
}
