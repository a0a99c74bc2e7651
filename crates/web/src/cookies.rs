//! The cookies refuge sets: the session, and two preferences (language, time zone). Read
//! with axum-extra's `CookieJar`; built with its `Cookie` and set with [`SetCookies`].

use crate::Transport;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponseParts, ResponseParts};
use axum_extra::extract::cookie::{Cookie, SameSite};
use std::convert::Infallible;
use time::Duration;

/// Cookies to set on a response. `CookieJar` would percent-encode every value; ours (hex
/// session ids, language tags, zone names such as `Asia/Seoul`) are plain RFC 6265
/// cookie-octets already, so they go out as they are and read back unchanged.
pub struct SetCookies(pub Vec<Cookie<'static>>);

impl IntoResponseParts for SetCookies {
    type Error = Infallible;

    fn into_response_parts(self, mut parts: ResponseParts) -> Result<ResponseParts, Infallible> {
        for cookie in self.0 {
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                parts.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        Ok(parts)
    }
}

pub const LANGUAGE: &str = "refuge_lang";
pub const ZONE: &str = "refuge_zone";
pub const KNOWN_BROWSER: &str = "refuge_browser";

/// The session cookie's name: `__Host-` when served securely (no subdomain, no plain HTTP
/// can set or read it).
pub fn session_name(transport: Transport) -> &'static str {
    match transport {
        Transport::Secure => "__Host-refuge",
        Transport::Loopback => "refuge",
    }
}

/// The session cookie: never readable by scripts, never sent from another site.
pub fn session(transport: Transport, id: String) -> Cookie<'static> {
    Cookie::build((session_name(transport), id))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(transport == Transport::Secure)
        .build()
}

/// What removes the session cookie from the browser.
pub fn session_removal(transport: Transport) -> Cookie<'static> {
    let mut cookie = session(transport, String::new());
    cookie.make_removal();
    cookie
}

/// Marks a browser that logged in as known-good (exempt from the login budgets).
pub fn known_browser(
    transport: Transport,
    token: String,
    lifetime: std::time::Duration,
) -> Cookie<'static> {
    Cookie::build((KNOWN_BROWSER, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(transport == Transport::Secure)
        .max_age(Duration::try_from(lifetime).unwrap_or(Duration::days(90)))
        .build()
}

/// A preference kept for a year.
pub fn preference(name: &'static str, value: &'static str) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .same_site(SameSite::Strict)
        .max_age(Duration::days(365))
        .build()
}
