//! What every area of the suite shares: a workspace with its own database, the refuge binary run in
//! it, PostgreSQL when the suite has one, and a process killed after a delay.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PASSPHRASE: &str = "synthetic passphrase 1";

pub struct Workspace {
    pub dir: tempfile::TempDir,
    /// Inputs the test itself writes live outside the scanned directory.
    pub inputs: tempfile::TempDir,
    /// The database URL when not the default ./refuge.db.
    pub db: Option<String>,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
            inputs: tempfile::tempdir().unwrap(),
            db: None,
        }
    }

    pub fn on(db: String) -> Self {
        Workspace {
            db: Some(db),
            ..Workspace::new()
        }
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_refuge"));
        command
            .current_dir(self.dir.path())
            .env_remove("REFUGE_USER")
            .env("REFUGE_PASSPHRASE", PASSPHRASE);
        match &self.db {
            Some(db) => command.env("REFUGE_DB", db),
            None => command.env_remove("REFUGE_DB"),
        };
        command
    }

    pub fn run_as(&self, user: Option<&str>, passphrase: &str, args: &[&str]) -> Output {
        let mut command = self.command();
        command
            .env("REFUGE_PASSPHRASE", passphrase)
            .env("REFUGE_NEW_PASSPHRASE", PASSPHRASE)
            .env("REFUGE_LOG", "debug")
            .args(args);
        if let Some(user) = user {
            command.args(["--user", user]);
        }
        command.output().unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_as(None, PASSPHRASE, args)
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs and expects failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(!output.status.success(), "{args:?} should have failed");
        String::from_utf8(output.stderr).unwrap()
    }

    pub fn input(&self, name: &str, text: &str) -> PathBuf {
        let path = self.inputs.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

pub fn code_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    &text[start..start + 7]
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The last line of a command's standard error (debug logging may come before it).
pub fn last_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// The PostgreSQL server named by `REFUGE_TEST_POSTGRES` (a superuser URL), or None, said on
/// the terminal (past the harness's capture), when there is none.
pub fn postgres_admin(test: &str) -> Option<String> {
    use std::io::Write as _;
    let admin = std::env::var("REFUGE_TEST_POSTGRES").ok();
    if admin.is_none() {
        writeln!(
            std::io::stderr(),
            "{test}: skipped, no PostgreSQL (set REFUGE_TEST_POSTGRES; scripts/test does)"
        )
        .ok();
    }
    admin
}

/// A PostgreSQL client program of the server's version.
pub fn pg_tool(name: &str) -> PathBuf {
    let bin = std::env::var("REFUGE_PG_BIN").unwrap_or("/usr/lib/postgresql/15/bin".into());
    Path::new(&bin).join(name)
}

/// A fresh, empty database on the test server; returns its URL.
pub fn postgres_database(admin: &str) -> String {
    let name = format!("refuge_cli_{}", uuid::Uuid::now_v7().simple());
    let output = Command::new(pg_tool("psql"))
        .args([admin, "-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

/// The recovery code printed by init, as printed.
pub fn recovery_code_in(init_output: &str) -> String {
    let lines: Vec<&str> = init_output.lines().collect();
    let heading = lines
        .iter()
        .position(|line| line.starts_with("Organisation recovery code"))
        .expect("init prints a recovery code");
    lines[heading + 1].trim().to_string()
}

/// Runs `args`, kills it with SIGKILL (no destructor, no rollback by the program itself)
/// after `delay_ms`; returns whether it had finished successfully first.
pub fn killed_after(ws: &Workspace, args: &[&str], delay_ms: u64) -> bool {
    let mut child = ws
        .command()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    #[allow(
        clippy::disallowed_methods,
        reason = "a real process is killed after a real delay; no clock to move"
    )]
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    child.kill().ok();
    child.wait().unwrap().success()
}

/// A `refuge serve` process on the test database, on a free loopback port.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
}

impl Server {
    pub fn start(ws: &Workspace) -> Server {
        Server::start_with(ws, &[])
    }

    pub fn start_with(ws: &Workspace, extra: &[&str]) -> Server {
        use std::io::BufRead as _;
        let mut child = ws
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let line = lines.next().unwrap().unwrap();
        let base = line
            .split_whitespace()
            .find(|word| word.starts_with("http://") || word.starts_with("https://"))
            .unwrap_or_else(|| panic!("no address in {line}"))
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Already gone is fine.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// One browser-like client: a session cookie and its CSRF token.
pub struct Client {
    pub agent: ureq::Agent,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

impl Client {
    pub fn login(base: &str, user: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let reply = agent
            .post(&format!("{base}/login"))
            .send_form([("user", user), ("passphrase", PASSPHRASE)])
            .unwrap();
        assert_eq!(reply.status().as_u16(), 303, "login as {user}");
        let cookie = reply.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let mut page = agent
            .get(&format!("{base}/dashboard"))
            .header("Cookie", &cookie)
            .call()
            .unwrap();
        let body = page.body_mut().read_to_string().unwrap();
        let marker = "name=\"csrf\" value=\"";
        let at = body.find(marker).expect("a csrf field") + marker.len();
        Client {
            agent,
            base: base.to_string(),
            cookie,
            csrf: body[at..at + 64].to_string(),
        }
    }

    /// Posts a form; returns the status and the Location header.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let mut fields = vec![("csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        let reply = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .send_form(fields)
            .unwrap();
        let location = reply
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_string())
            .unwrap_or_default();
        (reply.status().as_u16(), location)
    }
}

/// What the writers saw acknowledged (303) and refused as a conflict (409, 422).
#[derive(Default, Debug)]
pub struct Tally {
    pub moves: u64,
    pub incidents: u64,
    pub confirmed: u64,
    pub refused: u64,
}

/// Events of one kind in `refuge log`.
pub fn logged(ws: &Workspace, kind: &str) -> u64 {
    ws.ok(&["log"])
        .lines()
        .filter(|line| line.split_whitespace().nth(4) == Some(kind))
        .count() as u64
}
