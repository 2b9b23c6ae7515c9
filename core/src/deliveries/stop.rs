//! What stops a delivery before it is sent: shared by the senders of every channel,
//! the inbox's included.

use herald_channels::DeliveryOutcome;

use crate::rules::KeywordHit;

/// Why a delivery goes no further than its preparation.
#[derive(Debug, Clone)]
pub enum Stop {
    /// It cannot be sent (no address, no content, …): its attempt's outcome.
    Failed(DeliveryOutcome),
    /// A keyword rule holds it back once rendered: it is filtered, not attempted.
    Held(KeywordHit),
}

impl From<DeliveryOutcome> for Stop {
    fn from(outcome: DeliveryOutcome) -> Self {
        Self::Failed(outcome)
    }
}
