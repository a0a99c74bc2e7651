//! Users and API tokens: `user`, `token`.

use crate::args::*;
use crate::config::Config;
use crate::secrets;
use anyhow::Result;
use refuge_app::*;
use refuge_core::*;
use std::collections::BTreeMap;

pub async fn user(config: &Config<'_>, command: UserCommand) -> Result<()> {
    let app = config.open().await?;
    match command {
        UserCommand::Add {
            name,
            role,
            location,
        } => {
            let session = config.login(&app).await?;
            let passphrase = secrets::new_passphrase(
                config.global,
                "REFUGE_NEW_PASSPHRASE",
                &format!("New passphrase for {name}"),
            )?;
            let user = app
                .add_user(
                    &session,
                    NewUser {
                        name: &name,
                        role,
                        location_codes: &location,
                        passphrase: passphrase.value(),
                    },
                )
                .await?;
            passphrase.announce(&user.name)?;
            outln!("Added {} user '{}'.", user.role, user.name);
        }
        UserCommand::List => {
            let session = config.login(&app).await?;
            let users = app.users(&session).await?;
            let locations = app.location_codes().await?;
            outln!("{:<20} {:<12} {:<7} LOCATIONS", "NAME", "ROLE", "ACTIVE");
            for user in users {
                let codes: Vec<&str> = user
                    .locations
                    .iter()
                    .filter_map(|id| locations.get(id).map(String::as_str))
                    .collect();
                outln!(
                    "{:<20} {:<12} {:<7} {}",
                    user.name,
                    user.role.as_str(),
                    if user.active { "yes" } else { "no" },
                    codes.join(",")
                );
            }
        }
        UserCommand::Set {
            name,
            role,
            location,
            active,
        } => {
            let session = config.login(&app).await?;
            let user = app
                .change_user(
                    &session,
                    &name,
                    UserChange {
                        role,
                        location_codes: (!location.is_empty()).then_some(location.as_slice()),
                        active: active.map(|YesNo(active)| active),
                    },
                )
                .await?;
            outln!(
                "User '{}' is now {}{}.",
                user.name,
                user.role.as_str(),
                if user.active { "" } else { " (cannot log in)" }
            );
        }
        UserCommand::Passwd { name } => {
            let session = config.login(&app).await?;
            let passphrase = secrets::new_passphrase(
                config.global,
                "REFUGE_NEW_PASSPHRASE",
                &format!("New passphrase for {name}"),
            )?;
            app.reset_passphrase(&session, &name, passphrase.value())
                .await?;
            passphrase.announce(&name)?;
            outln!("Passphrase of '{name}' changed.");
        }
    }
    Ok(())
}

pub async fn token(config: &Config<'_>, command: TokenCommand) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    match command {
        TokenCommand::Create { label } => {
            let (token, text) = app.create_token(&session, &label).await?;
            eprintln!(
                "Token {} for {}. It is shown this once; keep it like a passphrase:",
                token.id,
                session.user().name
            );
            outln!("{text}");
        }
        TokenCommand::List => {
            let tokens = app.tokens(&session).await?;
            // Admins see everyone's tokens and may list users; anyone else sees their own.
            let names: BTreeMap<UserId, String> =
                if tokens.iter().any(|token| token.user != session.user().id) {
                    app.users(&session)
                        .await?
                        .into_iter()
                        .map(|user| (user.id, user.name))
                        .collect()
                } else {
                    std::iter::once((session.user().id, session.user().name.clone())).collect()
                };
            outln!(
                "{:<12} {:<16} {:<26} {:<26} LABEL",
                "ID",
                "USER",
                "CREATED",
                "REVOKED"
            );
            for token in tokens {
                outln!(
                    "{:<12} {:<16} {:<26} {:<26} {}",
                    token.id,
                    names.get(&token.user).map_or("?", String::as_str),
                    token.created,
                    token.revoked.as_deref().unwrap_or("-"),
                    token.label
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let token = app.revoke_token(&session, &id).await?;
            outln!("Revoked token {}.", token.id);
        }
    }
    Ok(())
}
