//! A small synthetic organisation, made once per fuzzing process, for the targets that go
//! through the use cases (imports) or the web server (API bodies).

use refuge_app::demo::DemoOptions;
use refuge_app::{App, Session, SystemClock};
use refuge_core::NodeId;
use refuge_web::{ServerState, SessionPolicy, Sessions, Transport};
use std::sync::{Arc, OnceLock};

pub const PASSPHRASE: &str = "synthetic fuzz passphrase";

#[allow(
    dead_code,
    reason = "each target uses the part of the organisation it needs"
)]
pub struct Org {
    pub runtime: tokio::runtime::Runtime,
    pub state: Arc<ServerState>,
    pub admin: Session,
    /// A person of the demo, for the routes that name one.
    pub person: String,
    /// A coordinator's API token ("Bearer …").
    pub bearer: String,
}

pub fn org() -> &'static Org {
    static ORG: OnceLock<Org> = OnceLock::new();
    ORG.get_or_init(|| {
        // libfuzzer-sys aborts in its panic hook, before refuge's own `catch_unwind` (around
        // calamine) can turn a parser's panic into an error; its catch around each input
        // still reports every panic that escapes. The default hook prints and goes on.
        drop(std::panic::take_hook());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        // Kept for the life of the process: the fuzzer runs until it is stopped.
        let dir = Box::leak(Box::new(
            std::env::temp_dir().join(format!("refuge-fuzz-{}", uuid::Uuid::now_v7())),
        ));
        std::fs::create_dir_all(&*dir).expect("a scratch directory");
        let path = dir.join("fuzz.db");
        let (state, admin, person, bearer) = runtime.block_on(async {
            let store = refuge_store::SqliteStore::create(&path, NodeId(uuid::Uuid::now_v7()))
                .await
                .expect("a database");
            let app = App::new(
                Box::new(store) as refuge_store::DynStore,
                Box::new(SystemClock),
            );
            let admin = app.init("admin", PASSPHRASE, 1_000).await.expect("init");
            let options = DemoOptions {
                people: 60,
                ..DemoOptions::default()
            };
            app.populate_demo(&admin, &options, PASSPHRASE, &mut |_, _| {})
                .await
                .expect("the demo");
            let people = app
                .list_people(&admin, &refuge_app::PeopleQuery::default())
                .await
                .expect("people");
            let person = people.first().expect("a person").person.code.clone();
            let coordinator = app.login("coordinator", PASSPHRASE).await.expect("login");
            let (_, token) = app
                .create_token(&coordinator, "fuzz")
                .await
                .expect("a token");
            let state = Arc::new(ServerState {
                app,
                sessions: Sessions::new(SessionPolicy::default()),
                transport: Transport::Loopback,
                replies: Default::default(),
            });
            (state, admin, person, format!("Bearer {token}"))
        });
        Org {
            runtime,
            state,
            admin,
            person,
            bearer,
        }
    })
}
