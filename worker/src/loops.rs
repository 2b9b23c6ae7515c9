//! The worker's loops: one keeps campaigns moving (starts them, cuts them into pages,
//! hands the pages to the job queue, completes them), the job queue's worker sends the
//! pages, and senders send the deliveries that waited (retries, deferrals, transactional
//! messages). Each uses the [`Deliverer`] built for the channel instances as they are
//! now.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use herald_core::channel_instances::{Fingerprint, fingerprint};
use herald_core::config::Config;
use herald_core::deliveries::backlog::backlog;
use herald_core::deliveries::{Doorbell, Recorded};
use herald_core::halts::HaltWatch;
use herald_core::inbox::Bus;
use herald_core::pacing::publish;
use sea_orm::DatabaseConnection;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::deliver::{Deliverer, claim_batch};
use crate::events::{EventRound, EventSender};
use crate::pacing::Pacer;
use crate::pages::PageQueue;
use crate::{WorkerError, WorkerMetrics};

/// The deliverer for the channel instances as they are now: checked before every
/// batch (one small query), rebuilt when an instance changed.
pub struct Current {
    db: DatabaseConnection,
    config: Config,
    bus: Bus,
    /// How long an idle loop waits before it looks for work again.
    poll: Duration,
    /// This worker's pacing, kept when the deliverer is rebuilt.
    pacer: Arc<Pacer>,
    metrics: WorkerMetrics,
    /// The kill switch's stops, kept current by the bus and a timer.
    halts: HaltWatch,
    built: Mutex<Option<(Fingerprint, Arc<Deliverer>)>>,
}

impl Current {
    async fn is_built(&self) -> bool {
        self.built.lock().await.is_some()
    }

    /// The deliverer for the channel instances as they are now; `None` until they could
    /// be loaded once.
    pub async fn get(&self) -> Option<Arc<Deliverer>> {
        let mut built = self.built.lock().await;
        let now_is = match fingerprint(&self.db).await {
            Ok(now_is) => now_is,
            Err(error) => {
                tracing::warn!(%error, "reading channel instances failed");
                return built.as_ref().map(|(_, deliverer)| Arc::clone(deliverer));
            }
        };
        if built.as_ref().is_none_or(|(from, _)| *from != now_is) {
            match Deliverer::new(self.db.clone(), &self.config).await {
                Ok(deliverer) => {
                    let deliverer = deliverer
                        .with_bus(self.bus.clone())
                        .with_pacer(Arc::clone(&self.pacer))
                        .with_metrics(self.metrics.clone())
                        .with_halts(self.halts.clone());
                    *built = Some((now_is, Arc::new(deliverer)));
                }
                Err(error) => tracing::warn!(%error, "loading channel instances failed"),
            }
        }
        built.as_ref().map(|(_, deliverer)| Arc::clone(deliverer))
    }
}

/// Sends until `shutdown` completes. One task keeps campaigns moving, the job queue's
/// worker sends their pages (`batches_in_flight` at once), and `batches_in_flight`
/// senders claim, send and record due deliveries. Senders wake at once when `doorbell`
/// rings (work queued by this process) and otherwise poll. A failing round is logged
/// and tried again after a pause; it never stops the worker. On shutdown, pages and
/// batches being sent finish and are recorded first.
pub async fn run_loop(
    db: DatabaseConnection,
    config: Config,
    bus: Bus,
    doorbell: Doorbell,
    metrics: WorkerMetrics,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let pages = PageQueue::new(&db, &config.delivery)?;
    let stop = CancellationToken::new();
    let halts = HaltWatch::default();
    if let Err(error) = halts.reload(&db).await {
        tracing::warn!(%error, "reading the kill switch failed; reading it again shortly");
    }
    // A released stop lets work go at once: every sender looks for it.
    let released = doorbell.clone();
    let senders_count = config.delivery.batches_in_flight;
    halts.follow(db.clone(), stop.clone(), move || {
        for _ in 0..senders_count {
            released.pass_on();
        }
    });
    let current = Arc::new(Current {
        halts,
        db,
        pacer: Arc::new(Pacer::new(config.delivery.pacing.clone())),
        metrics,
        built: Mutex::new(None),
        poll: Duration::from_millis(config.delivery.poll_interval_ms),
        config: config.clone(),
        bus,
    });
    // Each sender is a task of its own, so batches in flight spread over the runtime's
    // threads instead of sharing the one that polls this function.
    let mut senders = Vec::new();
    for _ in 0..config.delivery.batches_in_flight {
        senders.push(tokio::spawn(send_loop(
            Arc::clone(&current),
            doorbell.clone(),
            stop.clone(),
        )));
    }
    let page_worker = {
        let run = pages.clone().run(
            Arc::clone(&current),
            config.delivery.batches_in_flight,
            current.poll,
            stop.clone().cancelled_owned(),
        );
        async move {
            let ran = run.await;
            tracing::info!("page tasks stopped");
            ran
        }
    };
    let senders = async move {
        for stopped in futures::future::join_all(senders).await {
            if let Err(error) = stopped {
                tracing::error!(%error, "a sender ended abnormally");
            }
        }
        tracing::info!("senders stopped");
    };
    let publishing = {
        let stop = stop.clone();
        let every = Duration::from_secs(config.delivery.heartbeat_secs);
        let publish_loop = publish_loop(Arc::clone(&current), every);
        async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = publish_loop => {}
            }
        }
    };
    let events = {
        let sender = EventSender::new(current.db.clone(), &config)
            .map_err(|error| WorkerError::Run(format!("the event sender: {error}")))?;
        event_loop(sender, current.poll, stop.clone())
    };
    // Cutting and handing over may stop at any await: both are idempotent.
    let campaigns = {
        let stop = stop.clone();
        let campaign_loop = campaign_loop(current, pages, doorbell);
        async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = campaign_loop => {}
            }
        }
    };
    let campaigns = async move {
        futures::future::join3(campaigns, publishing, events).await;
    };
    let work = futures::future::join3(campaigns, senders, page_worker);
    tokio::pin!(work);
    let ((), (), pages) = tokio::select! {
        () = shutdown => {
            tracing::info!("finishing the pages and batches in hand");
            stop.cancel();
            work.await
        }
        done = &mut work => done,
    };
    pages
}

