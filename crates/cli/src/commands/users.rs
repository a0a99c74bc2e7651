//! Users, API tokens and the recovery code: `user`, `token`, `recovery-code`, `recover`.

use crate::args::*;
use crate::config::Config;
use crate::output::Progress;
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
        } => add_user(config, &app, &name, role, &location).await,
        UserCommand::List => list_users(config, &app).await,
        UserCommand::Set {
            name,
            role,
            location,
            active,
        } => {
            let change = UserChange {
                role,
                location_codes: (!location.is_empty()).then_some(location.as_slice()),
                active: active.map(|YesNo(active)| active),
            };
            set_user(config, &app, &name, change).await
        }
        UserCommand::Passwd { name } => passwd(config, &app, &name).await,
        UserCommand::Duress { off } => duress(config, &app, off).await,
    }
}

/// `refuge user add`.
async fn add_user(
    config: &Config<'_>,
    app: &App,
    name: &str,
    role: Role,
    location_codes: &[String],
) -> Result<()> {
    let session = config.login(app).await?;
    let passphrase = new_passphrase_for(config, name)?;
    let user = app
        .add_user(
            &session,
            NewUser {
                name,
                role,
                location_codes,
                passphrase: passphrase.value(),
            },
        )
        .await?;
    passphrase.announce(&user.name)?;
    outln!("Added {} user '{}'.", user.role, user.name);
    Ok(())
}

/// `refuge user list`.
async fn list_users(config: &Config<'_>, app: &App) -> Result<()> {
    let session = config.login(app).await?;
    let users = app.users(&session).await?;
    let locations = app.location_codes().await?;
    let pending = app.users_pending_first_login().await?;
    outln!("{:<20} {:<12} {:<7} LOCATIONS", "NAME", "ROLE", "ACTIVE");
    for user in users {
        let codes: Vec<&str> = user
            .locations
            .iter()
            .filter_map(|id| locations.get(id).map(String::as_str))
            .collect();
        let waiting = if pending.contains(&user.name) {
            "  (keys wait for a first login since the upgrade)"
        } else {
            ""
        };
        let line = format!(
            "{:<20} {:<12} {:<7} {:<16}{waiting}",
            user.name,
            user.role.as_str(),
            if user.active { "yes" } else { "no" },
            codes.join(",")
        );
        outln!("{}", line.trim_end());
    }
    Ok(())
}

/// `refuge user set`.
async fn set_user(
    config: &Config<'_>,
    app: &App,
    name: &str,
    change: UserChange<'_>,
) -> Result<()> {
    let session = config.login(app).await?;
    let user = app.change_user(&session, name, change).await?;
    outln!(
        "User '{}' is now {}{}.",
        user.name,
        user.role.as_str(),
        if user.active { "" } else { " (cannot log in)" }
    );
    Ok(())
}

/// A user's new passphrase: from --new-passphrase-file, REFUGE_NEW_PASSPHRASE, the terminal,
/// or generated (and shown once).
fn new_passphrase_for(config: &Config<'_>, name: &str) -> Result<secrets::NewPassphrase> {
    secrets::new_passphrase(
        config.global,
        "REFUGE_NEW_PASSPHRASE",
        &format!("New passphrase for {name}"),
    )
}

/// `refuge user passwd`.
async fn passwd(config: &Config<'_>, app: &App, name: &str) -> Result<()> {
    let session = config.login(app).await?;
    let passphrase = new_passphrase_for(config, name)?;
    app.reset_passphrase(&session, name, passphrase.value())
        .await?;
    passphrase.announce(name)?;
    outln!("Passphrase of '{name}' changed.");
    Ok(())
}

