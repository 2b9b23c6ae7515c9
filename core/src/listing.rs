//! Lists the console shows a page at a time: a search on the name, a sort and an offset
//! page. For tables of tens to thousands of rows (campaigns, templates, audiences,
//! rules, operators, API keys, channel instances, event endpoints); the delivery log
//! and subscribers page by cursor instead.

use sea_orm::sea_query::{Expr, ExprTrait, Func, IntoColumnRef, LikeExpr, SimpleExpr};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::Result;

/// How a list that has no order of its own is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NameSort {
    /// By name, A to Z.
    Name,
    /// Latest created first.
    Newest,
    /// First created first.
    Oldest,
}

/// A page of `query`'s rows whose `name` contains the window's search, in `sort` order
/// (ties by `id`).
pub async fn name_page<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    query: Select<E>,
    (name, id): (E::Column, E::Column),
    sort: NameSort,
    window: &Window,
) -> Result<Vec<E::Model>> {
    let mut query = query;
    if let Some(search) = &window.search {
        query = query.filter(name_contains(name, search));
    }
    query = match sort {
        NameSort::Name => query.order_by_asc(name).order_by_asc(id),
        NameSort::Newest => query.order_by_desc(id),
        NameSort::Oldest => query.order_by_asc(id),
    };
    Ok(paged(query, window).all(conn).await?)
}

/// Which page of a listing, and what it must match.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Part of the name, any case.
    pub search: Option<String>,
    pub offset: u64,
    /// `None`: the whole list (internal callers).
    pub limit: Option<u64>,
}

/// `text` with the LIKE pattern characters (`%`, `_`, `\`) escaped by `\`.
pub fn like_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `lower(column) LIKE '%text%'`, with the pattern characters of `text` taken literally.
pub fn name_contains(column: impl IntoColumnRef, text: &str) -> SimpleExpr {
    let pattern = format!("%{}%", like_literal(&text.to_lowercase()));
    Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern).escape('\\'))
}

/// `query` limited to the window's page. SQLite takes an offset only after a limit.
pub fn paged<Q: QuerySelect>(query: Q, window: &Window) -> Q {
    match (window.offset, window.limit) {
        (0, limit) => query.limit(limit),
        (offset, limit) => query
            .offset(offset)
            .limit(limit.unwrap_or(i64::MAX.unsigned_abs())),
    }
}
