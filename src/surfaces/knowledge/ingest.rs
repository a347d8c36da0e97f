//! Ingestion off the request path: the `knowledge-ingest` queue's consumer runs one source per
//! message (`app::knowledge::ingest`); a failure worth retrying is queued again with a delay,
//! up to `MAX_ATTEMPTS`, and the source shows why. The scheduled event queues web sources that
//! were not synced for `KNOWLEDGE_RESYNC_HOURS` (default 24).

use worker::{console_error, console_log, Env, MessageBatch, MessageExt};

use super::handler::QUEUE_BINDING;
use super::wire::Job;
use crate::app::knowledge::{ingest, record_failure, IngestError};
use crate::knowledge::client::{embedding_settings, HttpEmbedder, WebFetcher, PAGE_TIMEOUT_MS};
use crate::knowledge::SourceStatus;
use crate::platform::{self, now_ms, random_id};
use crate::store::any::AnyStore;
use crate::store::knowledge::{KnowledgeStore, SourceUpdate};
use crate::store::scoped::ScopedStore;

/// Sources one scheduled run queues at most.
const RESYNC_BATCH: u32 = 100;

fn setting(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

/// Runs one job; `retry` is the queue to put a retry on (`None`: no retries, inline runs).
pub async fn run(env: &Env, retry: Option<&worker::Queue>, job: Job) {
    let store = match AnyStore::from_env(env) {
        Ok(store) => store,
        Err(e) => return console_error!("ingestion: no store: {e}"),
    };
    let scoped = store.tenant_scope(&job.tenant_id);
    let source = match scoped.source(&job.source_id).await {
        Ok(Some(source)) => source,
        // Deleted meanwhile: nothing to do.
        Ok(None) => return,
        Err(e) => return console_error!("ingestion of {}: {e}", job.source_id),
    };
    let settings = platform::settings(env);
    let page_timeout = setting(env, "KNOWLEDGE_PAGE_TIMEOUT_MS")
        .and_then(|v| v.trim().parse().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(PAGE_TIMEOUT_MS);
    let fetcher = WebFetcher(&settings.outbound, page_timeout);
    let embedder = HttpEmbedder(embedding_settings(env));
    let mut ids = || random_id("chk");
    let now = now_ms();
    let outcome = ingest(&store, &source, &fetcher, &embedder, &mut ids, now).await;
    let error = match outcome {
        Ok(done) => {
            console_log!(
                "ingested {} ({} chunks{}, {} embedding tokens)",
                source.id,
                done.chunks,
                if done.unchanged { ", unchanged" } else { "" },
                done.embedding_tokens
            );
            return;
        }
        Err(error) => error,
    };
    let base_delay = setting(env, "KNOWLEDGE_RETRY_DELAY_SECONDS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    if let (IngestError::Transient(reason), Some(queue)) = (&error, retry) {
        if let Some((next, delay)) = job.retry(base_delay) {
            let waiting = SourceUpdate {
                status: SourceStatus::Queued,
                progress: 0,
                chunk_count: None,
                error: Some(format!(
                    "Attempt {} failed, retrying: {reason}",
                    job.attempt
                )),
                content_hash: None,
                title: None,
                now: now_ms(),
            };
            let _ = scoped.update_source(&source.id, &waiting).await;
            let body = next.to_text();
            let mut message =
                worker::RawMessageBuilder::new(wasm_bindgen::JsValue::from_str(&body));
            if delay > 0 {
                message = message.delay_seconds(delay);
            }
            if queue
                .send_raw(message.build_with_content_type(worker::QueueContentType::Text))
                .await
                .is_ok()
            {
                return;
            }
        }
    }
    if let Err(e) = record_failure(&store, &source, error.reason(), now_ms()).await {
        console_error!("recording the failure of {} failed: {e}", source.id);
    }
}

/// The queue consumer: one source per message, each acknowledged once handled (a retry is a
/// new message, so the attempt count is ours to keep). The batch's sources run side by side, so
/// a page that hangs until its timeout does not hold up the others.
pub async fn consume(batch: MessageBatch<wasm_bindgen::JsValue>, env: Env) -> worker::Result<()> {
    let queue = env.queue(QUEUE_BINDING).ok();
    let (env, queue) = (&env, queue.as_ref());
    let jobs = batch.raw_iter().map(|message| async move {
        let body = message.body().as_string().unwrap_or_default();
        match Job::parse(&body) {
            Some(job) => run(env, queue, job).await,
            None => console_error!("ingestion: unreadable message: {body}"),
        }
        message.ack();
    });
    futures::future::join_all(jobs).await;
    Ok(())
}

/// The scheduled re-sync: web sources not synced for a while are queued again (unchanged
/// pages are then skipped by their content hash).
pub async fn resync(env: &Env) {
    let hours: i64 = setting(env, "KNOWLEDGE_RESYNC_HOURS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let Ok(store) = AnyStore::from_env(env) else {
        return;
    };
    let Ok(queue) = env.queue(QUEUE_BINDING) else {
        return console_error!("re-sync: no {QUEUE_BINDING} binding");
    };
    let before = now_ms() - hours * 3_600_000;
    let due = match store.web_sources_due(before, RESYNC_BATCH).await {
        Ok(due) => due,
        Err(e) => return console_error!("re-sync: {e}"),
    };
    for (tenant_id, source_id) in due {
        let job = Job::new(&tenant_id, &source_id);
        let body = job.to_text();
        let message = worker::RawMessageBuilder::new(wasm_bindgen::JsValue::from_str(&body))
            .build_with_content_type(worker::QueueContentType::Text);
        if queue.send_raw(message).await.is_ok() {
            let queued = SourceUpdate {
                status: SourceStatus::Queued,
                progress: 0,
                chunk_count: None,
                error: None,
                content_hash: None,
                title: None,
                now: now_ms(),
            };
            let _ = store
                .tenant_scope(&tenant_id)
                .update_source(&source_id, &queued)
                .await;
        }
    }
}
