//! The front door, the stylesheet, the language and time-zone switches, and unknown paths.

use crate::cookies::{self, SetCookies};
use crate::errors::Failure;
use crate::extract::Visitor;
use crate::i18n::Lang;
use crate::layout::safe_back;
use crate::zones::Zone;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

pub async fn root(visitor: Visitor) -> Redirect {
    Redirect::to(if visitor.session.is_some() {
        "/dashboard"
    } else {
        "/login"
    })
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../static/style.css"),
    )
        .into_response()
}

pub async fn not_found() -> Failure {
    Failure::no_such_page()
}

/// The page the switch was on: the `back` path the page's link carries (browsers send no
/// Referer under our no-referrer policy), else the Referer when one is sent, on this site only.
fn back_path(back: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(back) = back.and_then(safe_back) {
        return back.to_string();
    }
    headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| referer.parse::<Uri>().ok())
        .and_then(|uri| uri.path_and_query().map(|path| path.as_str().to_string()))
        // Back to a path on this site only: browsers read "//host" (and a backslash for a
        // slash) as another site.
        .filter(|path| path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'))
        .unwrap_or_else(|| "/".to_string())
}

#[derive(Deserialize)]
pub struct BackQuery {
    back: Option<String>,
}

pub async fn set_language(
    Path(tag): Path<String>,
    Query(query): Query<BackQuery>,
    headers: HeaderMap,
) -> (SetCookies, Redirect) {
    let lang = Lang::from_tag(&tag).unwrap_or(Lang::English);
    (
        SetCookies(vec![cookies::preference(cookies::LANGUAGE, lang.tag())]),
        Redirect::to(&back_path(query.back.as_deref(), &headers)),
    )
}

#[derive(Deserialize)]
pub struct ZoneQuery {
    #[serde(default)]
    zone: String,
    back: Option<String>,
}

/// Chooses the time zone times are shown in (an unknown name is ignored).
pub async fn set_zone(Query(query): Query<ZoneQuery>, headers: HeaderMap) -> Response {
    let back = Redirect::to(&back_path(query.back.as_deref(), &headers));
    match Zone::from_name(&query.zone) {
        Some(zone) => (
            SetCookies(vec![cookies::preference(cookies::ZONE, zone.name())]),
            back,
        )
            .into_response(),
        None => back.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn back(referer: &str) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(header::REFERER, referer.parse().unwrap());
        back_path(None, &headers)
    }

    #[test]
    fn back_goes_to_a_path_on_this_site_only() {
        assert_eq!(back("http://127.0.0.1:8080/audit?x=1"), "/audit?x=1");
        assert_eq!(back("http://127.0.0.1:8080"), "/");
        assert_eq!(back("http://127.0.0.1:8080//evil.example/"), "/");
        assert_eq!(back("http://127.0.0.1:8080/\\evil.example/"), "/");
        assert_eq!(back("not a url"), "/");
        let none = HeaderMap::new();
        assert_eq!(back_path(Some("/people/P-4KX9"), &none), "/people/P-4KX9");
        for foreign in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/a?b",
        ] {
            assert_eq!(back_path(Some(foreign), &none), "/", "{foreign}");
        }
    }
}
