//! Who is calling and what they may do.
//!
//! Every route declares its security in its OpenAPI annotation: the schemes it accepts
//! (`session` for operators, `api_key` for product services) and the scope it needs.
//! [`access::AccessTable`] is built from the generated document, and [`authorize`]
//! enforces it for the matched route: the spec is the single source of truth, and a
//! route without a declaration is refused.

pub mod access;
mod authorize;
mod caller;
pub mod cookies;
mod key_cache;
pub mod throttle;

pub use access::AccessTable;
pub use authorize::authorize;
pub use caller::{Caller, Principal, SubscriberCaller};
pub use key_cache::{KEY_CACHE_TTL, KeyCache};
