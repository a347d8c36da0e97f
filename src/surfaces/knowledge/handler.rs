//! `…/api/admin/knowledge-bases…`: parse → one `app::knowledge` step → view. New and re-synced
//! sources go to the ingestion queue (`KNOWLEDGE_QUEUE`); the answer does not wait for them.

use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{console_error, Context, Env, FormEntry, Response};

use super::wire::{page_view, paging, Job};
use crate::app::access::{bearer_token, tenant_key_lookup, tenant_of_key};
use crate::app::knowledge::{
    self as kn, base_name, base_of, base_view, check_file_name, hit_view, parse_source, source_of,
    source_view, NewSource,
};
use crate::error::ApiError;
use crate::http::request::{read_body, read_json, refuse_oversized_upload, MAX_FILE_BYTES};
use crate::http::response::{json_response, json_status};
use crate::http::routes::KnowledgeRoute;
use crate::http::url_parts;
use crate::http::Inbound;
use crate::knowledge::client::{embedding_settings, HttpEmbedder};
use crate::knowledge::inflate::NativeInflate;
use crate::knowledge::{KnowledgeBase, Source, SourceKind, SourceStatus};
use crate::platform::{self, now_ms, random_id};
use crate::store::any::AnyStore;
use crate::store::knowledge::SourceUpdate;
use crate::store::scoped::ScopedStore;
use crate::store::Store;

/// Largest JSON body (a pasted text source).
const MAX_JSON_BYTES: usize = 2 * 1024 * 1024;
/// The queue binding ingestion jobs go to.
pub const QUEUE_BINDING: &str = "KNOWLEDGE_QUEUE";

/// Queues a source's ingestion; without the queue binding it runs after the response instead.
pub async fn enqueue(
    env: &Env,
    ctx: &Context,
    job: &Job,
    delay_seconds: u32,
) -> Result<(), ApiError> {
    let body = job.to_text();
    match env.queue(QUEUE_BINDING) {
        Ok(queue) => {
            let mut message = worker::RawMessageBuilder::new(JsValue::from_str(&body));
            if delay_seconds > 0 {
                message = message.delay_seconds(delay_seconds);
            }
            queue
                .send_raw(message.build_with_content_type(worker::QueueContentType::Text))
                .await
                .map_err(|e| ApiError::Internal(format!("queueing the ingestion failed: {e}")))
        }
        Err(_) => {
            console_error!("no {QUEUE_BINDING} binding: ingesting after the response instead");
            let env = env.clone();
            let job = job.clone();
            ctx.wait_until(async move { super::ingest::run(&env, None, job).await });
            Ok(())
        }
    }
}

