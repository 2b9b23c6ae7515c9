//! The send step: claim due deliveries, render each for its recipient, route it to the
//! channel instance for its channel, send with bounded concurrency, and record every
//! attempt. Each outgoing message carries `hd-<delivery id>` as its idempotency key
//! (the webhook `webhook-id`, the email Message-ID), the same on every retry.

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use herald_channels::http::ssrf::SsrfGuard;
use herald_channels::{
    Channel, Delivery, DeliveryOutcome, EmailMessage, IdempotencyKey, Message, MqttMessage,
    PluginKind, PushMessage, WebhookMessage,
};
use herald_core::campaigns::dispatch::{complete_finished, start_due};
use herald_core::campaigns::pages::{
    claim, cut_pages, finish, give_back_if_halted, open_pages, prepare,
};
use herald_core::channel::ChannelKind;
use herald_core::channel_instances::build_enabled;
use herald_core::config::{Config, DeliveryConfig};
use herald_core::db::ids_in;
use herald_core::deliveries::devices::NO_ENDPOINT;
use herald_core::deliveries::page::{record_first, record_held, record_paced, record_stopped};
use herald_core::deliveries::{
    Attempt, Recorded, RetryPolicy, Stop, any_deferred_due, claim_due, expire_due, reconsider_due,
    record,
};
use herald_core::entities::by_position::all_by_position;
use herald_core::entities::{delivery, message, subscriber, subscriber_endpoint};
use herald_core::halts::{HaltWatch, Halts};
use herald_core::inbox::Bus;
use herald_core::inbox::deliver::item_for;
use herald_core::inbox::store::store_batch;
use herald_core::rules::revision::RulesCache;
use herald_core::rules::{KeywordHit, KeywordRules};
use herald_core::sealing::Sealer;
use herald_core::subscribers::endpoints::disable_dead;
use herald_core::templates::render::{CompiledContent, RenderContext, RenderedContent};
use herald_core::templates::store::{content_of, version};
use herald_core::unsubscribe::LinkSigner;

use crate::WorkerMetrics;
use crate::pacing::{Lane, Pacer};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use tokio::task::JoinHandle;

/// A channel instance deliveries go through.
#[derive(Clone)]
struct Route {
    /// The instance's name: with the receiving host, the lane it is paced in.
    name: Arc<str>,
    channel: Arc<dyn Channel>,
}

/// The channel instances deliveries go through: by default the first enabled instance
/// (by name) of each kind, or the one a message chose by name.
#[derive(Default)]
struct Routes {
    /// The default instance of each plugin kind.
    defaults: HashMap<PluginKind, Route>,
    /// Enabled instances by name.
    named: HashMap<String, Route>,
    /// Every instance's kind by name, the disabled ones too.
    kinds: HashMap<String, PluginKind>,
}

impl Routes {
    async fn load(
        db: &DatabaseConnection,
        sealer: &Sealer,
        destinations: &SsrfGuard,
    ) -> herald_core::Result<Self> {
        let mut routes = Routes::default();
        for model in herald_core::channel_instances::list(db).await? {
            if let Some(kind) = PluginKind::parse(&model.kind) {
                routes.kinds.insert(model.name, kind);
            }
        }
        // In name order, so the first of each kind is the default.
        for (model, channel) in build_enabled(db, sealer, destinations).await? {
            let route = Route {
                name: model.name.as_str().into(),
                channel,
            };
            routes
                .defaults
                .entry(route.channel.kind())
                .or_insert_with(|| route.clone());
            routes.named.insert(model.name, route);
        }
        Ok(routes)
    }

    /// The instance of `kind` a message goes through: the one it chose among `chosen`,
    /// or the default. A chosen instance that is disabled, or no instance of the kind,
    /// is retryable: deliveries wait (and can be re-driven) until an operator enables
    /// or configures one.
    fn pick(&self, kind: PluginKind, chosen: &[String]) -> Result<Route, DeliveryOutcome> {
        let choice = chosen
            .iter()
            .find(|name| self.kinds.get(*name) == Some(&kind));
        match choice {
            Some(name) => self.named.get(name).cloned().ok_or_else(|| {
                DeliveryOutcome::retryable(
                    format!("the chosen {kind} instance {name:?} is not enabled"),
                    None,
                )
            }),
            None => self.defaults.get(&kind).cloned().ok_or_else(|| {
                DeliveryOutcome::retryable(format!("no enabled {kind} channel instance"), None)
            }),
        }
    }
}

