//! The in-app inbox: items stored per subscriber with ids that only grow, an unread
//! count versioned with every change, and what clients acknowledge (received,
//! displayed, read, archived) written to the delivery log.

pub mod actions;
pub mod announced;
pub mod bus;
pub mod deliver;
mod logged;
pub mod pairs;
pub mod relay;
pub mod shared;
pub mod store;
pub mod tokens;

pub use actions::{Action, act_now};
pub use announced::Announced;
pub use bus::{Bus, Signal};
pub use store::{Ack, InboxItem, NewItem, Page, Stored, Unread};
