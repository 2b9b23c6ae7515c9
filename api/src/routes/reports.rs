//! Delivery reports for auditors: outcomes grouped by campaign, channel, day and status,
//! why deliveries were filtered, and a funnel per campaign. Each answers as JSON, or
//! with `?format=csv` as a streamed CSV download (the delivery log takes the same
//! parameter).
//!
//! A streamed body is not cut by the request timeout: the timeout covers producing the
//! response head (the query behind a report, or the log's first page), and the body
//! follows at the pace the client reads it.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use futures::{Stream, TryStreamExt};
use herald_core::campaigns::progress::FilteredBy;
use herald_core::channel::ChannelKind;
use herald_core::deliveries::DeliveryStatus;
use herald_core::reports::csv::table_csv;
use herald_core::reports::{self, FunnelRow, GroupKey, OutcomeReport, ReportFilter};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use validator::Validate;

use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidQuery;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(delivery_report))
        .routes(routes!(filtered_report))
        .routes(routes!(funnel_report))
}

/// How a report or the delivery log answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Json,
    /// `text/csv; charset=utf-8` as an attachment, streamed as it is read.
    Csv,
}

/// A CSV download whose body is sent chunk by chunk as `chunks` produces them. An error
/// part-way ends the body early (the client sees an incomplete transfer) and is logged.
pub(super) fn csv_download<S>(filename: &'static str, chunks: S) -> Response
where
    S: Stream<Item = herald_core::Result<Vec<u8>>> + Send + 'static,
{
    let chunks = chunks.inspect_err(move |error| {
        tracing::error!(file = filename, error = ?error, "CSV export stopped part-way");
    });
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryReportQuery {
    /// What each row is grouped by: a comma-separated list of `campaign`, `channel`,
    /// `day` and `status`, in the order of the columns (default `status`).
    #[param(example = "campaign,day,status")]
    group_by: Option<String>,
    /// The first UTC day counted (`YYYY-MM-DD`); a delivery counts on the day it was
    /// created.
    from: Option<NaiveDate>,
    /// The last UTC day counted, inclusive.
    to: Option<NaiveDate>,
    campaign_id: Option<i64>,
    channel: Option<ChannelKind>,
    #[param(inline)]
    status: Option<DeliveryStatus>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    format: Option<Format>,
}

/// Deliveries counted by any of campaign, channel, day (UTC, the day each delivery was
/// created, so a closed period's totals never change) and status, over a period and
/// filters. Grouped by campaign, transactional messages form one row with a null
/// campaign and `message_kind` `transactional`. `?format=csv` downloads the same rows.
#[utoipa::path(get, path = "/v1/reports/deliveries", tag = "reports",
    security(("session" = ["deliveries:read"])),
    params(DeliveryReportQuery),
    responses(
        (status = 200, description = "The report", content(
            (OutcomeReport = "application/json"),
            (String = "text/csv", example = "campaign_id,campaign_name,message_kind,status,count\n3,Spring sale,campaign,delivered,9120\n,,transactional,delivered,311\n"))),
        (status = 422, body = ErrorBody, description = "validation_failed: an unknown `group_by` key, a bad date, or `from` after `to`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn delivery_report(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<DeliveryReportQuery>,
) -> Result<Response, ApiError> {
    let group_by = match query.group_by.as_deref() {
        Some(list) => GroupKey::parse_list(list, "group_by")?,
        None => vec![GroupKey::Status],
    };
    let filter = ReportFilter {
        from: query.from,
        to: query.to,
        campaign_id: query.campaign_id,
        channel: query.channel,
        status: query.status,
    };
    let report: OutcomeReport = reports::outcomes(&state.db, &group_by, &filter).await?;
    Ok(match query.format.unwrap_or_default() {
        Format::Json => Json(report).into_response(),
        Format::Csv => csv_download("delivery-report.csv", table_csv(&report)),
    })
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BreakdownQuery {
    /// The first UTC day counted (`YYYY-MM-DD`), by the day each delivery was created.
    from: Option<NaiveDate>,
    /// The last UTC day counted, inclusive.
    to: Option<NaiveDate>,
    campaign_id: Option<i64>,
    channel: Option<ChannelKind>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    format: Option<Format>,
}

impl BreakdownQuery {
    fn filter(&self) -> ReportFilter {
        ReportFilter {
            from: self.from,
            to: self.to,
            campaign_id: self.campaign_id,
            channel: self.channel,
            status: None,
        }
    }
}

/// Why deliveries were filtered: counts per check (`opted_out`, `no_address`,
/// `blocked`, `dedup`, `quiet_hours`, `frequency_cap`, `keyword`) and the rule that
/// decided, over a period, a campaign or a channel — the `filtered_by` of a campaign's
/// progress, for any slice of the log.
#[utoipa::path(get, path = "/v1/reports/filtered", tag = "reports",
    security(("session" = ["deliveries:read"])),
    params(BreakdownQuery),
    responses(
        (status = 200, description = "Filtered deliveries per check and rule", content(
            (Vec<FilteredBy> = "application/json"),
            (String = "text/csv", example = "filter,rule_id,rule_name,count\nblocked,,,120\nfrequency_cap,4,3 emails a day,5310\n"))),
        (status = 422, body = ErrorBody, description = "validation_failed: a bad date, or `from` after `to`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn filtered_report(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<BreakdownQuery>,
) -> Result<Response, ApiError> {
    let rows = reports::filtered(&state.db, &query.filter()).await?;
    Ok(match query.format.unwrap_or_default() {
        Format::Json => Json(rows).into_response(),
        Format::Csv => csv_download("filtered-report.csv", table_csv(rows.as_slice())),
    })
}

/// A funnel per campaign: deliveries targeted, sent (handed to a channel at least
/// once), delivered, and where the others stand (filtered, failed, dead, …), over a
/// period and filters. Transactional messages form one row with a null campaign.
#[utoipa::path(get, path = "/v1/reports/funnel", tag = "reports",
    security(("session" = ["deliveries:read"])),
    params(BreakdownQuery),
    responses(
        (status = 200, description = "One row per campaign", content(
            (Vec<FunnelRow> = "application/json"),
            (String = "text/csv", example = "campaign_id,campaign_name,message_kind,targeted,sent,delivered,filtered,failed,dead,queued,deferred,sending,expired,cancelled\n3,Spring sale,campaign,10000,9400,9120,600,200,80,0,0,0,0,0\n"))),
        (status = 422, body = ErrorBody, description = "validation_failed: a bad date, or `from` after `to`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn funnel_report(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<BreakdownQuery>,
) -> Result<Response, ApiError> {
    let rows = reports::funnel(&state.db, &query.filter()).await?;
    Ok(match query.format.unwrap_or_default() {
        Format::Json => Json(rows).into_response(),
        Format::Csv => csv_download("funnel-report.csv", table_csv(rows.as_slice())),
    })
}
