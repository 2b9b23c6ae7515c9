//! The rules a worker decides with, and the API's send batches, kept in memory between
//! pages and batches while nothing changed.
//!
//! Triggers move `rule_revision.revision` with every change to the rules or the block
//! and allow lists (migration `m20261205_000015`), so a page or a batch costs one
//! one-row read instead of reading every rule and every list entry again.

use std::sync::{Arc, Mutex, PoisonError};

use sea_orm::{ConnectionTrait, Statement};

use super::KeywordRules;
use super::engine::RuleSet;
use crate::error::Result;

/// What deciding and checking content needs, as of one revision.
#[derive(Clone)]
pub struct LoadedRules {
    pub rules: Arc<RuleSet>,
    pub keywords: Arc<KeywordRules>,
}

/// The rules as last loaded, with the revision they were loaded at.
#[derive(Default)]
pub struct RulesCache {
    loaded: Mutex<Option<(i64, LoadedRules)>>,
}

impl RulesCache {
    /// The rules as they are now: those held when the revision has not moved since they
    /// were loaded, else freshly loaded.
    pub async fn current(&self, conn: &impl ConnectionTrait) -> Result<LoadedRules> {
        // Read before loading: a change committed in between is newer than the number,
        // so the next call loads again rather than keeping what this one missed.
        let revision = revision(conn).await?;
        if let Some((held, rules)) = self
            .loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && *held == revision
        {
            return Ok(rules.clone());
        }
        let rules = LoadedRules {
            rules: Arc::new(RuleSet::load(conn).await?),
            keywords: Arc::new(KeywordRules::load(conn).await?),
        };
        *self.loaded.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((revision, rules.clone()));
        Ok(rules)
    }
}

/// The current revision of the rules and lists.
async fn revision(conn: &impl ConnectionTrait) -> Result<i64> {
    let statement = Statement::from_string(
        conn.get_database_backend(),
        "SELECT revision FROM rule_revision WHERE id = 1",
    );
    let row = conn.query_one_raw(statement).await?;
    Ok(match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    })
}