/// Every `every`: reads the backlog and the page tasks into the metrics, shows the
/// kill switch's stops, and shows this worker's paced lanes in the metrics and
/// publishes them for the API and the console. A failure is logged; the next round
/// tries again.
async fn publish_loop(current: Arc<Current>, every: Duration) {
    let worker = crate::pages::process_name();
    let mut published_any = false;
    loop {
        match backlog(&current.db, Utc::now()).await {
            Ok(backlog) => current.metrics.backlog(&backlog),
            Err(error) => tracing::warn!(%error, "reading the backlog failed"),
        }
        match herald_core::events::batches::backlog(&current.db).await {
            Ok((waiting, dead)) => current.metrics.event_batches(waiting, dead),
            Err(error) => tracing::warn!(%error, "counting event batches failed"),
        }
        match crate::pages::task_counts(&current.db).await {
            Ok(counts) => current.metrics.page_tasks(&counts),
            Err(error) => tracing::warn!(%error, "counting page tasks failed"),
        }
        tokio::time::sleep(every).await;
        current.metrics.stops(&current.halts.current().counts());
        let lanes = current.pacer.rates();
        current.metrics.pacing(&lanes);
        // Nothing paced, and nothing published before to replace: no write at all.
        if lanes.is_empty() && !published_any {
            continue;
        }
        published_any = !lanes.is_empty();
        if let Err(error) = publish(&current.db, &worker, lanes, Utc::now()).await {
            tracing::warn!(%error, "publishing the pacing of lanes failed");
        }
    }
}

/// Sends delivery events to products, round after round; rests for `poll` when a
/// round found nothing to do. A batch being sent when `stop` comes is finished and
/// recorded.
async fn event_loop(sender: EventSender, poll: Duration, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let busy = match sender.run_once(Utc::now()).await {
            Ok(round) => round != EventRound::default(),
            Err(error) => {
                tracing::warn!(%error, "sending delivery events failed");
                false
            }
        };
        if !busy {
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
    tracing::info!("event sender stopped");
}

/// Upkeep and campaign steps, round after round, waking the senders when something
/// became due.
async fn campaign_loop(current: Arc<Current>, mut pages: PageQueue, due: Doorbell) {
    loop {
        if let Some(deliverer) = current.get().await {
            let now = Utc::now();
            match deliverer.upkeep(now).await {
                Ok(upkeep) if upkeep.reconsidered > 0 => due.ring(),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "delivery upkeep failed"),
            }
            if let Err(error) = deliverer.advance_campaigns(now).await {
                tracing::warn!(%error, "campaign round failed");
            }
            match pages.hand_over(&current.db).await {
                Ok(0) => {}
                Ok(count) => tracing::debug!(count, "pages handed to the job queue"),
                Err(error) => tracing::warn!(%error, "handing pages over failed"),
            }
            if let Err(error) = deliverer.complete_campaigns().await {
                tracing::warn!(%error, "completing campaigns failed");
            }
        }
        tokio::time::sleep(current.poll).await;
    }
}

/// Claims, sends and records batches while there are any; otherwise waits for the
/// poll interval or until something was queued.
async fn send_loop(current: Arc<Current>, doorbell: Doorbell, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let rung = doorbell.rung();
        tokio::pin!(rung);
        rung.as_mut().enable();
        let busy = match send_one(&current, &doorbell).await {
            Ok(recorded) => recorded != Recorded::default(),
            Err(error) => {
                tracing::warn!(%error, "delivery batch failed");
                false
            }
        };
        if !busy {
            tokio::select! {
                () = stop.cancelled() => {}
                () = rung => {}
                () = tokio::time::sleep(current.poll) => {}
            }
        }
    }
}

/// Claims a batch, then sends it with the channel instances as they are after the
/// claim: an instance configured before the deliveries were planned is always used.
/// A full batch may leave more behind, so another sender is woken to take it.
async fn send_one(current: &Current, doorbell: &Doorbell) -> herald_core::Result<Recorded> {
    // Build the deliverer before the first claim, so nothing is claimed that cannot be
    // sent; after that, the check after the claim keeps it current.
    if !current.is_built().await && current.get().await.is_none() {
        return Ok(Recorded::default());
    }
    let now = Utc::now();
    let delivery = &current.config.delivery;
    let claimed = claim_batch(&current.db, delivery, now, &current.halts.current()).await?;
    if claimed.is_empty() {
        return Ok(Recorded::default());
    }
    if claimed.len() as u64 >= delivery.batch_size {
        doorbell.pass_on();
    }
    let Some(deliverer) = current.get().await else {
        // Cannot happen once built (a failed check keeps the last deliverer); the
        // lease returns the batch to the queue if it ever does.
        return Ok(Recorded::default());
    };
    deliverer.send_claimed(claimed, now).await
}
