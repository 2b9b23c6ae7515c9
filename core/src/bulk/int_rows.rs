//! Many rows of integers as one statement parameter per column, read back as rows:
//! set-based writes whose text and parameter count stay the same however many rows they
//! write, so the prepared statement is reused. A multi-row `VALUES` list binds every
//! value of every row, and on SQLite each new row count is a new statement to prepare.

use std::fmt::Write as _;

use sea_orm::{ConnectionTrait, Value};

use crate::db::is_postgres;

/// Column names of [`IntRows::source`], in order.
const COLUMNS: [&str; 4] = ["a", "b", "c", "d"];

/// Rows of `N` integers bound as one parameter on SQLite (a JSON array of rows) or `N`
/// on Postgres (`int8[]` arrays read side by side), and read by a statement as the rows
/// of [`IntRows::source`], columns `r.a`, `r.b`, … in the rows' order.
pub(crate) struct IntRows<const N: usize> {
    postgres: bool,
    values: Vec<Value>,
}

impl<const N: usize> IntRows<N> {
    pub(crate) fn new(conn: &impl ConnectionTrait, rows: &[[i64; N]]) -> Self {
        const { assert!(N >= 1 && N <= COLUMNS.len()) };
        let postgres = is_postgres(conn);
        let values = if postgres {
            (0..N)
                .map(|column| {
                    let values: Vec<i64> = rows.iter().map(|row| row[column]).collect();
                    values.into()
                })
                .collect()
        } else {
            let mut json = String::with_capacity(2 + rows.len() * 8 * N);
            json.push('[');
            for (index, row) in rows.iter().enumerate() {
                if index > 0 {
                    json.push(',');
                }
                json.push('[');
                for (column, value) in row.iter().enumerate() {
                    if column > 0 {
                        json.push(',');
                    }
                    // Writing to a String cannot fail.
                    let _ = write!(json, "{value}");
                }
                json.push(']');
            }
            json.push(']');
            vec![json.into()]
        };
        Self { postgres, values }
    }

    /// The FROM item that yields the rows as `r(a, b, …)`.
    pub(crate) fn source(&self) -> String {
        let columns = &COLUMNS[..N];
        if self.postgres {
            let arrays: Vec<String> = (1..=N).map(|n| format!("${n}::int8[]")).collect();
            format!("unnest({}) AS r({})", arrays.join(", "), columns.join(", "))
        } else {
            let read: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(index, name)| format!("json_extract(value, '$[{index}]') AS {name}"))
                .collect();
            format!("(SELECT {} FROM json_each(?1)) AS r", read.join(", "))
        }
    }

    /// The placeholder of the statement's `n`th parameter after the rows (from 1).
    pub(crate) fn param(&self, n: usize) -> String {
        if self.postgres {
            format!("${}", n + N)
        } else {
            format!("?{}", n + 1)
        }
    }

    /// The statement's parameters: the rows, then `rest` in [`IntRows::param`]'s
    /// numbering.
    pub(crate) fn values(self, rest: impl IntoIterator<Item = Value>) -> Vec<Value> {
        let mut values = self.values;
        values.extend(rest);
        values
    }
}
