//! The session cookie (HttpOnly) and the CSRF cookie (readable by the admin UI, which
//! echoes it in the `X-CSRF-Token` header of state-changing requests).

use axum_extra::extract::cookie::{Cookie, SameSite};

pub const SESSION_COOKIE: &str = "herald_session";
pub const CSRF_COOKIE: &str = "herald_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn session(token: String, max_age_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(time::Duration::seconds(max_age_secs))
        .build()
}

pub fn csrf(token: String, max_age_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((CSRF_COOKIE, token))
        .http_only(false)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(time::Duration::seconds(max_age_secs))
        .build()
}

/// Cookies that tell the browser to forget both.
pub fn cleared() -> [Cookie<'static>; 2] {
    [SESSION_COOKIE, CSRF_COOKIE].map(|name| {
        Cookie::build((name, ""))
            .path("/")
            .max_age(time::Duration::ZERO)
            .build()
    })
}