/// A delivery ready to send: the plugin, the message, and the endpoint it goes to.
struct Prepared {
    /// The channel's name, for the metrics.
    kind: &'static str,
    /// The message's campaign, for the kill switch.
    campaign: Option<i64>,
    channel: Arc<dyn Channel>,
    delivery: Delivery,
    endpoint: Option<i64>,
    lane: Lane,
}

/// A message as a round sends it: its content compiled (or why it cannot be used) and
/// the instances it chose, each worked out once, not per delivery.
struct RoundMessage {
    model: message::Model,
    content: Result<CompiledContent, String>,
    instances: Vec<String>,
}

/// Sends due deliveries, one round at a time.
pub struct Deliverer {
    db: DatabaseConnection,
    routes: Routes,
    policy: RetryPolicy,
    signer: LinkSigner,
    config: DeliveryConfig,
    /// Wakes inbox streams when items are stored.
    bus: Option<Bus>,
    /// Paces sends per instance and receiving host; kept across rebuilds.
    pacer: Arc<Pacer>,
    /// Counts what is attempted; kept across rebuilds.
    metrics: WorkerMetrics,
    /// The kill switch's stops; kept across rebuilds.
    halts: HaltWatch,
    /// The rules pages, due batches and decisions taken again go by, loaded again only
    /// when they change.
    rules: RulesCache,
}

/// What a delivery needs besides its row: its message, compiled content, subscriber
/// and endpoints, each loaded once per round.
struct Round {
    messages: HashMap<i64, RoundMessage>,
    subscribers: HashMap<i64, subscriber::Model>,
    /// The subscribers' enabled endpoints, by id.
    endpoints: HashMap<i64, subscriber_endpoint::Model>,
    /// The oldest enabled endpoint of each subscriber and channel: where a delivery
    /// without an endpoint of its own goes (MQTT's topic, rows planned before
    /// deliveries had endpoints).
    oldest: HashMap<(i64, ChannelKind), i64>,
    /// The keyword rules as they are now, checked against each rendered delivery.
    keywords: Arc<KeywordRules>,
}

impl Deliverer {
    /// Builds the enabled channel instances; build a new one to pick up changes
    /// ([`crate::loops::run_loop`] does when they change).
    pub async fn new(db: DatabaseConnection, config: &Config) -> herald_core::Result<Self> {
        Ok(Self {
            routes: Routes::load(
                &db,
                &Sealer::from_config(&config.secrets, &config.data_dir)?,
                &config.channel_destinations(),
            )
            .await?,
            policy: RetryPolicy::from_config(&config.delivery),
            signer: LinkSigner::load(&db, &config.public_url()).await?,
            config: config.delivery.clone(),
            bus: None,
            pacer: Arc::new(Pacer::new(config.delivery.pacing.clone())),
            metrics: WorkerMetrics::default(),
            halts: HaltWatch::default(),
            rules: RulesCache::default(),
            db,
        })
    }

    /// Holds back sends the kill switch stops, as `halts` (the worker's) knows them.
    pub fn with_halts(mut self, halts: HaltWatch) -> Self {
        self.halts = halts;
        self
    }

