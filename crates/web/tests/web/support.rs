//! What every area of the suite shares: a server on a fresh demo organisation, plain HTTP requests
//! to it, and a real headless Chromium driven over WebDriver.

use refuge_app::{App, ManualClock, demo::DemoOptions};
use refuge_core::NodeId;
use refuge_store::{DynStore, SqliteStore};
use refuge_web::{ServerState, SessionPolicy, Sessions, Transport};
use std::sync::Arc;
use std::time::Duration;

pub const PASSPHRASE: &str = "synthetic web passphrase";

pub struct Server {
    pub base: String,
    pub agent: ureq::Agent,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as it came (a download).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

pub fn start(policy: SessionPolicy) -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.db");
    // Sessions and the login throttle read the app's clock: tests move it instead of sleeping.
    let clock = Arc::new(ManualClock::new(
        time::macros::datetime!(2026-11-29 09:00 UTC),
    ));
    let base = runtime.block_on(async {
        let store = SqliteStore::create(&path, NodeId(uuid::Uuid::now_v7()))
            .await
            .unwrap();
        let app = App::new(Box::new(store) as DynStore, Box::new(clock.clone()));
        let admin = app.init("admin", PASSPHRASE, 300).await.unwrap();
        app.populate_demo(
            &admin,
            &DemoOptions {
                people: 300,
                ..DemoOptions::default()
            },
            PASSPHRASE,
            &mut |_, _| {},
        )
        .await
        .unwrap();
        let state = Arc::new(ServerState {
            app,
            sessions: Sessions::new(policy),
            transport: Transport::Loopback,
            replies: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(refuge_web::serve(state, listener));
        base
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    Server {
        base,
        agent,
        clock,
        dir,
        runtime,
    }
}

pub fn reply(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = result.unwrap();
    let headers = response
        .headers()
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_str().unwrap_or("").to_string()))
        .collect();
    let bytes = response.body_mut().read_to_vec().unwrap_or_default();
    Reply {
        status: response.status().as_u16(),
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

impl Server {
    pub fn get(&self, path: &str, cookie: &str) -> Reply {
        reply(
            self.agent
                .get(&format!("{}{path}", self.base))
                .header("Cookie", cookie)
                .call(),
        )
    }

    pub fn get_with(&self, path: &str, cookie: &str, header: (&str, &str)) -> Reply {
        reply(
            self.agent
                .get(&format!("{}{path}", self.base))
                .header("Cookie", cookie)
                .header(header.0, header.1)
                .call(),
        )
    }

    pub fn post(&self, path: &str, cookie: &str, form: &[(&str, &str)]) -> Reply {
        reply(
            self.agent
                .post(&format!("{}{path}", self.base))
                .header("Cookie", cookie)
                .send_form(form.iter().copied()),
        )
    }

    pub fn post_cross_site(&self, path: &str, cookie: &str, form: &[(&str, &str)]) -> Reply {
        reply(
            self.agent
                .post(&format!("{}{path}", self.base))
                .header("Cookie", cookie)
                .header("Sec-Fetch-Site", "cross-site")
                .send_form(form.iter().copied()),
        )
    }

    pub fn post_with(
        &self,
        path: &str,
        cookie: &str,
        header: (&str, &str),
        form: &[(&str, &str)],
    ) -> Reply {
        reply(
            self.agent
                .post(&format!("{}{path}", self.base))
                .header("Cookie", cookie)
                .header(header.0, header.1)
                .send_form(form.iter().copied()),
        )
    }

    /// A `multipart/form-data` post: text fields, and one file as `file`.
    pub fn post_file(
        &self,
        path: &str,
        cookie: &str,
        fields: &[(&str, &str)],
        file: &[u8],
    ) -> Reply {
        let boundary = "synthetic-boundary-7d1f";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.refuge\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend(file);
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        reply(
            self.agent
                .post(&format!("{}{path}", self.base))
                .header("Cookie", cookie)
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .send(&body[..]),
        )
    }

    /// Changes a user from outside this server (as `refuge user set` does from the command
    /// line): a second app on the same database file, acting as the admin.
    pub fn change_user_elsewhere(&self, name: &str, change: refuge_app::UserChange<'_>) {
        let path = self.dir.path().join("web.db");
        self.runtime.block_on(async {
            let store = SqliteStore::open(&path).await.unwrap();
            let app = App::new(Box::new(store) as DynStore, Box::new(self.clock.clone()));
            let admin = app.login("admin", PASSPHRASE).await.unwrap();
            app.change_user(&admin, name, change).await.unwrap();
            app.close().await;
        });
    }

    /// Logs in; returns the session cookie ("refuge=…") and the page's CSRF token.
    pub fn login(&self, user: &str) -> (String, String) {
        let reply = self.post("/login", "", &[("user", user), ("passphrase", PASSPHRASE)]);
        assert_eq!(reply.status, 303, "login as {user}: {}", reply.body);
        let cookie = reply
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let page = self.get("/dashboard", &cookie);
        (cookie, csrf_of(&page.body))
    }
}

pub fn csrf_of(body: &str) -> String {
    let at =
        body.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    body[at..at + 64].to_string()
}

pub fn first_code(body: &str, prefix: &str) -> String {
    let at = body.find(&format!(">{prefix}")).unwrap() + 1;
    body[at..at + 7].to_string()
}

/// A minimal WebDriver client for chromedriver.
pub struct Browser {
    pub agent: ureq::Agent,
    pub driver: String,
    pub session: String,
    pub process: std::process::Child,
    pub shots: std::path::PathBuf,
}

pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

#[allow(
    clippy::disallowed_methods,
    reason = "polls processes outside the test (chromedriver, the page) with bounded waits"
)]
impl Browser {
    pub fn start() -> Browser {
        let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|path| std::path::Path::new(path).exists())
            .expect("browser tests need Debian's chromium and chromium-driver (scripts/test installs them)");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = std::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let driver = format!("http://127.0.0.1:{port}");
        // Poll until chromedriver answers (bounded), rather than sleeping a fixed time.
        let ready = (0..100).any(|_| {
            let up = agent
                .get(&format!("{driver}/status"))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if !up {
                std::thread::sleep(Duration::from_millis(100));
            }
            up
        });
        assert!(ready, "chromedriver did not start");
        let profile = tempfile::tempdir().unwrap().keep();
        let capabilities = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--window-size=1280,900", "--lang=en-US",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut response = agent
            .post(&format!("{driver}/session"))
            .send_json(&capabilities)
            .unwrap();
        let value: serde_json::Value = response.body_mut().read_json().unwrap();
        let session = value["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {value}"))
            .to_string();
        let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/browser-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            agent,
            driver,
            session,
            process,
            shots,
        }
    }

    pub fn call(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let url = format!("{}/session/{}{path}", self.driver, self.session);
        let mut response = match method {
            "GET" => self.agent.get(&url).call().unwrap(),
            _ => self.agent.post(&url).send_json(&body).unwrap(),
        };
        let value: serde_json::Value = response.body_mut().read_json().unwrap();
        assert!(
            value["value"].get("error").is_none(),
            "{method} {path}: {value}"
        );
        value["value"].clone()
    }

    pub fn go(&self, url: &str) {
        self.call("POST", "/url", serde_json::json!({ "url": url }));
        for _ in 0..200 {
            if self.url().starts_with(url) && self.source().contains("</main>") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{url} did not load");
    }

    pub fn find(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            serde_json::json!({ "using": "css selector", "value": css }),
        );
        found[ELEMENT].as_str().unwrap().to_string()
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/clear"),
            serde_json::json!({}),
        );
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            serde_json::json!({ "text": text }),
        );
    }

    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            serde_json::json!({}),
        );
    }

    /// Clicks something that loads a new page, and waits (bounded) until it has.
    pub fn submit(&self, css: &str) {
        let before = self.source();
        self.click(css);
        for _ in 0..100 {
            let now = self.source();
            if now != before && now.contains("</main>") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("clicking {css} loaded no new page");
    }

    pub fn url(&self) -> String {
        self.call("GET", "/url", serde_json::Value::Null)
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn source(&self) -> String {
        self.call("GET", "/source", serde_json::Value::Null)
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Runs a script in the page (the test's own, not the app's: the app needs none).
    pub fn script(&self, source: &str) -> serde_json::Value {
        self.call(
            "POST",
            "/execute/sync",
            serde_json::json!({ "script": source, "args": [] }),
        )
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            serde_json::json!({ "width": width, "height": height }),
        );
    }

    /// A screenshot of the whole page at the window's width, then the window as it was.
    pub fn screenshot_whole(&self, name: &str) {
        let rect = self.call("GET", "/window/rect", serde_json::Value::Null);
        let height = self
            .script("return document.documentElement.scrollHeight")
            .as_u64()
            .unwrap_or(800)
            .min(6000);
        self.call(
            "POST",
            "/window/rect",
            serde_json::json!({ "width": rect["width"], "height": height + 120 }),
        );
        self.screenshot(name);
        self.call(
            "POST",
            "/window/rect",
            serde_json::json!({ "width": rect["width"], "height": rect["height"] }),
        );
    }

    pub fn screenshot(&self, name: &str) {
        use base64::Engine;
        let data = self.call("GET", "/screenshot", serde_json::Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Cleaning up after a test: a driver or browser already gone is fine.
        self.agent
            .delete(&format!("{}/session/{}", self.driver, self.session))
            .call()
            .ok();
        self.process.kill().ok();
        self.process.wait().ok();
    }
}

/// A draft transfer of 5 seats from every shelter, far in the future; returns its code.
pub fn draft_batch(server: &Server, cookie: &str, csrf: &str) -> String {
    let created = server.post(
        "/transfers",
        cookie,
        &[
            ("csrf", csrf),
            ("date", "2099-01-01"),
            ("seats", "5"),
            ("origins", ""),
            ("destination", "RCP-KR"),
        ],
    );
    created
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

/// Records a conflict at SHL-BKK-1 involving `person`, with a narrative; returns its code.
pub fn record_incident(server: &Server, cookie: &str, csrf: &str, person: &str) -> String {
    let recorded = server.post(
        "/incidents",
        cookie,
        &[
            ("csrf", csrf),
            ("location", "SHL-BKK-1"),
            ("kind", "conflict"),
            ("severity", "3"),
            ("people", person),
            (
                "note",
                "Synthetic narrative: a quarrel over the kitchen rota",
            ),
        ],
    );
    assert_eq!(recorded.status, 303);
    let page = recorded.header("location").unwrap();
    page.strip_prefix("/incidents/").unwrap().to_string()
}

/// The web offered no household move, and moving one member split the household without a
/// word. The move form now asks who moves: the whole household (the default) or, said in
/// so many words, only this person.
/// Households with two or more members sheltered at one place: (location, member codes).
pub fn households_sheltered_together(server: &Server, cookie: &str) -> Vec<(String, Vec<String>)> {
    let people: serde_json::Value = serde_json::from_str(
        &server
            .get("/api/v1/people?stage=sheltered&limit=5000", cookie)
            .body,
    )
    .unwrap();
    let mut households: std::collections::BTreeMap<(String, String), Vec<String>> =
        std::collections::BTreeMap::new();
    for person in people.as_array().unwrap() {
        households
            .entry((
                person["household"].as_str().unwrap().to_string(),
                person["location"].as_str().unwrap().to_string(),
            ))
            .or_default()
            .push(person["code"].as_str().unwrap().to_string());
    }
    households
        .into_iter()
        .filter(|(_, members)| members.len() >= 2)
        .map(|((_, location), members)| (location, members))
        .collect()
}

/// Where someone is, and how many days they have waited for a transfer (as the API says).
pub fn placement_of(server: &Server, cookie: &str, code: &str) -> (String, Option<i64>) {
    let person: serde_json::Value =
        serde_json::from_str(&server.get(&format!("/api/v1/people/{code}"), cookie).body).unwrap();
    (
        person["location"].as_str().unwrap().to_string(),
        person["waiting_days"].as_i64(),
    )
}

/// The part of a page between `<main>` and `</main>`, for assertion messages.
pub fn main_of(page: &str) -> String {
    page.split("<main>")
        .nth(1)
        .unwrap_or(page)
        .split("</main>")
        .next()
        .unwrap_or_default()
        .chars()
        .take(1500)
        .collect()
}
