//! The session cookie (HttpOnly) and the CSRF cookie (readable by the admin UI, which
//! echoes it in the `X-CSRF-Token` header of state-changing requests).
//!
//! Served over HTTPS (`public_url` https, or `auth.secure_cookies`) both are `Secure`
//! and named with the `__Host-` prefix, which browsers accept only from this host,
//! over HTTPS, for path `/` and without a domain: a sibling subdomain cannot plant one.

use axum_extra::extract::cookie::{Cookie, SameSite};

pub const SESSION_COOKIE: &str = "herald_session";
pub const CSRF_COOKIE: &str = "herald_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The cookie names and flags for how Herald is served.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    pub fn session_name(self) -> &'static str {
        if self.secure {
            "__Host-herald_session"
        } else {
            SESSION_COOKIE
        }
    }

    pub fn csrf_name(self) -> &'static str {
        if self.secure {
            "__Host-herald_csrf"
        } else {
            CSRF_COOKIE
        }
    }

    pub fn session(self, token: String, max_age_secs: i64) -> Cookie<'static> {
        self.build(self.session_name(), token, max_age_secs, true)
    }

    pub fn csrf(self, token: String, max_age_secs: i64) -> Cookie<'static> {
        self.build(self.csrf_name(), token, max_age_secs, false)
    }

    fn build(
        self,
        name: &'static str,
        value: String,
        max_age_secs: i64,
        http_only: bool,
    ) -> Cookie<'static> {
        Cookie::build((name, value))
            .http_only(http_only)
            .same_site(SameSite::Strict)
            .secure(self.secure)
            .path("/")
            .max_age(time::Duration::seconds(max_age_secs))
            .build()
    }

    /// Cookies that tell the browser to forget both.
    pub fn cleared(self) -> [Cookie<'static>; 2] {
        [self.session_name(), self.csrf_name()].map(|name| {
            Cookie::build((name, ""))
                .path("/")
                .secure(self.secure)
                .max_age(time::Duration::ZERO)
                .build()
        })
    }
}
