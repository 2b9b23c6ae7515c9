//! Stand-ins for the push providers, each checking what the real one checks (signed
//! tokens, credentials, the request format), recording what it was sent and answering
//! the provider's own errors for a few special device tokens. Used by the plugins'
//! tests and by the worker-path tests of the API crate (included there by path).

pub mod apns;
pub mod fcm;
pub mod jpush;