/// `refuge user duress`: set your duress passphrase, or remove it.
async fn duress(config: &Config<'_>, app: &App, off: bool) -> Result<()> {
    let (session, current) = config.login_keeping_passphrase(app).await?;
    let name = session.user().name.clone();
    if off {
        app.set_duress_passphrase(&session, &current, None).await?;
        outln!("The duress passphrase of '{name}' is removed.");
        return Ok(());
    }
    let duress = secrets::new_passphrase(
        config.global,
        "REFUGE_NEW_PASSPHRASE",
        &format!("Duress passphrase for {name}"),
    )?;
    app.set_duress_passphrase(&session, &current, Some(duress.value()))
        .await?;
    duress.announce(&format!("{name} under duress"))?;
    outln!(
        "Duress passphrase of '{name}' set. Typed instead of your passphrase, it \
         erases this organisation's keys and records at once and shows an empty one."
    );
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

/// Prints a new recovery code with how to keep it.
pub fn announce_recovery_code(code: &RecoveryCode) -> std::io::Result<()> {
    outln!("Organisation recovery code (shown this once):");
    outln!("  {}", code.text().as_str());
    outln!(
        "It opens every record and sets a new admin passphrase (`refuge recover`). Write it on \
         paper, keep two copies in two safe places, never on this laptop or in a photo."
    );
    Ok(())
}

pub async fn recovery_code(config: &Config<'_>, command: RecoveryCodeCommand) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    match command {
        RecoveryCodeCommand::New => {
            let code = app.new_recovery_code(&session).await?;
            announce_recovery_code(&code)?;
            outln!("The recovery code before this one no longer works.");
        }
        RecoveryCodeCommand::Status => match app.recovery_code_made().await? {
            Some(day) => outln!("The recovery code in use was made on {day}."),
            None => outln!(
                "This organisation has no recovery code: an admin makes one with `refuge recovery-code new`."
            ),
        },
    }
    Ok(())
}

/// A progress bar for a re-seal, shared with the store's callback.
fn reseal_progress(bar: &std::sync::Mutex<Progress>, done: u64, total: u64) {
    if let Ok(mut bar) = bar.lock() {
        bar.update("events", done, total);
    }
}

pub async fn rotate_keys(config: &Config<'_>, location: Option<&str>, reseal: bool) -> Result<()> {
    let (app, session) = config.sign_in().await?;
    if !reseal {
        let (compartments, records) = app.rotate_keys(&session, location).await?;
        outln!(
            "Turned {compartments} compartments to a new generation; {records} record keys re-wrapped."
        );
        return Ok(());
    }
    let bar = std::sync::Mutex::new(Progress::new());
    let resealed = app
        .reseal_keys(&session, location, &|done, total| {
            reseal_progress(&bar, done, total)
        })
        .await;
    if let Ok(bar) = bar.lock() {
        bar.finish();
    }
    let resealed = resealed?;
    outln!(
        "Turned {} compartments to a new generation; {} records have new keys; {} events in the log checked and chained again.",
        resealed.compartments,
        resealed.records,
        resealed.events
    );
    Ok(())
}

pub async fn upgrade_keys(config: &Config<'_>) -> Result<()> {
    let app = config.open().await?;
    let (session, passphrase) = config.login_keeping_passphrase(&app).await?;
    let bar = std::sync::Mutex::new(Progress::new());
    let upgraded = app
        .upgrade_keys(&session, &passphrase, &|done, total| {
            reseal_progress(&bar, done, total)
        })
        .await;
    if let Ok(bar) = bar.lock() {
        bar.finish();
    }
    let upgraded = upgraded?;
    outln!(
        "Upgraded to compartment keys: {} records sealed under their own keys, {} events chained again.",
        upgraded.records,
        upgraded.events
    );
    if upgraded.tokens_revoked > 0 {
        outln!(
            "{} API tokens were revoked (they opened the old data key): make new ones with `refuge token new`.",
            upgraded.tokens_revoked
        );
    }
    if !upgraded.pending.is_empty() {
        outln!(
            "Until they log in once, these users' keys wait under the old data key, which every \
             user's old passphrase still opens: {}. Ask each to log in now, or set them a new \
             passphrase with `refuge user passwd NAME`; `refuge user list` says who is left.",
            upgraded.pending.join(", ")
        );
    }
    announce_recovery_code(&upgraded.code)?;
    outln!("The recovery code before the upgrade, if there was one, no longer works.");
    Ok(())
}

pub async fn recover(
    config: &Config<'_>,
    admin: Option<String>,
    code_file: Option<&std::path::Path>,
) -> Result<()> {
    let app = config.open().await?;
    let admin = match admin {
        Some(name) => name,
        None => app.default_user().await?,
    };
    let code = secrets::recovery_code(code_file)?;
    let passphrase = secrets::new_passphrase(
        config.global,
        "REFUGE_NEW_PASSPHRASE",
        &format!("New passphrase for {admin}"),
    )?;
    app.recover(&code, &admin, passphrase.value()).await?;
    passphrase.announce(&admin)?;
    outln!(
        "Passphrase of '{admin}' set from the recovery code. The code has now been typed on this \
         machine: once you are in, make a new one with `refuge recovery-code new`."
    );
    Ok(())
}
