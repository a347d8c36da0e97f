//! The ingestion queue's message: which source to ingest, and which attempt this is.

use serde_json::{json, Value};

use crate::auth::crypto::{base64url, from_base64url};
use crate::error::ApiError;

/// Page size when a list call names none.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page a list call may ask for.
pub const MAX_PAGE: u32 = 200;

/// Which page: at most `limit` after `after`.
pub struct Paging {
    /// Page size.
    pub limit: u32,
    /// The `(created_at, id)` the page starts after.
    pub after: Option<(i64, String)>,
}

/// Reads `?limit=` and `?cursor=` (the cursor format of every list: base64url of `time:id`).
pub fn paging(limit: Option<&str>, cursor: Option<&str>) -> Result<Paging, ApiError> {
    let limit = match limit.filter(|l| !l.is_empty()) {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", format!("limit must be 1 to {MAX_PAGE}.")))?,
    };
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => {
            let bad = || ApiError::invalid("cursor", "The cursor is not one this API gave out.");
            let text = from_base64url(cursor)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(bad)?;
            let (time, id) = text.split_once(':').ok_or_else(bad)?;
            Some((time.parse::<i64>().map_err(|_| bad())?, id.to_owned()))
        }
    };
    Ok(Paging { limit, after })
}

/// A page as `{"<name>": [...], "nextCursor": ...}`.
pub fn page_view(name: &str, items: Vec<Value>, next: Option<&(i64, String)>) -> Value {
    let next = next.map(|(time, id)| base64url(format!("{time}:{id}").as_bytes()));
    json!({ name: items, "nextCursor": next })
}

/// Most attempts of a source whose failures are worth retrying.
pub const MAX_ATTEMPTS: u32 = 3;

/// One queued ingestion.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The source's tenant.
    pub tenant_id: String,
    /// The source.
    pub source_id: String,
    /// 1 for the first try.
    pub attempt: u32,
}

impl Job {
    /// The message body.
    pub fn to_text(&self) -> String {
        json!({ "tenantId": self.tenant_id, "sourceId": self.source_id, "attempt": self.attempt })
            .to_string()
    }

    /// Reads a message body.
    pub fn parse(text: &str) -> Option<Job> {
        let v: Value = serde_json::from_str(text).ok()?;
        Some(Job {
            tenant_id: v["tenantId"].as_str()?.to_owned(),
            source_id: v["sourceId"].as_str()?.to_owned(),
            attempt: v["attempt"].as_u64().map_or(1, |a| a as u32),
        })
    }

    /// The first attempt at a source.
    pub fn new(tenant_id: &str, source_id: &str) -> Self {
        Job {
            tenant_id: tenant_id.to_owned(),
            source_id: source_id.to_owned(),
            attempt: 1,
        }
    }

    /// The next attempt, with its delay in seconds (`base`, then 5 × `base`, …), or `None`
    /// after the last.
    pub fn retry(&self, base: u32) -> Option<(Job, u32)> {
        (self.attempt < MAX_ATTEMPTS).then(|| {
            let next = Job {
                attempt: self.attempt + 1,
                ..self.clone()
            };
            (next, base.saturating_mul(5u32.pow(self.attempt - 1)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_retry_with_growing_delays_then_stop() {
        let job = Job::new("t1", "src_1");
        let (second, delay) = job.retry(5).expect("second");
        assert_eq!((second.attempt, delay), (2, 5));
        let (third, delay) = second.retry(5).expect("third");
        assert_eq!((third.attempt, delay), (3, 25));
        assert_eq!(third.retry(5), None);
        assert_eq!(job.retry(0).map(|(_, d)| d), Some(0));
        let read = Job::parse(r#"{"tenantId":"t","sourceId":"s"}"#).expect("job");
        assert_eq!(read.attempt, 1);
        assert_eq!(Job::parse(&second.to_text()), Some(second.clone()));
        assert_eq!(Job::parse("{}"), None);
    }

    #[test]
    fn pages_round_trip_their_cursor() {
        let view = page_view("x", vec![], Some(&(5, "kb_1".into())));
        let cursor = view["nextCursor"].as_str().expect("cursor").to_owned();
        let page = paging(Some("10"), Some(&cursor)).expect("paging");
        assert_eq!((page.limit, page.after), (10, Some((5, "kb_1".into()))));
        assert!(paging(Some("0"), None).is_err());
        assert!(paging(None, Some("!!")).is_err());
    }
}
