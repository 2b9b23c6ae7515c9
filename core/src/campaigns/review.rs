//! Four eyes bound to what was reviewed. An approval records the SHA-256 of everything
//! that decides what is sent: the campaign's settings, the template version's content,
//! the audience's definition (and, for a list or file, the size of the snapshot taken at
//! approval). Scheduling, starting and planning recompute it; a different hash withdraws
//! the approval. The reviewer is never someone who edited or submitted the campaign,
//! whatever their role.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::snapshot;
use crate::audit::Actor;
use crate::entities::{campaign, campaign_contributor};
use crate::error::{Error, Result};
use crate::error_code::ErrorCode;
use crate::templates::store as templates;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contribution {
    Edited,
    Submitted,
}

impl Contribution {
    fn as_str(self) -> &'static str {
        match self {
            Contribution::Edited => "edited",
            Contribution::Submitted => "submitted",
        }
    }
}

/// The kind and id a person is known by across requests; Herald itself and the command
/// line neither edit nor review.
fn identity(actor: &Actor) -> Option<(&'static str, i64)> {
    match actor {
        Actor::Operator { id, .. } => Some(("operator", *id)),
        Actor::ApiKey { id, .. } => Some(("api_key", *id)),
        Actor::Subscriber { .. } | Actor::System | Actor::Cli => None,
    }
}

/// Remembers that `actor` edited or submitted the campaign (once per kind of contribution).
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    campaign_id: i64,
    actor: &Actor,
    contribution: Contribution,
) -> Result<()> {
    let Some((kind, id)) = identity(actor) else {
        return Ok(());
    };
    campaign_contributor::Entity::insert(campaign_contributor::ActiveModel {
        campaign_id: Set(campaign_id),
        actor_kind: Set(kind.to_owned()),
        actor_id: Set(id),
        contribution: Set(contribution.as_str().to_owned()),
    })
    .on_conflict(
        OnConflict::columns([
            campaign_contributor::Column::CampaignId,
            campaign_contributor::Column::ActorKind,
            campaign_contributor::Column::ActorId,
            campaign_contributor::Column::Contribution,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Refuses a reviewer who created, edited or submitted the campaign (403).
pub(crate) async fn require_independent(
    conn: &impl ConnectionTrait,
    model: &campaign::Model,
    reviewer: &Actor,
) -> Result<()> {
    let Some((kind, id)) = identity(reviewer) else {
        return Ok(());
    };
    let authored = kind == "operator" && model.created_by == Some(id);
    let contributions: Vec<String> = campaign_contributor::Entity::find()
        .filter(campaign_contributor::Column::CampaignId.eq(model.id))
        .filter(campaign_contributor::Column::ActorKind.eq(kind))
        .filter(campaign_contributor::Column::ActorId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| c.contribution)
        .collect();
    let edited = authored
        || contributions
            .iter()
            .any(|c| c == Contribution::Edited.as_str());
    if edited {
        return Err(Error::Forbidden {
            code: ErrorCode::ReviewerIsEditor,
            message: "the author or an editor of a campaign cannot review it".into(),
        });
    }
    if !contributions.is_empty() {
        return Err(Error::Forbidden {
            code: ErrorCode::ReviewerIsSubmitter,
            message: "whoever submitted a campaign cannot review it".into(),
        });
    }
    Ok(())
}

/// The SHA-256 (hex) of everything that decides what the campaign sends, read now.
pub(crate) async fn content_hash(
    conn: &impl ConnectionTrait,
    model: &campaign::Model,
) -> Result<String> {
    let version = templates::version(conn, model.template_id, model.template_version).await?;
    let audience = crate::audiences::store::get(conn, model.audience_id).await?;
    let frozen = if snapshot::is_frozen(&audience) {
        Some(snapshot::size(conn, model.id).await?)
    } else {
        None
    };
    // serde_json writes object keys sorted, so equal content always hashes alike.
    let mut reviewed = json!({
        "campaign": {
            "name": model.name,
            "template_id": model.template_id,
            "template_version": model.template_version,
            "channels": model.channels,
            "schedule": model.schedule,
            "priority": model.priority,
            "category": model.category,
            "data": model.data,
            "expires_at": model.expires_at,
        },
        "template": { "content": version.content, "data_keys": version.data_keys },
        "audience": {
            "id": audience.id,
            "kind": audience.kind,
            "segment": audience.segment,
            "snapshot_size": frozen,
        },
    });
    // Only when chosen, so approvals given before campaigns could choose still hold.
    if let Some(instances) = &model.instances {
        reviewed["campaign"]["instances"] = instances.clone();
    }
    Ok(hex::encode(Sha256::digest(reviewed.to_string().as_bytes())))
}

/// Whether the campaign still is what its approval covered. A campaign with no recorded
/// hash (approved before approvals were bound to content) does not hold.
pub(crate) async fn approval_holds(
    conn: &impl ConnectionTrait,
    model: &campaign::Model,
) -> Result<bool> {
    let Some(approved) = &model.approved_hash else {
        return Ok(false);
    };
    Ok(*approved == content_hash(conn, model).await?)
}
