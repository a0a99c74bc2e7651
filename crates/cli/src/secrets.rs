//! Passphrases: from a file, the environment or the terminal; never from the command line.

use crate::args::Global;
use anyhow::{Context, Result, bail};
use std::path::Path;

fn first_line(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        bail!("the passphrase file {} is empty", path.display());
    }
    Ok(line)
}

/// The passphrase to log in with: --passphrase-file, REFUGE_PASSPHRASE, or the terminal.
pub fn passphrase(global: &Global, prompt: &str) -> Result<String> {
    if let Some(path) = &global.passphrase_file {
        return first_line(path);
    }
    if let Ok(value) = std::env::var("REFUGE_PASSPHRASE") {
        return Ok(value);
    }
    if crate::interactive() {
        return Ok(rpassword::prompt_password(prompt)?);
    }
    bail!("no passphrase: give --passphrase-file FILE or REFUGE_PASSPHRASE, or run on a terminal")
}

/// The organisation recovery code: from --code-file, REFUGE_RECOVERY_CODE, or typed at the
/// terminal without echo.
pub fn recovery_code(file: Option<&Path>) -> Result<String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the recovery code file {}", path.display()))?;
        return Ok(text.lines().next().unwrap_or("").to_string());
    }
    if let Ok(value) = std::env::var("REFUGE_RECOVERY_CODE") {
        return Ok(value);
    }
    if crate::interactive() {
        return Ok(rpassword::prompt_password(
            "Recovery code (48 digits; spaces or dashes between groups are fine): ",
        )?);
    }
    bail!("no recovery code: give --code-file FILE or REFUGE_RECOVERY_CODE, or run on a terminal")
}

/// A passphrase for a new credential, and whether refuge made it up.
pub struct NewPassphrase {
    value: String,
    generated: bool,
}

impl NewPassphrase {
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Shows a generated passphrase once; says nothing of one the user chose.
    pub fn announce(&self, who: &str) -> std::io::Result<()> {
        if self.generated {
            outln!(
                "Passphrase for {who} (shown once, write it down): {}",
                self.value
            );
        }
        Ok(())
    }
}

/// A new passphrase: from the file or variable meant for it, typed twice on a terminal, or
/// generated. `variable` is REFUGE_PASSPHRASE for init and demo, REFUGE_NEW_PASSPHRASE for
/// another user's.
pub fn new_passphrase(global: &Global, variable: &str, prompt: &str) -> Result<NewPassphrase> {
    let file = if variable == "REFUGE_PASSPHRASE" {
        &global.passphrase_file
    } else {
        &global.new_passphrase_file
    };
    if let Some(path) = file {
        return Ok(NewPassphrase {
            value: first_line(path)?,
            generated: false,
        });
    }
    if let Ok(value) = std::env::var(variable) {
        return Ok(NewPassphrase {
            value,
            generated: false,
        });
    }
    if crate::interactive() {
        let first = rpassword::prompt_password(format!("{prompt} (empty to generate one): "))?;
        if !first.is_empty() {
            let again = rpassword::prompt_password("Again: ")?;
            if again != first {
                bail!("the two passphrases differ");
            }
            return Ok(NewPassphrase {
                value: first,
                generated: false,
            });
        }
    }
    Ok(NewPassphrase {
        value: refuge_app::generate_passphrase()?,
        generated: true,
    })
}
