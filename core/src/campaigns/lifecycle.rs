//! The campaign state machine. Every change of state goes through `next`, so an illegal
//! transition is refused in one place with the current state named.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    InReview,
    Approved,
    Rejected,
    Scheduled,
    Running,
    Paused,
    Completed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Change the campaign's content or settings (sends it back to draft).
    Edit,
    Submit,
    Approve,
    Reject,
    Schedule,
    /// The worker starts sending.
    Start,
    Pause,
    Resume,
    /// The worker finished every delivery.
    Complete,
    Cancel,
    /// What was approved changed (found when scheduling, starting or planning): back to
    /// draft, for a new review.
    Invalidate,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Draft,
        Status::InReview,
        Status::Approved,
        Status::Rejected,
        Status::Scheduled,
        Status::Running,
        Status::Paused,
        Status::Completed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in_review",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Scheduled => "scheduled",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl Action {
    pub const ALL: [Action; 11] = [
        Action::Edit,
        Action::Submit,
        Action::Approve,
        Action::Reject,
        Action::Schedule,
        Action::Start,
        Action::Pause,
        Action::Resume,
        Action::Complete,
        Action::Cancel,
        Action::Invalidate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Edit => "edit",
            Action::Submit => "submit",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Schedule => "schedule",
            Action::Start => "start",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Complete => "complete",
            Action::Cancel => "cancel",
            Action::Invalidate => "invalidate",
        }
    }
}

/// The state after `action`, or `None` when `action` is not allowed in `from`.
pub fn next(from: Status, action: Action) -> Option<Status> {
    use Action as A;
    use Status as S;
    match (from, action) {
        // Editing content under review or after approval sends it back to draft.
        (S::Draft | S::InReview | S::Approved | S::Rejected, A::Edit) => Some(S::Draft),
        (S::Draft | S::Rejected, A::Submit) => Some(S::InReview),
        (S::InReview, A::Approve) => Some(S::Approved),
        (S::InReview, A::Reject) => Some(S::Rejected),
        (S::Approved, A::Schedule) => Some(S::Scheduled),
        (S::Scheduled, A::Start) => Some(S::Running),
        (S::Scheduled | S::Running, A::Pause) => Some(S::Paused),
        // Resuming goes back to the scheduler, which restarts sending when it is due.
        (S::Paused, A::Resume) => Some(S::Scheduled),
        (S::Running, A::Complete) => Some(S::Completed),
        (S::Approved | S::Scheduled | S::Running | S::Paused, A::Invalidate) => Some(S::Draft),
        (S::Completed | S::Cancelled, A::Cancel) => None,
        (_, A::Cancel) => Some(S::Cancelled),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path() {
        let mut status = Status::Draft;
        for action in [
            Action::Submit,
            Action::Approve,
            Action::Schedule,
            Action::Start,
            Action::Complete,
        ] {
            status = next(status, action).expect("allowed");
        }
        assert_eq!(status, Status::Completed);
    }

    #[test]
    fn finished_campaigns_accept_nothing() {
        for action in Action::ALL {
            assert_eq!(next(Status::Completed, action), None);
            assert_eq!(next(Status::Cancelled, action), None);
        }
    }

    #[test]
    fn the_full_table_has_exactly_the_documented_edges() {
        let allowed: usize = Status::ALL
            .iter()
            .map(|s| {
                Action::ALL
                    .iter()
                    .filter(|a| next(*s, **a).is_some())
                    .count()
            })
            .sum();
        // edit 4, submit 2, approve 1, reject 1, schedule 1, start 1, pause 2, resume 1,
        // complete 1, cancel 7, invalidate 4.
        assert_eq!(allowed, 25);
    }
}