/// Handles a knowledge request.
pub async fn handle(
    mut req: Inbound,
    env: &Env,
    ctx: &Context,
    route: KnowledgeRoute,
) -> Result<Response, ApiError> {
    let settings = platform::settings(env);
    let authorization = req.headers().get("authorization").ok().flatten();
    let presented = bearer_token(authorization.as_deref())?;
    let lookup = tenant_key_lookup(presented, settings.admin_api_key.as_deref())?;
    let store = AnyStore::from_env(env)?;
    let tenant = tenant_of_key(presented, &store.keys_by_lookup(lookup).await?)?;
    let tenant = tenant.as_str();
    let scoped = store.tenant_scope(tenant);
    let url = req.inner().url();
    let query = |name: &str| url_parts::query_param(&url, name);
    let paging = || paging(query("limit").as_deref(), query("cursor").as_deref());
    let now = now_ms();
    match route {
        KnowledgeRoute::ListBases => {
            let paging = paging()?;
            let mut items = scoped
                .bases(paging.after.as_ref(), paging.limit + 1)
                .await?;
            let next = more(&mut items, paging.limit, |b| (b.created_at, b.id.clone()));
            let embeddings = embedding_settings(env).enabled();
            let mut view = page_view(
                "knowledgeBases",
                items.iter().map(base_view).collect(),
                next.as_ref(),
            );
            view["search"] = json!({ "mode": if embeddings { "hybrid" } else { "lexical" } });
            json_response(&view)
        }
        KnowledgeRoute::CreateBase => {
            let body: Value = read_json(&mut req, MAX_JSON_BYTES, false).await?;
            let base = KnowledgeBase {
                id: random_id("kb"),
                tenant_id: tenant.to_owned(),
                name: base_name(&body)?,
                created_at: now,
                updated_at: now,
            };
            scoped.create_base(&base).await?;
            json_status(&json!({ "knowledgeBase": base_view(&base) }), 201)
        }
        KnowledgeRoute::GetBase(id) => {
            let base = base_of(&store, tenant, &id).await?;
            json_response(&json!({ "knowledgeBase": base_view(&base) }))
        }
        KnowledgeRoute::UpdateBase(id) => {
            let body: Value = read_json(&mut req, MAX_JSON_BYTES, false).await?;
            let name = base_name(&body)?;
            if !scoped.rename_base(&id, &name, now).await? {
                return Err(ApiError::NotFound("Knowledge base"));
            }
            let base = base_of(&store, tenant, &id).await?;
            json_response(&json!({ "knowledgeBase": base_view(&base) }))
        }
        KnowledgeRoute::DeleteBase(id) => {
            if !scoped.delete_base(&id).await? {
                return Err(ApiError::NotFound("Knowledge base"));
            }
            no_content()
        }
        KnowledgeRoute::ListSources(base_id) => {
            base_of(&store, tenant, &base_id).await?;
            let paging = paging()?;
            let mut items = scoped
                .sources(&base_id, paging.after.as_ref(), paging.limit + 1)
                .await?;
            let next = more(&mut items, paging.limit, |s| (s.created_at, s.id.clone()));
            json_response(&page_view(
                "sources",
                items.iter().map(source_view).collect(),
                next.as_ref(),
            ))
        }
        KnowledgeRoute::AddSource(base_id) => {
            base_of(&store, tenant, &base_id).await?;
            let body = read_source(&mut req, &settings.outbound).await?;
            let source = kn::new_source(tenant, &base_id, random_id("src"), body, now);
            scoped.create_source(&source).await?;
            // An upload whose text could not be extracted is failed already.
            if source.status == SourceStatus::Queued {
                enqueue(env, ctx, &Job::new(tenant, &source.id), 0).await?;
            }
            json_status(&json!({ "source": source_view(&source) }), 202)
        }
        KnowledgeRoute::GetSource(base_id, source_id) => {
            let source = source_of(&store, tenant, &base_id, &source_id).await?;
            json_response(&json!({ "source": source_view(&source) }))
        }
        KnowledgeRoute::DeleteSource(base_id, source_id) => {
            source_of(&store, tenant, &base_id, &source_id).await?;
            scoped.delete_source(&source_id).await?;
            no_content()
        }
        KnowledgeRoute::SyncSource(base_id, source_id) => {
            let source = source_of(&store, tenant, &base_id, &source_id).await?;
            if source.kind == SourceKind::File && source.content.is_none() {
                // An upload whose text could not be extracted has nothing to re-read: it
                // keeps its reason.
                return json_status(&json!({ "source": source_view(&source) }), 202);
            }
            let queued = queued(&source, now);
            scoped.update_source(&source.id, &queued).await?;
            enqueue(env, ctx, &Job::new(tenant, &source.id), 0).await?;
            let source = source_of(&store, tenant, &base_id, &source_id).await?;
            json_status(&json!({ "source": source_view(&source) }), 202)
        }
        KnowledgeRoute::Search(base_id) => {
            base_of(&store, tenant, &base_id).await?;
            let body: Value = read_json(&mut req, MAX_JSON_BYTES, false).await?;
            let (text, top_k, rankings) = kn::search_body(&body)?;
            let embedder = HttpEmbedder(embedding_settings(env));
            let bases = [base_id];
            let what = (tenant, &bases[..], text.as_str(), top_k, 0.0);
            let found = kn::retrieve_with(&store, &embedder, what, rankings).await?;
            kn::record_search_usage(&store, tenant, found.embedding_tokens, now).await;
            let mode = match (rankings, found.semantic) {
                (kn::Rankings::Vector, _) => "vector",
                (kn::Rankings::Hybrid, true) => "hybrid",
                _ => "lexical",
            };
            json_response(&json!({
                "hits": found.hits.iter().map(hit_view).collect::<Vec<Value>>(),
                "mode": mode,
            }))
        }
    }
}

/// A source set back to `queued` for a re-sync (its chunks stay searchable meanwhile).
fn queued(source: &Source, now: i64) -> SourceUpdate {
    SourceUpdate {
        status: SourceStatus::Queued,
        progress: 0,
        chunk_count: None,
        error: None,
        content_hash: None,
        title: None,
        now: now.max(source.updated_at),
    }
}

/// Cuts a `limit + 1` read to `limit` and says where the next page starts.
fn more<T>(
    items: &mut Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> (i64, String),
) -> Option<(i64, String)> {
    if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(key)
    } else {
        None
    }
}

/// A source from a JSON body or a `multipart/form-data` upload (field `file`).
async fn read_source(
    req: &mut Inbound,
    policy: &crate::outbound::Policy,
) -> Result<NewSource, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !content_type.starts_with("multipart/form-data") {
        let bytes = read_body(req, MAX_JSON_BYTES).await?;
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("The body is not valid JSON: {e}")))?;
        return parse_source(&body, policy);
    }
    refuse_oversized_upload(req).await?;
    let form = req
        .form_data()
        .await
        .map_err(|e| ApiError::BadRequest(format!("The upload could not be read: {e}")))?;
    let Some(FormEntry::File(file)) = form.get("file") else {
        return Err(ApiError::invalid(
            "file",
            "Send the file in a form field named file.",
        ));
    };
    let name = file.name();
    check_file_name(&name)?;
    if file.size() > MAX_FILE_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_FILE_BYTES));
    }
    let bytes = file
        .bytes()
        .await
        .map_err(|e| ApiError::BadRequest(format!("The upload could not be read: {e}")))?;
    kn::upload::file_source(&name, bytes, &NativeInflate).await
}

fn no_content() -> Result<Response, ApiError> {
    Ok(Response::empty()
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .with_status(204))
}
