//! The kinds of rule and their parameters, stored as JSON beside the rule.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationErrors};

pub use super::keywords::KeywordParams;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum RuleParams {
    /// At most `max` deliveries per subscriber per channel (or category) per window.
    FrequencyCap(FrequencyCapParams),
    /// Deliveries only inside the allowed hours of the subscriber's time zone.
    QuietHours(QuietHoursParams),
    /// Banned words and phrases in content.
    Keyword(KeywordParams),
    /// The same template (or dedup key) to the same subscriber and channel once per window.
    Dedup(DedupParams),
    /// At most `max` messages per subscriber per window across every channel and
    /// category, with priority classes: a send is counted only against sends of its own
    /// class and higher, so a lower class never holds back a higher one. Over budget, a
    /// send is deferred to the next window.
    FatigueBudget(FatigueBudgetParams),
}

impl RuleParams {
    pub fn kind(&self) -> &'static str {
        match self {
            RuleParams::FrequencyCap(_) => "frequency_cap",
            RuleParams::QuietHours(_) => "quiet_hours",
            RuleParams::Keyword(_) => "keyword",
            RuleParams::Dedup(_) => "dedup",
            RuleParams::FatigueBudget(_) => "fatigue_budget",
        }
    }

    pub fn validate(&self) -> Result<(), ValidationErrors> {
        match self {
            RuleParams::FrequencyCap(p) => p.validate(),
            RuleParams::QuietHours(p) => p.validate(),
            RuleParams::Keyword(p) => p.validate(),
            RuleParams::Dedup(p) => p.validate(),
            RuleParams::FatigueBudget(p) => p.validate(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapWindow {
    /// The current clock hour (UTC).
    Hour,
    /// The current calendar day in the subscriber's time zone.
    Day,
    /// The current ISO week (Monday start) in the subscriber's time zone.
    Week,
    /// The last `rolling_secs` seconds.
    Rolling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapPer {
    Channel,
    Category,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCapParams {
    #[validate(range(min = 1, max = 100000))]
    pub max: u32,
    pub window: CapWindow,
    /// Length of a `rolling` window in seconds.
    #[validate(range(min = 60, max = 31622400))]
    pub rolling_secs: Option<u32>,
    /// Count per channel or per category.
    pub per: CapPer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuietAction {
    /// Send when the window next opens.
    Defer,
    /// Do not send.
    Drop,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursParams {
    /// Start of the allowed window, `HH:MM`, in the subscriber's local time.
    #[validate(custom(function = "validate_clock"))]
    pub allowed_from: String,
    /// End of the allowed window, `HH:MM`; earlier than `allowed_from` means it spans midnight.
    #[validate(custom(function = "validate_clock"))]
    pub allowed_until: String,
    /// Zone for subscribers without one (IANA name).
    #[validate(custom(function = "validate_zone"))]
    pub default_timezone: String,
    pub action: QuietAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DedupBy {
    Template,
    DedupKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DedupParams {
    #[validate(range(min = 60, max = 31622400))]
    pub window_secs: u32,
    pub by: DedupBy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FatigueBudgetParams {
    /// Messages per subscriber per window, all channels and categories together.
    #[validate(range(min = 1, max = 100000))]
    pub max: u32,
    /// `hour`, `day` or `week` (days and weeks in the subscriber's time zone).
    #[validate(custom(function = "validate_budget_window"))]
    pub window: CapWindow,
    /// Tighter budgets for some channels inside the total.
    #[serde(default)]
    #[validate(nested)]
    pub per_channel: Vec<ChannelBudget>,
    /// Priority classes, highest first, each with its categories. A category no class
    /// names is in the lowest class, below all of them.
    #[serde(default)]
    #[validate(length(max = 10), nested)]
    pub classes: Vec<PriorityClass>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBudget {
    pub channel: crate::channel::ChannelKind,
    #[validate(range(min = 1, max = 100000))]
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityClass {
    /// e.g. `transactional`, `alert`.
    #[validate(length(min = 1, max = 40))]
    pub name: String,
    #[validate(length(min = 1, max = 100))]
    pub categories: Vec<String>,
}

impl FatigueBudgetParams {
    /// The class of `category`: its index in `classes` (0 is the highest), or the
    /// lowest, `classes.len()`, when no class names it.
    pub fn class_of(&self, category: &str) -> usize {
        self.classes
            .iter()
            .position(|class| class.categories.iter().any(|c| c == category))
            .unwrap_or(self.classes.len())
    }

    /// The name of class `index` (`other` for the lowest, unnamed one).
    pub fn class_name(&self, index: usize) -> &str {
        self.classes
            .get(index)
            .map_or("other", |class| class.name.as_str())
    }

    /// The budget of `channel` inside the total, if it has one.
    pub fn channel_max(&self, channel: crate::channel::ChannelKind) -> Option<u32> {
        self.per_channel
            .iter()
            .find(|budget| budget.channel == channel)
            .map(|budget| budget.max)
    }
}

fn validate_budget_window(window: &CapWindow) -> Result<(), validator::ValidationError> {
    if *window == CapWindow::Rolling {
        return Err(validator::ValidationError::new("window")
            .with_message("a budget runs per hour, day or week".into()));
    }
    Ok(())
}

fn validate_clock(value: &str) -> Result<(), validator::ValidationError> {
    chrono::NaiveTime::parse_from_str(value, "%H:%M")
        .map(|_| ())
        .map_err(|_| {
            validator::ValidationError::new("clock").with_message("use HH:MM, e.g. 08:30".into())
        })
}

fn validate_zone(value: &str) -> Result<(), validator::ValidationError> {
    value.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| {
        validator::ValidationError::new("timezone").with_message("is not an IANA time zone".into())
    })
}
