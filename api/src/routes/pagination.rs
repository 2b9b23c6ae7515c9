//! Cursor pagination shared by list endpoints. Cursors are opaque to clients.

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u64 = 50;

pub fn parse_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    cursor
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::validation("cursor", "is not a cursor this API gave out"))
        })
        .transpose()
}

/// The cursor for the page after `items`, or none when this page was the last.
pub fn next_cursor<T>(items: &[T], limit: u64, id: impl Fn(&T) -> i64) -> Option<String> {
    (items.len() as u64 == limit)
        .then(|| items.last().map(|last| id(last).to_string()))
        .flatten()
}
