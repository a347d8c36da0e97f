//! Data lifecycle (#19): a tenant's retention setting and the scheduled sweep that applies it,
//! and erasing or exporting one end user's conversations. The rules (bounds, cutoffs, how a
//! run's bounded work is shared out, which end user a request names) and the use cases, over
//! any `Store`; the worker glue only calls `sweep` from the scheduled event and the management
//! surface calls `Management`'s operations below.

use serde_json::{Map, Value};

use super::management::{Management, Page, Paging};
use crate::auth::visitor::is_valid_user_id;
use crate::error::ApiError;
use crate::store::scoped::ScopedStore;
use crate::store::{
    Conversation, Deleted, Selection, Spend, Store, StoreError, StoredMessage, Tenant,
};

/// The shortest retention a tenant may set, in days.
pub const MIN_RETENTION_DAYS: u32 = 1;
/// The longest retention a tenant may set, in days (ten years; longer: leave it unset).
pub const MAX_RETENTION_DAYS: u32 = 3650;
/// One day in ms.
pub const DAY_MS: i64 = 86_400_000;
/// Tenants with expired conversations one sweep takes on (the oldest tenants first).
pub const SWEEP_TENANTS: u32 = 20;
/// Bulk delete calls (each at most `store::BULK_DELETE_BATCH` rows) one sweep makes at most, so a
/// run stays inside a scheduled invocation's subrequest and time limits; what is left waits
/// for the next run.
pub const SWEEP_CALLS: u32 = 40;
/// Bulk delete calls one erase request makes at most; `complete: false` asks to call again.
pub const ERASE_CALLS: u32 = 20;
/// Conversations an export page holds when the request names no `limit`.
pub const EXPORT_DEFAULT_PAGE: u32 = 10;
/// The most conversations (each with all its messages) one export page holds.
pub const EXPORT_MAX_PAGE: u32 = 20;
/// The longest visitor id an erase or export accepts.
const MAX_VISITOR_ID_LEN: usize = 300;

/// Reads a `retentionDays` value: `null` (keep forever) or a whole number of days from
/// `MIN_RETENTION_DAYS` to `MAX_RETENTION_DAYS`.
pub fn parse_retention(value: &Value) -> Result<Option<u32>, ApiError> {
    if value.is_null() {
        return Ok(None);
    }
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(n))
        .map(Some)
        // Literal text rather than format!: the worker's wasm is over its size budget.
        .ok_or_else(|| {
            ApiError::invalid(
                "retentionDays",
                "retentionDays must be a whole number of days from 1 to 3650, or null to keep \
                 conversations forever.",
            )
        })
}

/// The time before which a conversation's last activity makes it expire under a retention of
/// `days` at `now` (ms since the epoch): exactly `days` × 24 h earlier. The D1 and Convex work
/// lists compute the same.
pub fn cutoff(now: i64, days: u32) -> i64 {
    now.saturating_sub(i64::from(days) * DAY_MS)
}

/// How many of the `budget_left` bulk delete calls the next of `tenants_left` tenants may make:
/// an even share, rounded up (calls a finished tenant leaves go to the ones after it), never
/// more than is left, and 0 only when nothing is.
pub fn calls_for_next(budget_left: u32, tenants_left: usize) -> u32 {
    let tenants = u32::try_from(tenants_left.max(1)).unwrap_or(u32::MAX);
    budget_left.div_ceil(tenants).min(budget_left)
}

/// The stored visitor id an erase or export names: `visitorId` as stored (`v_…`, or `u:<id>`
/// for a verified user), or a verified end user's `userId` (stored as `u:<userId>`); exactly
/// one of them.
pub fn end_user(visitor_id: Option<&str>, user_id: Option<&str>) -> Result<String, ApiError> {
    match (visitor_id, user_id) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "userId",
            "Name the end user by visitorId or by userId, not both.",
        )),
        (None, None) => Err(ApiError::invalid(
            "visitorId",
            "Name the end user: visitorId (as a conversation shows it) or userId (a verified user's id).",
        )),
        (Some(visitor), None) => {
            if visitor.is_empty()
                || visitor.len() > MAX_VISITOR_ID_LEN
                || visitor.chars().any(char::is_control)
            {
                return Err(ApiError::invalid(
                    "visitorId",
                    "visitorId must have 1 to 300 characters, none of them control characters.",
                ));
            }
            Ok(visitor.to_owned())
        }
        (None, Some(user)) => {
            if !is_valid_user_id(user) {
                return Err(ApiError::invalid(
                    "userId",
                    "userId must be a verified user's id: 1 to 256 bytes, no control characters.",
                ));
            }
            Ok(format!("u:{user}"))
        }
    }
}

/// The end user an erase body names (`{"visitorId"}` or `{"userId"}`; nothing else).
pub fn end_user_of_body(body: &Map<String, Value>) -> Result<String, ApiError> {
    if let Some(other) = body
        .keys()
        .find(|k| k.as_str() != "visitorId" && k.as_str() != "userId")
    {
        return Err(ApiError::invalid(
            other.clone(),
            "Only visitorId or userId may be sent.",
        ));
    }
    let text = |name: &str| -> Result<Option<&str>, ApiError> {
        match body.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(
                name,
                "The end user's id must be a string.",
            )),
        }
    };
    end_user(text("visitorId")?, text("userId")?)
}

/// The page size of an export's `?limit=`: 1 to `EXPORT_MAX_PAGE`, `EXPORT_DEFAULT_PAGE` when
/// absent.
pub fn export_limit(limit: Option<&str>) -> Result<u32, ApiError> {
    match limit {
        None | Some("") => Ok(EXPORT_DEFAULT_PAGE),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=EXPORT_MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "limit must be a number from 1 to 20.")),
    }
}

