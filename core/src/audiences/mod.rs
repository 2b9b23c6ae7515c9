//! Audiences: everyone, an explicit list or uploaded file of external ids, or a segment
//! evaluated in SQL, never by loading subscribers into memory.

pub mod members;
pub mod segment;
pub mod sql;
pub mod store;

pub use segment::Segment;
pub use store::{AudienceIn, AudienceKind};