    /// Counts into `metrics` (the worker's, which outlive a rebuild of the deliverer).
    pub fn with_metrics(mut self, metrics: WorkerMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Announces stored inbox items on `bus`.
    pub fn with_bus(mut self, bus: Bus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Paces with `pacer` (the worker's, which outlives a rebuild of the deliverer).
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    /// The lanes paced or pushed back so far.
    pub fn pacing(&self) -> Vec<herald_core::pacing::LanePace> {
        self.pacer.rates()
    }

    /// One round, all steps in turn, without a job queue: expires and reconsiders,
    /// sends one batch of due deliveries, starts due campaigns and cuts them into pages,
    /// runs every open page here, then completes finished campaigns. (The worker's loops
    /// run the steps side by side, and the job queue runs the pages.)
    pub async fn run_once(&self, now: DateTime<Utc>) -> herald_core::Result<Recorded> {
        self.halts.reload(&self.db).await?;
        let upkeep = self.upkeep(now).await?;
        let sent = self.send_batch(now).await?;
        self.advance_campaigns(now).await?;
        let mut pages = Recorded::default();
        // As its own task: two rounds at once must not share a claim.
        let task = format!("inline-{}", uuid::Uuid::new_v4());
        for page in open_pages(&self.db).await? {
            if let Some(done) = self.run_page(page.id, &task, now).await? {
                pages = add(pages, done);
            }
        }
        self.complete_campaigns().await?;
        Ok(Recorded {
            expired: upkeep.expired,
            reconsidered: upkeep.reconsidered,
            ..add(sent, pages)
        })
    }

    /// Ends deliveries of expired messages and decides due deferred ones again.
    pub async fn upkeep(&self, now: DateTime<Utc>) -> herald_core::Result<Recorded> {
        let expired = expire_due(&self.db, now).await?;
        let mut reconsidered = 0;
        if any_deferred_due(&self.db, now).await? {
            let rules = self.rules.current(&self.db).await?.rules;
            let summary = reconsider_due(&self.db, &rules, now, self.config.batch_size).await?;
            reconsidered = summary.queued + summary.filtered + summary.deferred;
        }
        Ok(Recorded {
            expired,
            reconsidered,
            ..Recorded::default()
        })
    }

    /// Starts due campaigns and cuts running ones into pages; returns how many pages
    /// were cut.
    pub async fn advance_campaigns(&self, now: DateTime<Utc>) -> herald_core::Result<u64> {
        let started = start_due(&self.db, now).await?;
        let cut = cut_pages(&self.db, now).await?;
        if !started.is_empty() {
            tracing::info!(?started, pages = cut, "campaigns started");
        }
        Ok(cut)
    }

    /// Completes running campaigns whose pages are all done and whose deliveries all
    /// reached a final status.
    pub async fn complete_campaigns(&self) -> herald_core::Result<()> {
        let completed = complete_finished(&self.db).await?;
        if !completed.is_empty() {
            tracing::info!(?completed, "campaigns completed");
        }
        Ok(())
    }

    /// Runs page `id` as task `task`: decides it, sends what may go now and writes each
    /// outcome once. `None` when another task holds the page or it is done.
    pub async fn run_page(
        &self,
        id: i64,
        task: &str,
        now: DateTime<Utc>,
    ) -> herald_core::Result<Option<Recorded>> {
        if give_back_if_halted(&self.db, id).await? {
            tracing::debug!(page = id, "page given back: the kill switch stops it");
            return Ok(None);
        }
        let Some(claimed) = claim(&self.db, id, task, now).await? else {
            return Ok(None);
        };
        let work = prepare(&self.db, &claimed, &self.rules, now).await?;
        let page = claimed.page;
        if let Some(bus) = &self.bus {
            bus.stored(&work.stored);
        }
        let planned = work.planned();
        // What deciding the page read serves its sends: nothing is read again.
        let messages = match work.message {
            Some(message) => vec![self.round_message(message).await],
            None => Vec::new(),
        };
        let round = Round::new(messages, work.subscribers, work.endpoints, work.keywords);
        // Written as they complete, a batch at a time (or what a quarter second
        // brought): a crash repeats only the sends not yet written, with the same
        // keys, never the whole page.
        let batches = futures::stream::iter(work.to_send)
            .map(|row| self.attempt(&round, row, None))
            .buffer_unordered(self.config.concurrency);
        let mut batches = std::pin::pin!(tokio_stream::StreamExt::chunks_timeout(
            batches,
            usize::try_from(self.config.batch_size).unwrap_or(usize::MAX),
            RECORD_AT_LEAST_EVERY,
        ));
        // A batch is written while the next one is sent, never more than one: sending
        // does not stop for the write, and a crash repeats at most two batches.
        let mut recorded = Recorded::default();
        let mut writing: Option<JoinHandle<herald_core::Result<Recorded>>> = None;
        while let Some(batch) = batches.next().await {
            let tried = Outcomes::of(batch);
            self.observe(&tried);
            let now = Utc::now().max(now);
            if let Some(previous) = writing.take() {
                recorded = add(recorded, written(previous).await?);
            }
            let write = record_batch(self.db.clone(), self.policy.clone(), tried, now);
            writing = Some(tokio::spawn(write));
        }
        if let Some(last) = writing {
            recorded = add(recorded, written(last).await?);
        }
        finish(&self.db, page.id, Utc::now()).await?;
        tracing::debug!(page = page.id, ?recorded, "page sent");
        Ok(Some(Recorded {
            planned,
            ..recorded
        }))
    }

    /// Claims one batch of due deliveries, sends it and records the outcomes.
    pub async fn send_batch(&self, now: DateTime<Utc>) -> herald_core::Result<Recorded> {
        let claimed = claim_batch(&self.db, &self.config, now, &self.halts.current()).await?;
        self.send_claimed(claimed, now).await
    }

    /// Sends claimed deliveries and records the outcomes.
    pub async fn send_claimed(
        &self,
        claimed: Vec<delivery::Model>,
        now: DateTime<Utc>,
    ) -> herald_core::Result<Recorded> {
        if claimed.is_empty() {
            return Ok(Recorded::default());
        }
        // Sends wait for pacing at most half the lease: the rest are put off, never
        // left to a lease that ran out (another worker would send them too).
        let latest = Instant::now() + Duration::from_secs(self.config.lease_secs) / 2;
        let round = self.load_round(&claimed).await?;
        let (inbox, claimed): (Vec<_>, Vec<_>) = claimed
            .into_iter()
            .partition(|row| row.channel == ChannelKind::Inbox.as_str());
        let stored = self.store_inbox(&round, inbox).await?;
        let tried = self.send_all(&round, claimed, latest).await;
        self.observe(&stored);
        self.observe(&tried);
        let attempts = stored.attempts.into_iter().chain(tried.attempts).collect();
        let held = stored.held.into_iter().chain(tried.held).collect();
        let now = Utc::now().max(now);
        let mut recorded = record(&self.db, attempts, &self.policy, now).await?;
        recorded.held = record_held(&self.db, held, now).await?;
        recorded.paced = record_paced(&self.db, tried.paced, now).await?;
        recorded.stopped = record_stopped(&self.db, tried.stopped, now).await?;
        disable_gone(&self.db, &tried.dead_endpoints).await?;
        tracing::debug!(?recorded, "batch sent");
        Ok(recorded)
    }

    /// Sends `rows` (none for the inbox) with bounded concurrency; a send whose lane
    /// has no slot by `latest` is put off.
    async fn send_all(
        &self,
        round: &Round,
        rows: Vec<delivery::Model>,
        latest: Instant,
    ) -> Outcomes {
        let tried = futures::stream::iter(rows)
            .map(|row| self.attempt(round, row, Some(latest)))
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        Outcomes::of(tried)
    }

    /// One try at `row`, unless a keyword rule holds it back once rendered or its lane's
    /// pacing has no slot for it by `latest` (then it is put off to that slot).
    async fn attempt(&self, round: &Round, row: delivery::Model, latest: Option<Instant>) -> Tried {
        let prepared = self.prepare(round, &row);
        let (outcome, endpoint, started_at, clock) = match prepared {
            Ok(ready) => {
                if let Some(why) = self
                    .halts
                    .current()
                    .stops(ready.campaign, Some(&ready.lane.instance))
                {
                    return Tried::Stopped(row, why.to_owned());
                }
                let latest = latest.unwrap_or_else(|| Instant::now() + LONGEST_PACING_WAIT);
                if let Err(slot) = self.pacer.admit(&ready.lane, latest).await {
                    let due = Utc::now()
                        + chrono::Duration::from_std(
                            slot.saturating_duration_since(Instant::now()),
                        )
                        .unwrap_or_default();
                    return Tried::Paced(row, due);
                }
                let (started_at, clock) = (Utc::now(), Instant::now());
                let outcome = ready.channel.send(&ready.delivery).await;
                self.metrics
                    .sent(ready.kind, &ready.lane.instance, clock.elapsed());
                self.pacer.observe(&ready.lane, &outcome);
                (outcome, ready.endpoint, started_at, clock)
            }
            Err(Stop::Failed(outcome)) => (outcome, None, Utc::now(), Instant::now()),
            Err(Stop::Held(hit)) => return Tried::Held(row, hit),
        };
        let attempt = Attempt {
            delivery: row,
            started_at,
            duration: clock.elapsed(),
            outcome,
        };
        Tried::Sent(attempt, endpoint)
    }

    async fn load_round(&self, claimed: &[delivery::Model]) -> herald_core::Result<Round> {
        let mut message_ids: Vec<i64> = claimed.iter().map(|d| d.message_id).collect();
        message_ids.sort_unstable();
        message_ids.dedup();
        let mut messages = Vec::new();
        for model in message::Entity::find()
            .filter(message::Column::Id.is_in(message_ids))
            .all(&self.db)
            .await?
        {
            messages.push(self.round_message(model).await);
        }
        let mut ids: Vec<i64> = claimed.iter().map(|d| d.subscriber_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let subscribers = all_by_position::<subscriber::Model>(
            &self.db,
            subscriber::Entity::find().filter(ids_in(&self.db, subscriber::Column::Id, &ids)),
        )
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
        let endpoints = all_by_position(
            &self.db,
            subscriber_endpoint::Entity::find()
                .filter(ids_in(
                    &self.db,
                    subscriber_endpoint::Column::SubscriberId,
                    &ids,
                ))
                .filter(subscriber_endpoint::Column::Enabled.eq(true))
                .order_by_asc(subscriber_endpoint::Column::Id),
        )
        .await?;
        Ok(Round::new(
            messages,
            subscribers,
            endpoints,
            self.rules.current(&self.db).await?.keywords,
        ))
    }

    /// A message with its content compiled and its chosen instances read.
    async fn round_message(&self, model: message::Model) -> RoundMessage {
        let content = self.content_of(&model).await;
        let instances = model
            .instances
            .as_ref()
            .and_then(|names| serde_json::from_value(names.clone()).ok())
            .unwrap_or_default();
        RoundMessage {
            model,
            content,
            instances,
        }
    }

    /// A message's compiled content. An error here (a template version that vanished,
    /// content that no longer compiles) fails that message's deliveries, not the batch.
    async fn content_of(&self, model: &message::Model) -> Result<CompiledContent, String> {
        let content = match (model.template_id, model.template_version, &model.content) {
            (Some(template), Some(number), _) => version(&self.db, template, number)
                .await
                .and_then(|v| content_of(&v))
                .map_err(|e| format!("the message's template cannot be loaded: {e}"))?,
            (_, _, Some(inline)) => serde_json::from_value(inline.clone())
                .map_err(|e| format!("the message's content is unreadable: {e}"))?,
            _ => return Err("the message has no content".to_owned()),
        };
        CompiledContent::compile(&content)
            .map_err(|e| format!("the message's content does not compile: {e}"))
    }

    /// The plugin and the message for one delivery, or what stops it: an outcome, or a
    /// keyword rule that finds a banned word in the content as rendered for this
    /// subscriber (per-send data and subscriber fields included).
    fn prepare(&self, round: &Round, row: &delivery::Model) -> Result<Prepared, Stop> {
        let channel = ChannelKind::parse(&row.channel).ok_or_else(|| {
            DeliveryOutcome::permanent(format!("unknown channel {}", row.channel))
        })?;
        let (message, subscriber, rendered) = render(round, row, channel)?;
        if let Some(hit) =
            round
                .keywords
                .first_hit(|| rendered.texts_for(channel), channel, &message.category)
        {
            return Err(Stop::Held(hit));
        }
        let endpoint = round.endpoint_of(row)?;
        let chosen = round
            .messages
            .get(&row.message_id)
            .map_or(&[][..], |m| &m.instances);
        let (route, content) =
            self.route(channel, message, subscriber, endpoint, chosen, rendered)?;
        let key = IdempotencyKey::parse(idempotency_key(row))
            .map_err(|e| DeliveryOutcome::permanent(e.to_string()))?;
        Ok(Prepared {
            kind: channel.as_str(),
            campaign: message.campaign_id,
            lane: Lane::of(&route.name, &content),
            channel: route.channel,
            delivery: Delivery {
                idempotency_key: key,
                message: content,
            },
            endpoint: endpoint.map(|e| e.id),
        })
    }

    /// Inbox deliveries are not sent anywhere: they become inbox items, all of a batch in
    /// one transaction keyed by delivery (a retried batch stores nothing twice).
    async fn store_inbox(
        &self,
        round: &Round,
        rows: Vec<delivery::Model>,
    ) -> herald_core::Result<Outcomes> {
        let started_at = Utc::now();
        let clock = Instant::now();
        let mut items = Vec::new();
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut tried = Vec::new();
        for row in rows {
            let item = parts_of(round, &row).map_err(Stop::from).and_then(
                |(message, subscriber, compiled)| {
                    item_for(row.id, message, compiled, subscriber, &round.keywords)
                },
            );
            match item {
                Ok(item) => {
                    items.push(item);
                    outcomes.push((row, None));
                }
                Err(Stop::Failed(outcome)) => outcomes.push((row, Some(outcome))),
                Err(Stop::Held(hit)) => tried.push(Tried::Held(row, hit)),
            }
        }
        let stored = store_batch(&self.db, items, started_at).await?;
        let duration = clock.elapsed();
        if let Some(bus) = &self.bus {
            bus.stored(&stored);
        }
        tried.extend(outcomes.into_iter().map(|(row, failed)| {
            let attempt = Attempt {
                outcome: failed.unwrap_or_else(|| DeliveryOutcome::Delivered {
                    provider_message_id: None,
                    response: "stored in the subscriber's inbox".to_owned(),
                }),
                delivery: row,
                started_at,
                duration,
            };
            Tried::Sent(attempt, None)
        }));
        Ok(Outcomes::of(tried))
    }
}

/// The longest a page's send waits for its lane's slot; one due later is put off to it
/// (a due row), so a slow lane does not hold the page. Claimed deliveries wait at most
/// half their lease.
const LONGEST_PACING_WAIT: Duration = Duration::from_secs(30);

/// How long sent deliveries of a page may wait to be written, at most.
const RECORD_AT_LEAST_EVERY: Duration = Duration::from_millis(250);

/// The key every try of a delivery carries: made of what identifies it (message,
/// subscriber, channel, endpoint), so a delivery sent from a page that runs again after
/// a crash, before its row was written, carries the same key as the first time.
fn idempotency_key(row: &delivery::Model) -> String {
    let (message, subscriber, channel) = (row.message_id, row.subscriber_id, &row.channel);
    match row.endpoint_id {
        NO_ENDPOINT => format!("hd-{message}-{subscriber}-{channel}"),
        endpoint => format!("hd-{message}-{subscriber}-{channel}-{endpoint}"),
    }
}

/// One delivery's turn: an attempt (with the endpoint it went to), held back, or put
/// off by pacing until a slot.
enum Tried {
    Sent(Attempt, Option<i64>),
    Held(delivery::Model, KeywordHit),
    Paced(delivery::Model, DateTime<Utc>),
    /// The kill switch stopped it before it was sent; why.
    Stopped(delivery::Model, String),
}

/// A batch's turns, sorted for recording.
struct Outcomes {
    attempts: Vec<Attempt>,
    held: Vec<(delivery::Model, KeywordHit)>,
    paced: Vec<(delivery::Model, DateTime<Utc>)>,
    stopped: Vec<(delivery::Model, String)>,
    /// Endpoints their providers reported gone.
    dead_endpoints: Vec<(i64, String)>,
}

impl Outcomes {
    fn of(tried: Vec<Tried>) -> Self {
        let mut outcomes = Outcomes {
            attempts: Vec::with_capacity(tried.len()),
            held: Vec::new(),
            paced: Vec::new(),
            stopped: Vec::new(),
            dead_endpoints: Vec::new(),
        };
        for turn in tried {
            match turn {
                Tried::Sent(attempt, endpoint) => {
                    if let (
                        DeliveryOutcome::Permanent {
                            endpoint_dead: true,
                            reason,
                        },
                        Some(endpoint),
                    ) = (&attempt.outcome, endpoint)
                    {
                        outcomes.dead_endpoints.push((endpoint, reason.clone()));
                    }
                    outcomes.attempts.push(attempt);
                }
                Tried::Held(row, hit) => outcomes.held.push((row, hit)),
                Tried::Paced(row, due) => outcomes.paced.push((row, due)),
                Tried::Stopped(row, why) => outcomes.stopped.push((row, why)),
            }
        }
        outcomes
    }
}

impl Deliverer {
    fn observe(&self, outcomes: &Outcomes) {
        self.metrics.attempted(&outcomes.attempts);
        self.metrics.held(outcomes.held.len());
        self.metrics.paced(outcomes.paced.len());
        self.metrics.stopped(outcomes.stopped.len());
    }
}

/// Writes what a batch of sends did: each first attempt as its delivery, and the
/// deliveries held back, paced or stopped before they went.
async fn record_batch(
    db: DatabaseConnection,
    policy: RetryPolicy,
    tried: Outcomes,
    now: DateTime<Utc>,
) -> herald_core::Result<Recorded> {
    let mut recorded = record_first(&db, tried.attempts, &policy, now).await?;
    recorded.held += record_held(&db, tried.held, now).await?;
    recorded.paced += record_paced(&db, tried.paced, now).await?;
    recorded.stopped += record_stopped(&db, tried.stopped, now).await?;
    disable_gone(&db, &tried.dead_endpoints).await?;
    Ok(recorded)
}

/// What a spawned [`record_batch`] answered.
async fn written(
    write: JoinHandle<herald_core::Result<Recorded>>,
) -> herald_core::Result<Recorded> {
    write.await.map_err(|error| {
        tracing::error!(%error, "writing a batch of sends ended abnormally");
        herald_core::Error::Internal("writing a batch of sends ended abnormally")
    })?
}

/// Disables endpoints their providers reported gone.
async fn disable_gone(
    db: &DatabaseConnection,
    endpoints: &[(i64, String)],
) -> herald_core::Result<()> {
    if !endpoints.is_empty() {
        let disabled = disable_dead(db, endpoints).await?;
        tracing::info!(
            disabled,
            "endpoints the provider reported gone were disabled"
        );
    }
    Ok(())
}

/// Adds the counts of two rounds.
fn add(a: Recorded, b: Recorded) -> Recorded {
    Recorded {
        delivered: a.delivered + b.delivered,
        retrying: a.retrying + b.retrying,
        failed: a.failed + b.failed,
        dead: a.dead + b.dead,
        planned: a.planned + b.planned,
        reconsidered: a.reconsidered + b.reconsidered,
        expired: a.expired + b.expired,
        held: a.held + b.held,
        paced: a.paced + b.paced,
        stopped: a.stopped + b.stopped,
    }
}

/// Claims one batch of due deliveries under a lease, as `config` sizes them, leaving out
/// what `halts` stops.
pub async fn claim_batch(
    db: &DatabaseConnection,
    config: &DeliveryConfig,
    now: DateTime<Utc>,
    halts: &Halts,
) -> herald_core::Result<Vec<delivery::Model>> {
    let lease = Duration::from_secs(config.lease_secs);
    claim_due(db, now, lease, config.batch_size, halts).await
}

/// A delivery's message, subscriber and compiled content.
fn parts_of<'r>(
    round: &'r Round,
    row: &delivery::Model,
) -> Result<
    (
        &'r message::Model,
        &'r subscriber::Model,
        &'r CompiledContent,
    ),
    DeliveryOutcome,
> {
    let RoundMessage {
        model: message,
        content: compiled,
        ..
    } = round
        .messages
        .get(&row.message_id)
        .ok_or_else(|| DeliveryOutcome::permanent("the message no longer exists"))?;
    let subscriber = round
        .subscribers
        .get(&row.subscriber_id)
        .ok_or_else(|| DeliveryOutcome::permanent("the subscriber no longer exists"))?;
    let compiled = compiled
        .as_ref()
        .map_err(|reason| DeliveryOutcome::permanent(reason.clone()))?;
    Ok((message, subscriber, compiled))
}

impl Round {
    /// A round of `messages` to `subscribers` (by id) at their enabled `endpoints`
    /// (oldest first), checked against `keywords`.
    fn new(
        messages: Vec<RoundMessage>,
        subscribers: HashMap<i64, subscriber::Model>,
        endpoints: Vec<subscriber_endpoint::Model>,
        keywords: Arc<KeywordRules>,
    ) -> Self {
        let mut by_id = HashMap::with_capacity(endpoints.len());
        let mut oldest = HashMap::new();
        for endpoint in endpoints {
            if let Some(channel) = ChannelKind::parse(&endpoint.channel) {
                oldest
                    .entry((endpoint.subscriber_id, channel))
                    .or_insert(endpoint.id);
            }
            by_id.insert(endpoint.id, endpoint);
        }
        Self {
            messages: messages.into_iter().map(|m| (m.model.id, m)).collect(),
            subscribers,
            endpoints: by_id,
            oldest,
            keywords,
        }
    }

    /// The endpoint `row` goes to: its own, or for a row without one the subscriber's
    /// oldest on its channel, if any. An endpoint disabled or removed since the row was
    /// planned fails it.
    fn endpoint_of(
        &self,
        row: &delivery::Model,
    ) -> Result<Option<&subscriber_endpoint::Model>, DeliveryOutcome> {
        if row.endpoint_id != NO_ENDPOINT {
            return self
                .endpoints
                .get(&row.endpoint_id)
                .map(Some)
                .ok_or_else(|| {
                    DeliveryOutcome::permanent(format!(
                        "endpoint {} was disabled or removed",
                        row.endpoint_id
                    ))
                });
        }
        Ok(ChannelKind::parse(&row.channel)
            .and_then(|channel| self.oldest.get(&(row.subscriber_id, channel)))
            .and_then(|id| self.endpoints.get(id)))
    }
}

/// A delivery's message and subscriber, and its `channel`'s content rendered for them.
fn render<'r>(
    round: &'r Round,
    row: &delivery::Model,
    channel: ChannelKind,
) -> Result<(&'r message::Model, &'r subscriber::Model, RenderedContent), DeliveryOutcome> {
    let (message, subscriber, compiled) = parts_of(round, row)?;
    let rendered = compiled
        .render_for(
            channel,
            &RenderContext::for_subscriber(subscriber, &message.data),
        )
        .map_err(|e| DeliveryOutcome::permanent(format!("rendering failed: {e}")))?;
    Ok((message, subscriber, rendered))
}

impl Deliverer {
    fn route(
        &self,
        channel: ChannelKind,
        message: &message::Model,
        subscriber: &subscriber::Model,
        endpoint: Option<&subscriber_endpoint::Model>,
        chosen: &[String],
        rendered: RenderedContent,
    ) -> Result<(Route, Message), DeliveryOutcome> {
        let missing = |what: &str| DeliveryOutcome::permanent(format!("no {what} to send to"));
        let no_content =
            || DeliveryOutcome::permanent(format!("the template has no {channel} content"));
        match channel {
            ChannelKind::Email => {
                let email = rendered.email.ok_or_else(no_content)?;
                let to = subscriber
                    .email
                    .clone()
                    .ok_or_else(|| missing("email address"))?;
                let route = self.routes.pick(PluginKind::Smtp, chosen)?;
                Ok((
                    route,
                    Message::Email(EmailMessage {
                        from: email.from.unwrap_or_else(|| self.config.email_from.clone()),
                        reply_to: email.reply_to,
                        to: vec![to],
                        subject: email.subject,
                        text: email.text.unwrap_or_default(),
                        html: email.html,
                        list_unsubscribe_url: Some(
                            self.signer.link(subscriber.id, &message.category),
                        ),
                        ..Default::default()
                    }),
                ))
            }
            ChannelKind::Webhook => {
                let body = rendered.webhook.ok_or_else(no_content)?;
                let url = endpoint.ok_or_else(|| missing("webhook endpoint"))?;
                let route = self.routes.pick(PluginKind::Webhook, chosen)?;
                Ok((
                    route,
                    Message::Webhook(WebhookMessage {
                        url: url.address.clone(),
                        body,
                    }),
                ))
            }
            ChannelKind::Push => {
                let push = rendered.push.ok_or_else(no_content)?;
                let device = endpoint.ok_or_else(|| missing("push endpoint"))?;
                let provider = device.provider.as_deref().unwrap_or_default();
                let kind = PluginKind::parse(provider)
                    .filter(|kind| ChannelKind::of_plugin(*kind) == ChannelKind::Push)
                    .ok_or_else(|| {
                        DeliveryOutcome::permanent(format!("unknown push provider {provider:?}"))
                    })?;
                let route = self.routes.pick(kind, chosen)?;
                Ok((
                    route,
                    Message::Push(PushMessage {
                        token: device.address.clone(),
                        title: push.title,
                        body: push.body,
                        data: push.data,
                    }),
                ))
            }
            ChannelKind::Mqtt => {
                let payload = rendered.mqtt.ok_or_else(no_content)?;
                let topic = endpoint
                    .map(|e| e.address.clone())
                    .unwrap_or_else(|| format!("herald/{}/inbox", subscriber.external_id));
                let route = self.routes.pick(PluginKind::Mqtt, chosen)?;
                Ok((
                    route,
                    Message::Mqtt(MqttMessage {
                        topic,
                        payload: payload.get().as_bytes().to_vec(),
                    }),
                ))
            }
            // Stored by `store_inbox`, never routed to a plugin.
            ChannelKind::Inbox => Err(DeliveryOutcome::permanent(
                "inbox deliveries are stored, not sent",
            )),
        }
    }
}
