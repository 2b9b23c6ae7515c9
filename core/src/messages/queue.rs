//! The queue in front of [`send_many`]: API requests wait here while the batch before
//! them is written, and go together into the next one. At low load a batch holds one
//! request and nothing waits; under load batches grow to what arrived meanwhile.
//! Inbox items a batch stores are announced on the bus; deliveries it leaves for the
//! workers ring their doorbell.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::Accepted;
use super::batch::{SendRequest, send_many};
use crate::db::is_postgres;
use crate::deliveries::Doorbell;
use crate::error::{Error, Result};
use crate::inbox::Bus;
use crate::rules::revision::RulesCache;

/// Requests in one batch: bounds a batch's statement sizes and its transaction.
const MAX_BATCH: usize = 128;
/// Recipients in one batch, past its first request: large sends go in batches of
/// their own, so the worker starts on one while the next is planned.
const MAX_BATCH_RECIPIENTS: usize = 1_000;
/// The same for a batch of inbox-only sends, whose items the batch stores itself
/// (none waits for a worker): a broadcast sent as many requests at once is stored in
/// a few transactions rather than one per request.
const MAX_INBOX_BATCH_RECIPIENTS: usize = 10_000;
/// Requests that may wait; callers beyond that wait to enqueue.
const MAX_WAITING: usize = 4 * MAX_BATCH;
/// Batches written at once on Postgres, which writes in parallel; SQLite has one
/// writer, so a second batch would only wait for its lock.
const POSTGRES_BATCHES_AT_ONCE: usize = 4;

struct Job {
    request: SendRequest,
    answer: oneshot::Sender<Result<Accepted>>,
}

#[derive(Clone)]
pub struct SendQueue {
    jobs: mpsc::Sender<Job>,
}

impl SendQueue {
    /// Starts the task that accepts queued sends (on the current Tokio runtime). It
    /// ends when every handle to the queue is dropped.
    pub fn start(db: DatabaseConnection, bus: Bus, doorbell: Doorbell) -> Self {
        let (jobs, queued) = mpsc::channel(MAX_WAITING);
        let at_once = if is_postgres(&db) {
            POSTGRES_BATCHES_AT_ONCE
        } else {
            1
        };
        let sinks = Sinks { bus, doorbell };
        tokio::spawn(accept_batches(db, sinks, queued, at_once));
        Self { jobs }
    }

    /// Accepts a send with those that arrive alongside it.
    pub async fn send(&self, request: SendRequest) -> Result<Accepted> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send(Job { request, answer })
            .await
            .map_err(|_| Error::Internal("the send queue has stopped"))?;
        answered
            .await
            .map_err(|_| Error::Internal("accepting the send was interrupted"))?
    }
}

/// Where a batch's news goes.
#[derive(Clone)]
struct Sinks {
    bus: Bus,
    doorbell: Doorbell,
}

/// `first` and the requests waiting behind it, as many as one batch takes; the first
/// one that does not fit is handed back to start the next batch.
fn gather(first: Job, queued: &mut mpsc::Receiver<Job>) -> (Vec<Job>, Option<Job>) {
    let mut recipients = first.request.input.recipients.len();
    let mut inbox_only = first.request.input.is_inbox_only();
    let mut jobs = vec![first];
    while jobs.len() < MAX_BATCH {
        let Ok(job) = queued.try_recv() else {
            break;
        };
        recipients += job.request.input.recipients.len();
        inbox_only &= job.request.input.is_inbox_only();
        let most = if inbox_only {
            MAX_INBOX_BATCH_RECIPIENTS
        } else {
            MAX_BATCH_RECIPIENTS
        };
        if recipients > most {
            return (jobs, Some(job));
        }
        jobs.push(job);
    }
    (jobs, None)
}

async fn accept_batches(
    db: DatabaseConnection,
    sinks: Sinks,
    mut queued: mpsc::Receiver<Job>,
    at_once: usize,
) {
    let db = match crate::db::own_writer(&db).await {
        Ok(own) => own,
        Err(error) => {
            tracing::warn!(%error, "the send queue shares the pool: no connection of its own");
            db
        }
    };
    let writers = Arc::new(Semaphore::new(at_once));
    // Each batch reads one revision number instead of the rules, the keyword rules and
    // the lists again.
    let rules = Arc::new(RulesCache::default());
    let mut next: Option<Job> = None;
    loop {
        // Wait for a writer first, so requests keep gathering while every one is busy.
        let Ok(writer) = writers.clone().acquire_owned().await else {
            return;
        };
        let first = match next.take() {
            Some(job) => job,
            None => match queued.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let (jobs, left) = gather(first, &mut queued);
        next = left;
        let (requests, answers): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .map(|job| (job.request, job.answer))
            .unzip();
        let (db, sinks, rules) = (db.clone(), sinks.clone(), Arc::clone(&rules));
        // Its own task: a panic while writing one batch drops that batch's answers
        // (its callers get an error) and leaves the queue running.
        tokio::spawn(async move {
            let sent = send_many(&db, &sinks.bus, &rules, requests).await;
            drop(writer);
            if sent.queued {
                sinks.doorbell.ring();
            }
            for (answer, result) in answers.into_iter().zip(sent.answers) {
                // The caller may have gone away; the message stays accepted.
                let _ = answer.send(result);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request to `recipients` subscribers over `channels`, queued.
    fn queue(jobs: &mpsc::Sender<Job>, recipients: usize, channels: &[&str]) {
        let names: Vec<String> = (0..recipients).map(|n| format!("user-{n}")).collect();
        let input = serde_json::from_value(serde_json::json!({
            "recipients": names, "channels": channels, "category": "news",
            "content": { "inbox": { "title": "Hi", "body": "News" } } }))
        .unwrap();
        let request = SendRequest {
            sender: "api_key:1".to_owned(),
            idempotency_key: None,
            input,
        };
        jobs.try_send(Job {
            request,
            answer: oneshot::channel().0,
        })
        .unwrap();
    }

    /// The number of requests in each batch the queued ones are gathered into.
    fn batches(queued: &mut mpsc::Receiver<Job>) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut next = None;
        while let Some(first) = next.take().or_else(|| queued.try_recv().ok()) {
            let (jobs, left) = gather(first, queued);
            sizes.push(jobs.len());
            next = left;
        }
        sizes
    }

    #[test]
    fn inbox_only_sends_gather_into_larger_batches_than_sends_a_worker_makes() {
        let (jobs, mut queued) = mpsc::channel(MAX_WAITING);
        for _ in 0..12 {
            queue(&jobs, 1_000, &["inbox"]);
        }
        assert_eq!(
            batches(&mut queued),
            [10, 2],
            "10,000 inbox recipients a batch"
        );

        for _ in 0..3 {
            queue(&jobs, 1_000, &["inbox", "webhook"]);
        }
        assert_eq!(batches(&mut queued), [1, 1, 1], "1,000 when a worker sends");

        queue(&jobs, 600, &["inbox"]);
        queue(&jobs, 600, &["inbox"]);
        queue(&jobs, 300, &["email"]);
        queue(&jobs, 100, &["inbox"]);
        assert_eq!(
            batches(&mut queued),
            [2, 2],
            "the smaller limit once one needs a worker"
        );
    }
}