/// What one sweep did, for its log line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepReport {
    /// Tenants with expired conversations it took on.
    pub tenants: u32,
    /// Of those, the ones with expired conversations still left (next run).
    pub unfinished: u32,
    /// Tenants whose deletes failed (the next run tries again).
    pub failed: u32,
    /// Bulk delete calls made.
    pub calls: u32,
    /// What was deleted, across tenants.
    pub deleted: Deleted,
}

/// One scheduled sweep at `now`: the first `SWEEP_TENANTS` tenants (oldest first) whose
/// retention setting has expired conversations, each deleting them in bulk calls of at most
/// one batch, `SWEEP_CALLS` calls in all shared between them (`calls_for_next`; calls a tenant
/// that finished early leaves go to the others in another pass). Bounded work per run; a
/// backlog is worked off over the following runs. One tenant's failure does not stop the others.
pub async fn sweep<S: Store>(store: &S, now: i64) -> Result<SweepReport, StoreError> {
    let due = store.retention_due(now, SWEEP_TENANTS).await?;
    let mut pending: Vec<(String, i64)> = due
        .iter()
        .filter_map(|t| Some((t.id.clone(), cutoff(now, t.retention_days?))))
        .collect();
    let mut report = SweepReport {
        tenants: u32::try_from(pending.len()).unwrap_or(u32::MAX),
        ..SweepReport::default()
    };
    let mut budget = SWEEP_CALLS;
    while budget > 0 && !pending.is_empty() {
        let count = pending.len();
        let mut left = Vec::new();
        for (i, (tenant_id, before)) in pending.into_iter().enumerate() {
            let share = calls_for_next(budget, count - i);
            let scoped = store.tenant_scope(&tenant_id);
            let which = Selection::InactiveBefore(before);
            let mut outcome = None;
            for _ in 0..share {
                budget -= 1;
                report.calls += 1;
                match scoped.delete_conversations(&which).await {
                    Ok((deleted, done)) => {
                        report.deleted.add(deleted);
                        if done {
                            outcome = Some(true);
                            break;
                        }
                    }
                    Err(_) => {
                        outcome = Some(false);
                        break;
                    }
                }
            }
            match outcome {
                Some(true) => {}
                Some(false) => report.failed += 1,
                None => left.push((tenant_id, before)),
            }
        }
        pending = left;
    }
    report.unfinished = u32::try_from(pending.len()).unwrap_or(u32::MAX);
    Ok(report)
}

/// What an erase did: the counts, and whether nothing of the end user is left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Erased {
    /// Deleted rows.
    pub deleted: Deleted,
    /// False when the end user had more than one request's worth (`ERASE_CALLS` batches):
    /// erase again to continue.
    pub complete: bool,
}

impl<S: Store> Management<'_, S> {
    /// Sets the tenant's retention (`{"retentionDays": n | null}`, nothing else); the tenant
    /// with this month's spend.
    pub async fn set_retention(
        &self,
        tenant_id: &str,
        body: &Map<String, Value>,
    ) -> Result<(Tenant, Spend), ApiError> {
        if let Some(other) = body.keys().find(|k| k.as_str() != "retentionDays") {
            return Err(ApiError::invalid(
                other.clone(),
                "Only retentionDays can be changed here.",
            ));
        }
        let Some(value) = body.get("retentionDays") else {
            return Err(ApiError::invalid(
                "retentionDays",
                "Send retentionDays: a number of days, or null to keep conversations forever.",
            ));
        };
        let days = parse_retention(value)?;
        let mut tenant = self
            .store
            .tenant(tenant_id)
            .await?
            .ok_or(ApiError::NotFound("Tenant"))?;
        tenant.retention_days = days;
        self.store.update_tenant(&tenant).await?;
        self.tenant(tenant_id).await
    }

    /// Deletes one end user's conversations of the tenant (with their messages, ratings, timing
    /// summaries and call records), in batches, at most `ERASE_CALLS` of them.
    pub async fn erase_end_user(
        &self,
        tenant_id: &str,
        visitor_id: &str,
    ) -> Result<Erased, ApiError> {
        let scoped = self.store.tenant_scope(tenant_id);
        let which = Selection::Visitor(visitor_id);
        let mut deleted = Deleted::default();
        for _ in 0..ERASE_CALLS {
            let (batch, done) = scoped.delete_conversations(&which).await?;
            deleted.add(batch);
            if done {
                return Ok(Erased {
                    deleted,
                    complete: true,
                });
            }
        }
        Ok(Erased {
            deleted,
            complete: false,
        })
    }

    /// A page of one end user's conversations of the tenant with their messages, most
    /// recently active first; `next` is where the following page starts.
    pub async fn export_end_user(
        &self,
        tenant_id: &str,
        visitor_id: &str,
        paging: &Paging,
    ) -> Result<Page<(Conversation, Vec<StoredMessage>)>, ApiError> {
        let limit = paging.limit.min(EXPORT_MAX_PAGE);
        // One more than asked tells whether there is a next page.
        let mut rows = self
            .store
            .tenant_scope(tenant_id)
            .visitor_conversations(visitor_id, paging.after.as_ref(), limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = more
            .then(|| rows.last().map(|(c, _)| (c.updated_at, c.id.clone())))
            .flatten();
        Ok(Page { items: rows, next })
    }
}

#[cfg(test)]
mod tests;
