//! Paging shared by list endpoints: cursors (opaque to clients) for logs, and a
//! searched, sorted offset page for the short lists the console manages.

use herald_core::listing::{NameSort, Window};
use serde::Deserialize;
use utoipa::IntoParams;
use validator::Validate;

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

/// A page of a short list: a search on the name, a sort and an offset page.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Part of the name, any case.
    #[validate(length(min = 1, max = 200))]
    search: Option<String>,
    /// `name`, `newest` or `oldest`; without it, the order the operation names.
    #[param(inline)]
    sort: Option<NameSort>,
    /// Rows to skip (paging).
    #[validate(range(max = 1000000))]
    offset: Option<u64>,
    /// 1 to 500; without it, every row.
    #[validate(range(min = 1, max = 500))]
    limit: Option<u64>,
}

impl ListQuery {
    /// The sort asked for, else `default`, and the page.
    pub fn split(self, default: NameSort) -> (NameSort, Window) {
        let window = Window {
            search: self.search,
            offset: self.offset.unwrap_or(0),
            limit: self.limit,
        };
        (self.sort.unwrap_or(default), window)
    }
}
