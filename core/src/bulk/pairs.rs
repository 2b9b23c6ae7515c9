//! Many pairs of ids as one statement parameter, read back as rows: set-based writes
//! whose text and parameter count stay the same however many rows they write, so the
//! prepared statement is reused. A multi-row `VALUES` list binds every value of every
//! row, and on SQLite each new row count is a new statement to prepare.

use std::fmt::Write as _;

use sea_orm::{ConnectionTrait, Value};

use crate::db::is_postgres;

/// Pairs `(a, b)` bound as one parameter on SQLite (a JSON array of pairs) or two on
/// Postgres (two `int8[]` read side by side), and read by a statement as the rows of
/// [`PairRows::source`], columns `r.a` and `r.b`, in the pairs' order.
pub(crate) struct PairRows {
    postgres: bool,
    values: Vec<Value>,
}

impl PairRows {
    pub(crate) fn new(conn: &impl ConnectionTrait, pairs: &[(i64, i64)]) -> Self {
        let postgres = is_postgres(conn);
        let values = if postgres {
            let (a, b): (Vec<i64>, Vec<i64>) = pairs.iter().copied().unzip();
            vec![a.into(), b.into()]
        } else {
            let mut json = String::with_capacity(2 + pairs.len() * 16);
            json.push('[');
            for (index, (a, b)) in pairs.iter().enumerate() {
                if index > 0 {
                    json.push(',');
                }
                // Writing to a String cannot fail.
                let _ = write!(json, "[{a},{b}]");
            }
            json.push(']');
            vec![json.into()]
        };
        Self { postgres, values }
    }

    /// The FROM item that yields the pairs as rows `r(a, b)`.
    pub(crate) fn source(&self) -> &'static str {
        if self.postgres {
            "unnest($1::int8[], $2::int8[]) AS r(a, b)"
        } else {
            "(SELECT json_extract(value, '$[0]') AS a, json_extract(value, '$[1]') AS b \
             FROM json_each(?1)) AS r"
        }
    }

    /// The placeholder of the statement's `n`th parameter after the pairs (from 1).
    pub(crate) fn param(&self, n: usize) -> String {
        if self.postgres {
            format!("${}", n + 2)
        } else {
            format!("?{}", n + 1)
        }
    }

    /// The statement's parameters: the pairs, then `rest` in [`PairRows::param`]'s
    /// numbering.
    pub(crate) fn values(self, rest: impl IntoIterator<Item = Value>) -> Vec<Value> {
        let mut values = self.values;
        values.extend(rest);
        values
    }
}
