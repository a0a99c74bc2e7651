//! The JSON API's writes: any body to any write route, as a coordinator's token, through the
//! whole router; nothing but a 5xx may come back as a failure of ours (a 500 is a finding).
#![no_main]

#[path = "common/org.rs"]
mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

fuzz_target!(|data: &[u8]| {
    let org = common::org();
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    let paths = refuge_web::API_WRITE_PATHS;
    let path = paths[usize::from(choice) % paths.len()].replace("{code}", &org.person);
    let request = Request::post(format!("/api/v1{path}"))
        .header("Authorization", &org.bearer)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a request");
    let status = org.runtime.block_on(async {
        refuge_web::router(org.state.clone())
            .oneshot(request)
            .await
            .expect("an answer")
            .status()
    });
    assert!(
        status != StatusCode::INTERNAL_SERVER_ERROR,
        "{path}: {status}"
    );
});
