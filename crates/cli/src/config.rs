//! The resolved configuration: what the global flags and the environment say, read once.
//! Every command opens the database and signs in through here.

use crate::args::Global;
use crate::commands::setup::url_argument;
use crate::secrets;
use anyhow::Result;
use refuge_app::{App, Clock, RefusalLog, Session, SystemClock};

pub struct Config<'a> {
    pub global: &'a Global,
    db_url: String,
    /// The refusals of the apps opened, written after the command.
    refusal_logs: std::sync::Mutex<Vec<RefusalLog>>,
}

impl<'a> Config<'a> {
    /// Reads the database URL (from `--db-url-file` when given, else `--db`).
    pub fn resolve(global: &'a Global) -> Result<Config<'a>> {
        let db_url = match &global.db_url_file {
            Some(file) => url_argument(None, Some(file))?,
            None => global.db.clone(),
        };
        Ok(Config {
            global,
            db_url,
            refusal_logs: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    /// The organisation's application over the existing database.
    pub async fn open(&self) -> Result<App> {
        let store = refuge_store::open(&self.db_url).await?;
        let app = App::new(store, Box::new(SystemClock));
        self.refusal_logs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(app.refusal_log());
        Ok(app)
    }

    /// Writes to the access log what the command's sessions were refused.
    pub async fn write_refusals(&self) -> Result<()> {
        let logs: Vec<RefusalLog> = std::mem::take(
            &mut *self
                .refusal_logs
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for log in logs {
            log.write(SystemClock.now()).await?;
        }
        Ok(())
    }

    /// Logs in as `--user` (or the admin created by init) with the passphrase from the usual
    /// sources.
    pub async fn login(&self, app: &App) -> Result<Session> {
        Ok(self.login_keeping_passphrase(app).await?.0)
    }

    /// Logs in as `login` does, and keeps the passphrase for a command that must see it typed
    /// again (`user duress`).
    pub async fn login_keeping_passphrase(&self, app: &App) -> Result<(Session, String)> {
        let user = match &self.global.user {
            Some(user) => user.clone(),
            None => app.default_user().await?,
        };
        let passphrase = secrets::passphrase(self.global, &format!("Passphrase for {user}: "))?;
        let session = app.login(&user, &passphrase).await?;
        if session.opened_after_erase() {
            app.compact_after_erase().await?;
        }
        Ok((session, passphrase))
    }

    /// Opens the database and logs in: what almost every command does first.
    pub async fn sign_in(&self) -> Result<(App, Session)> {
        let app = self.open().await?;
        let session = self.login(&app).await?;
        Ok((app, session))
    }
}
