//! The route table: which endpoint a method and path reach.

/// An endpoint of the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/health`
    Health,
    /// `GET /api/openapi.json`: the API's OpenAPI 3.1 document.
    OpenApi,
    /// A widget endpoint (publishable key, allowed origin, visitor token).
    Widget(WidgetRoute),
    /// `OPTIONS` on a widget endpoint: the CORS preflight.
    Preflight,
    /// An operator endpoint (`ADMIN_API_KEY`).
    Operator(OperatorRoute),
    /// A tenant management endpoint (tenant secret key).
    Tenant(TenantRoute),
    /// A knowledge management endpoint (tenant secret key).
    Knowledge(KnowledgeRoute),
    /// An OpenAI-compatible endpoint (an API key, or the tenant's secret key).
    OpenAi(OpenAiRoute),
    /// `OPTIONS` on an OpenAI-compatible endpoint: the CORS preflight.
    OpenAiPreflight,
    /// The MCP server (an MCP key, or the tenant's secret key).
    Mcp(McpRoute),
    /// A Twilio voice endpoint (signed by Twilio with the tenant's Auth Token).
    Voice(VoiceRoute),
}

/// Endpoints Twilio calls for a phone agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceRoute {
    /// `POST /voice/twilio/{agent}`: the incoming-call webhook, answered with TwiML.
    Incoming(String),
    /// `GET /voice/twilio/{agent}/relay`: the ConversationRelay WebSocket.
    Relay(String),
    /// `POST /voice/twilio/{agent}/ended`: the `<Connect action>` callback.
    Ended(String),
}

/// Endpoints of a tenant's knowledge bases (tenant secret key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnowledgeRoute {
    /// `GET /api/admin/knowledge-bases`
    ListBases,
    /// `POST /api/admin/knowledge-bases`
    CreateBase,
    /// `GET /api/admin/knowledge-bases/{id}`
    GetBase(String),
    /// `PATCH /api/admin/knowledge-bases/{id}`
    UpdateBase(String),
    /// `DELETE /api/admin/knowledge-bases/{id}`
    DeleteBase(String),
    /// `GET /api/admin/knowledge-bases/{id}/sources`
    ListSources(String),
    /// `POST /api/admin/knowledge-bases/{id}/sources` (JSON or a multipart file upload)
    AddSource(String),
    /// `GET /api/admin/knowledge-bases/{id}/sources/{sourceId}`
    GetSource(String, String),
    /// `DELETE /api/admin/knowledge-bases/{id}/sources/{sourceId}`
    DeleteSource(String, String),
    /// `POST /api/admin/knowledge-bases/{id}/sources/{sourceId}/sync`
    SyncSource(String, String),
    /// `POST /api/admin/knowledge-bases/{id}/search`
    Search(String),
}

/// The MCP server's endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpRoute {
    /// `POST /mcp`: the agents the key reaches.
    Tenant,
    /// `POST /mcp/{agentId}`: one agent.
    Agent(String),
    /// `GET /.well-known/oauth-protected-resource/mcp[/{agentId}]`: RFC 9728 metadata.
    Metadata(Option<String>),
}

/// The OpenAI-compatible endpoints: every agent is a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenAiRoute {
    /// `POST /v1/chat/completions`
    ChatCompletions,
    /// `GET /v1/models`
    Models,
    /// `GET /v1/models/{model}`
    Model(String),
}

/// Endpoints a web page calls with an agent's publishable key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WidgetRoute {
    /// `POST /api/agents/{agent}/chat`
    Chat {
        /// Agent id.
        agent_id: String,
    },
    /// `GET /api/agents/{agent}/conversations/{id}`
    Conversation {
        /// Agent id.
        agent_id: String,
        /// Conversation id.
        conversation_id: String,
    },
    /// `POST /api/agents/{agent}/visitor`: issue or renew a visitor token.
    Visitor {
        /// Agent id.
        agent_id: String,
    },
    /// `GET /api/agents/{agent}/config`: the agent's public look.
    Config {
        /// Agent id.
        agent_id: String,
    },
    /// `GET /api/widget/config`: the public look of the agent the publishable key names.
    KeyConfig,
    /// `POST /api/agents/{agent}/conversations/{id}/messages/{message}/feedback`
    Feedback {
        /// Agent id.
        agent_id: String,
        /// Conversation id.
        conversation_id: String,
        /// The rated answer.
        message_id: String,
    },
}

impl WidgetRoute {
    /// The agent the endpoint names in its path (`None`: the key says which).
    pub fn agent_id(&self) -> Option<&str> {
        match self {
            WidgetRoute::Chat { agent_id }
            | WidgetRoute::Conversation { agent_id, .. }
            | WidgetRoute::Visitor { agent_id }
            | WidgetRoute::Config { agent_id }
            | WidgetRoute::Feedback { agent_id, .. } => Some(agent_id),
            WidgetRoute::KeyConfig => None,
        }
    }
}

/// Endpoints of the platform operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorRoute {
    /// `GET /api/admin/tenants`
    ListTenants,
    /// `POST /api/admin/tenants`
    CreateTenant,
    /// `GET /api/admin/tenants/{id}`
    GetTenant(String),
    /// `PATCH /api/admin/tenants/{id}`
    UpdateTenant(String),
}

/// Endpoints of a tenant's management API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantRoute {
    /// `GET /api/admin/tenant`
    Me,
    /// `PATCH /api/admin/tenant`: the tenant's own settings (`retentionDays`).
    UpdateMe,
    /// `POST /api/admin/end-users/erase`: delete one end user's conversations.
    EraseEndUser,
    /// `GET /api/admin/end-users/export`: one end user's conversations, a page at a time.
    ExportEndUser,
    /// `GET /api/admin/agents`
    ListAgents,
    /// `POST /api/admin/agents`
    CreateAgent,
    /// `GET /api/admin/agents/{id}`
    GetAgent(String),
    /// `PATCH /api/admin/agents/{id}`
    UpdateAgent(String),
    /// `DELETE /api/admin/agents/{id}`
    DeleteAgent(String),
    /// `POST /api/admin/agents/{id}/duplicate`
    DuplicateAgent(String),
    /// `POST /api/admin/agents/{id}/tools/{name}/test`: one call of a webhook tool.
    TestTool(String, String),
    /// `POST /api/admin/agents/{id}/mcp-servers/test`: connect to an MCP server, list its tools.
    TestMcpServer(String),
    /// `GET /api/admin/keys`
    ListKeys,
    /// `POST /api/admin/keys`
    CreateKey,
    /// `DELETE /api/admin/keys/{id}`
    RevokeKey(String),
    /// `POST /api/admin/secrets/{identity|webhook-signing}`: rotate and show once.
    RotateSecret(String),
    /// `GET /api/admin/conversations`
    ListConversations,
    /// `GET /api/admin/conversations/{id}`
    GetConversation(String),
    /// `DELETE /api/admin/conversations/{id}`
    DeleteConversation(String),
    /// `GET /api/admin/feedback`
    ListFeedback,
    /// `GET /api/admin/usage`
    Usage,
    /// `GET /api/admin/integrations/{name}`: shown masked.
    GetIntegration(String),
    /// `PUT /api/admin/integrations/{name}`
    PutIntegration(String),
    /// `DELETE /api/admin/integrations/{name}`
    DeleteIntegration(String),
    /// `POST /api/admin/integrations/{name}/test`: sends a test trace (`langfuse`, `otlp`).
    TestIntegration(String),
}

/// What an endpoint is, before its path parameters are filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Health,
    OpenApi,
    Chat,
    Conversation,
    Feedback,
    Visitor,
    Config,
    KeyConfig,
    ListTenants,
    CreateTenant,
    GetTenant,
    UpdateTenant,
    Me,
    UpdateMe,
    EraseEndUser,
    ExportEndUser,
    ListAgents,
    CreateAgent,
    GetAgent,
    UpdateAgent,
    DeleteAgent,
    DuplicateAgent,
    TestTool,
    TestMcpServer,
    ListKeys,
    CreateKey,
    RevokeKey,
    RotateSecret,
    ListConversations,
    GetConversation,
    DeleteConversation,
    ListFeedback,
    Usage,
    ListBases,
    CreateBase,
    GetBase,
    UpdateBase,
    DeleteBase,
    ListSources,
    AddSource,
    GetSource,
    DeleteSource,
    SyncSource,
    SearchBase,
    ChatCompletions,
    Models,
    Model,
    McpTenant,
    McpAgent,
    McpMetadata,
    McpAgentMetadata,
    GetIntegration,
    PutIntegration,
    DeleteIntegration,
    TestIntegration,
    VoiceIncoming,
    VoiceRelay,
    VoiceEnded,
}

impl Kind {
    /// OpenAI-compatible endpoints: they answer CORS preflights (the key decides the rest).
    fn is_openai(self) -> bool {
        matches!(self, Kind::ChatCompletions | Kind::Models | Kind::Model)
    }

    /// Widget endpoints are called from web pages: they answer CORS preflights.
    fn is_widget(self) -> bool {
        matches!(
            self,
            Kind::Chat
                | Kind::Conversation
                | Kind::Feedback
                | Kind::Visitor
                | Kind::Config
                | Kind::KeyConfig
        )
    }
}

/// The one route table: every endpoint as (method, path template, kind). The matcher below and
/// `endpoints()` (which `openapi.json` must describe exactly) both come from it.
const TABLE: &[(&str, &str, Kind)] = &[
    ("GET", "/api/health", Kind::Health),
    ("GET", "/api/openapi.json", Kind::OpenApi),
    ("POST", "/api/agents/{agentId}/chat", Kind::Chat),
    (
        "GET",
        "/api/agents/{agentId}/conversations/{conversationId}",
        Kind::Conversation,
    ),
    (
        "POST",
        "/api/agents/{agentId}/conversations/{conversationId}/messages/{messageId}/feedback",
        Kind::Feedback,
    ),
    ("POST", "/api/agents/{agentId}/visitor", Kind::Visitor),
    ("GET", "/api/agents/{agentId}/config", Kind::Config),
    ("GET", "/api/widget/config", Kind::KeyConfig),
    ("GET", "/api/admin/tenants", Kind::ListTenants),
    ("POST", "/api/admin/tenants", Kind::CreateTenant),
    ("GET", "/api/admin/tenants/{tenantId}", Kind::GetTenant),
    ("PATCH", "/api/admin/tenants/{tenantId}", Kind::UpdateTenant),
    ("GET", "/api/admin/tenant", Kind::Me),
    ("PATCH", "/api/admin/tenant", Kind::UpdateMe),
    ("POST", "/api/admin/end-users/erase", Kind::EraseEndUser),
    ("GET", "/api/admin/end-users/export", Kind::ExportEndUser),
    ("GET", "/api/admin/agents", Kind::ListAgents),
    ("POST", "/api/admin/agents", Kind::CreateAgent),
    ("GET", "/api/admin/agents/{agentId}", Kind::GetAgent),
    ("PATCH", "/api/admin/agents/{agentId}", Kind::UpdateAgent),
    ("DELETE", "/api/admin/agents/{agentId}", Kind::DeleteAgent),
    (
        "POST",
        "/api/admin/agents/{agentId}/duplicate",
        Kind::DuplicateAgent,
    ),
    (
        "POST",
        "/api/admin/agents/{agentId}/tools/{toolName}/test",
        Kind::TestTool,
    ),
    (
        "POST",
        "/api/admin/agents/{agentId}/mcp-servers/test",
        Kind::TestMcpServer,
    ),
    ("GET", "/api/admin/keys", Kind::ListKeys),
    ("POST", "/api/admin/keys", Kind::CreateKey),
    ("DELETE", "/api/admin/keys/{keyId}", Kind::RevokeKey),
    ("POST", "/api/admin/secrets/{secret}", Kind::RotateSecret),
    ("GET", "/api/admin/conversations", Kind::ListConversations),
    (
        "GET",
        "/api/admin/conversations/{conversationId}",
        Kind::GetConversation,
    ),
    (
        "DELETE",
        "/api/admin/conversations/{conversationId}",
        Kind::DeleteConversation,
    ),
    ("GET", "/api/admin/feedback", Kind::ListFeedback),
    ("GET", "/api/admin/usage", Kind::Usage),
    ("GET", "/api/admin/knowledge-bases", Kind::ListBases),
    ("POST", "/api/admin/knowledge-bases", Kind::CreateBase),
    ("GET", "/api/admin/knowledge-bases/{baseId}", Kind::GetBase),
    (
        "PATCH",
        "/api/admin/knowledge-bases/{baseId}",
        Kind::UpdateBase,
    ),
    (
        "DELETE",
        "/api/admin/knowledge-bases/{baseId}",
        Kind::DeleteBase,
    ),
    (
        "GET",
        "/api/admin/knowledge-bases/{baseId}/sources",
        Kind::ListSources,
    ),
    (
        "POST",
        "/api/admin/knowledge-bases/{baseId}/sources",
        Kind::AddSource,
    ),
    (
        "GET",
        "/api/admin/knowledge-bases/{baseId}/sources/{sourceId}",
        Kind::GetSource,
    ),
    (
        "DELETE",
        "/api/admin/knowledge-bases/{baseId}/sources/{sourceId}",
        Kind::DeleteSource,
    ),
    (
        "POST",
        "/api/admin/knowledge-bases/{baseId}/sources/{sourceId}/sync",
        Kind::SyncSource,
    ),
    (
        "POST",
        "/api/admin/knowledge-bases/{baseId}/search",
        Kind::SearchBase,
    ),
    ("POST", "/v1/chat/completions", Kind::ChatCompletions),
    ("GET", "/v1/models", Kind::Models),
    ("GET", "/v1/models/{model}", Kind::Model),
    ("POST", "/mcp", Kind::McpTenant),
    ("POST", "/mcp/{agentId}", Kind::McpAgent),
    (
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        Kind::McpMetadata,
    ),
    (
        "GET",
        "/.well-known/oauth-protected-resource/mcp/{agentId}",
        Kind::McpAgentMetadata,
    ),
    (
        "GET",
        "/api/admin/integrations/{name}",
        Kind::GetIntegration,
    ),
    (
        "PUT",
        "/api/admin/integrations/{name}",
        Kind::PutIntegration,
    ),
    (
        "DELETE",
        "/api/admin/integrations/{name}",
        Kind::DeleteIntegration,
    ),
    (
        "POST",
        "/api/admin/integrations/{name}/test",
        Kind::TestIntegration,
    ),
    ("POST", "/voice/twilio/{agentId}", Kind::VoiceIncoming),
    ("GET", "/voice/twilio/{agentId}/relay", Kind::VoiceRelay),
    ("POST", "/voice/twilio/{agentId}/ended", Kind::VoiceEnded),
];

/// Every endpoint as (method, path template), the way the OpenAPI document lists them.
pub fn endpoints() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLE.iter().map(|(method, path, _)| (*method, *path))
}

/// Why no route matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMatch {
    /// Nothing lives at this path.
    NotFound,
    /// Something lives here, but not for this method.
    WrongMethod,
}

/// The path parameters of `segments` if they fit `template` (each `{name}` takes one
/// non-empty segment).
fn fit(template: &str, segments: &[&str]) -> Option<Vec<String>> {
    let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            if segment.is_empty() {
                return None;
            }
            params.push((*segment).to_owned());
        } else if part != segment {
            return None;
        }
    }
    Some(params)
}

/// The template of the endpoint `method` and `path` reach (for logs: no ids in it).
pub fn template(method: &str, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = if method == "HEAD" { "GET" } else { method };
    TABLE
        .iter()
        .find(|(m, template, _)| *m == method && fit(template, &segments).is_some())
        .map(|(_, template, _)| *template)
}

/// Finds the route for a method and path (no query string).
pub fn resolve(method: &str, path: &str) -> Result<Route, NoMatch> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // HEAD is answered like GET.
    let method = if method == "HEAD" { "GET" } else { method };
    let mut elsewhere: Option<Kind> = None;
    for (endpoint_method, template, kind) in TABLE {
        let Some(params) = fit(template, &segments) else {
            continue;
        };
        if *endpoint_method == method {
            return Ok(route(*kind, params));
        }
        elsewhere = elsewhere.or(Some(*kind));
    }
    match elsewhere {
        Some(kind) if method == "OPTIONS" && kind.is_widget() => Ok(Route::Preflight),
        Some(kind) if method == "OPTIONS" && kind.is_openai() => Ok(Route::OpenAiPreflight),
        Some(_) => Err(NoMatch::WrongMethod),
        None => Err(NoMatch::NotFound),
    }
}

/// The route of an endpoint, with its path parameters in template order.
fn route(kind: Kind, params: Vec<String>) -> Route {
    use KnowledgeRoute as K;
    use OperatorRoute as O;
    use TenantRoute as T;
    let mut params = params.into_iter();
    let mut next = || params.next().unwrap_or_default();
    match kind {
        Kind::Health => Route::Health,
        Kind::OpenApi => Route::OpenApi,
        Kind::Chat => Route::Widget(WidgetRoute::Chat { agent_id: next() }),
        Kind::Conversation => Route::Widget(WidgetRoute::Conversation {
            agent_id: next(),
            conversation_id: next(),
        }),
        Kind::Feedback => Route::Widget(WidgetRoute::Feedback {
            agent_id: next(),
            conversation_id: next(),
            message_id: next(),
        }),
        Kind::Visitor => Route::Widget(WidgetRoute::Visitor { agent_id: next() }),
        Kind::Config => Route::Widget(WidgetRoute::Config { agent_id: next() }),
        Kind::KeyConfig => Route::Widget(WidgetRoute::KeyConfig),
        Kind::ListTenants => Route::Operator(O::ListTenants),
        Kind::CreateTenant => Route::Operator(O::CreateTenant),
        Kind::GetTenant => Route::Operator(O::GetTenant(next())),
        Kind::UpdateTenant => Route::Operator(O::UpdateTenant(next())),
        Kind::Me => Route::Tenant(T::Me),
        Kind::UpdateMe => Route::Tenant(T::UpdateMe),
        Kind::EraseEndUser => Route::Tenant(T::EraseEndUser),
        Kind::ExportEndUser => Route::Tenant(T::ExportEndUser),
        Kind::ListAgents => Route::Tenant(T::ListAgents),
        Kind::CreateAgent => Route::Tenant(T::CreateAgent),
        Kind::GetAgent => Route::Tenant(T::GetAgent(next())),
        Kind::UpdateAgent => Route::Tenant(T::UpdateAgent(next())),
        Kind::DeleteAgent => Route::Tenant(T::DeleteAgent(next())),
        Kind::DuplicateAgent => Route::Tenant(T::DuplicateAgent(next())),
        Kind::TestTool => {
            let agent = next();
            Route::Tenant(T::TestTool(agent, next()))
        }
        Kind::TestMcpServer => Route::Tenant(T::TestMcpServer(next())),
        Kind::ListKeys => Route::Tenant(T::ListKeys),
        Kind::CreateKey => Route::Tenant(T::CreateKey),
        Kind::RevokeKey => Route::Tenant(T::RevokeKey(next())),
        Kind::RotateSecret => Route::Tenant(T::RotateSecret(next())),
        Kind::ListConversations => Route::Tenant(T::ListConversations),
        Kind::GetConversation => Route::Tenant(T::GetConversation(next())),
        Kind::DeleteConversation => Route::Tenant(T::DeleteConversation(next())),
        Kind::ListFeedback => Route::Tenant(T::ListFeedback),
        Kind::Usage => Route::Tenant(T::Usage),
        Kind::ListBases => Route::Knowledge(K::ListBases),
        Kind::CreateBase => Route::Knowledge(K::CreateBase),
        Kind::GetBase => Route::Knowledge(K::GetBase(next())),
        Kind::UpdateBase => Route::Knowledge(K::UpdateBase(next())),
        Kind::DeleteBase => Route::Knowledge(K::DeleteBase(next())),
        Kind::ListSources => Route::Knowledge(K::ListSources(next())),
        Kind::AddSource => Route::Knowledge(K::AddSource(next())),
        Kind::GetSource => {
            let base = next();
            Route::Knowledge(K::GetSource(base, next()))
        }
        Kind::DeleteSource => {
            let base = next();
            Route::Knowledge(K::DeleteSource(base, next()))
        }
        Kind::SyncSource => {
            let base = next();
            Route::Knowledge(K::SyncSource(base, next()))
        }
        Kind::SearchBase => Route::Knowledge(K::Search(next())),
        Kind::ChatCompletions => Route::OpenAi(OpenAiRoute::ChatCompletions),
        Kind::Models => Route::OpenAi(OpenAiRoute::Models),
        Kind::Model => Route::OpenAi(OpenAiRoute::Model(next())),
        Kind::McpTenant => Route::Mcp(McpRoute::Tenant),
        Kind::McpAgent => Route::Mcp(McpRoute::Agent(next())),
        Kind::McpMetadata => Route::Mcp(McpRoute::Metadata(None)),
        Kind::McpAgentMetadata => Route::Mcp(McpRoute::Metadata(Some(next()))),
        Kind::GetIntegration => Route::Tenant(T::GetIntegration(next())),
        Kind::PutIntegration => Route::Tenant(T::PutIntegration(next())),
        Kind::DeleteIntegration => Route::Tenant(T::DeleteIntegration(next())),
        Kind::TestIntegration => Route::Tenant(T::TestIntegration(next())),
        Kind::VoiceIncoming => Route::Voice(VoiceRoute::Incoming(next())),
        Kind::VoiceRelay => Route::Voice(VoiceRoute::Relay(next())),
        Kind::VoiceEnded => Route::Voice(VoiceRoute::Ended(next())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_name_the_template_not_the_ids() {
        assert_eq!(
            template("POST", "/api/agents/demo/chat"),
            Some("/api/agents/{agentId}/chat")
        );
        assert_eq!(
            template("POST", "/api/admin/integrations/otlp/test"),
            Some("/api/admin/integrations/{name}/test")
        );
        assert_eq!(template("HEAD", "/api/health"), Some("/api/health"));
        assert_eq!(template("GET", "/api/agents/demo/chat"), None);
        assert_eq!(template("GET", "/nowhere"), None);
    }

    #[test]
    fn resolves_the_widget_api() {
        assert_eq!(
            resolve("POST", "/api/agents/demo/chat"),
            Ok(Route::Widget(WidgetRoute::Chat {
                agent_id: "demo".into()
            }))
        );
        assert_eq!(
            resolve("GET", "/api/agents/demo/conversations/c1"),
            Ok(Route::Widget(WidgetRoute::Conversation {
                agent_id: "demo".into(),
                conversation_id: "c1".into()
            }))
        );
        assert_eq!(
            resolve("HEAD", "/api/agents/demo/config"),
            Ok(Route::Widget(WidgetRoute::Config {
                agent_id: "demo".into()
            }))
        );
        assert_eq!(
            resolve("OPTIONS", "/api/agents/demo/chat"),
            Ok(Route::Preflight)
        );
        assert_eq!(resolve("GET", "/api/health"), Ok(Route::Health));
        assert_eq!(
            resolve("GET", "/api/widget/config"),
            Ok(Route::Widget(WidgetRoute::KeyConfig))
        );
        assert_eq!(
            resolve("POST", "/api/agents/a/conversations/c/messages/m/feedback"),
            Ok(Route::Widget(WidgetRoute::Feedback {
                agent_id: "a".into(),
                conversation_id: "c".into(),
                message_id: "m".into()
            }))
        );
    }

    #[test]
    fn resolves_the_admin_api() {
        assert_eq!(
            resolve("PATCH", "/api/admin/tenants/t1"),
            Ok(Route::Operator(OperatorRoute::UpdateTenant("t1".into())))
        );
        assert_eq!(
            resolve("DELETE", "/api/admin/agents/a1"),
            Ok(Route::Tenant(TenantRoute::DeleteAgent("a1".into())))
        );
        assert_eq!(
            resolve("POST", "/api/admin/secrets/identity"),
            Ok(Route::Tenant(TenantRoute::RotateSecret("identity".into())))
        );
        assert_eq!(
            resolve("PUT", "/api/admin/agents"),
            Err(NoMatch::WrongMethod)
        );
        assert_eq!(resolve("GET", "/api/admin/nothing"), Err(NoMatch::NotFound));
        assert_eq!(
            resolve("PATCH", "/api/admin/tenant"),
            Ok(Route::Tenant(TenantRoute::UpdateMe))
        );
        assert_eq!(
            resolve("POST", "/api/admin/end-users/erase"),
            Ok(Route::Tenant(TenantRoute::EraseEndUser))
        );
        assert_eq!(
            resolve("GET", "/api/admin/end-users/export"),
            Ok(Route::Tenant(TenantRoute::ExportEndUser))
        );
        assert_eq!(
            resolve("GET", "/api/admin/end-users/erase"),
            Err(NoMatch::WrongMethod)
        );
        assert_eq!(
            resolve("POST", "/api/admin/knowledge-bases/kb_1/sources/src_2/sync"),
            Ok(Route::Knowledge(KnowledgeRoute::SyncSource(
                "kb_1".into(),
                "src_2".into()
            )))
        );
    }

    #[test]
    fn every_listed_endpoint_resolves() {
        for (method, template) in endpoints() {
            let path: String = template
                .split('/')
                .map(|s| if s.starts_with('{') { "x1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            assert!(resolve(method, &path).is_ok(), "{method} {template}");
        }
    }

    /// `openapi.json` (served to clients, fuzzed by schemathesis) describes exactly this table.
    #[test]
    fn the_openapi_document_describes_exactly_the_route_table() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../openapi.json")).expect("openapi.json is JSON");
        let methods = [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ];
        let mut documented: Vec<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .flat_map(|(path, item)| {
                methods
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(move |m| format!("{} {path}", m.to_uppercase()))
            })
            .collect();
        let mut table: Vec<String> = endpoints().map(|(m, p)| format!("{m} {p}")).collect();
        documented.sort();
        table.sort();
        let before = table.len();
        table.dedup();
        assert_eq!(
            table.len(),
            before,
            "the route table lists an endpoint twice"
        );
        assert_eq!(
            documented, table,
            "openapi.json and the route table disagree"
        );
    }

    #[test]
    fn widget_paths_answer_preflights_and_others_do_not() {
        assert_eq!(
            resolve(
                "OPTIONS",
                "/api/agents/a/conversations/c/messages/m/feedback"
            ),
            Ok(Route::Preflight)
        );
        assert_eq!(
            resolve("OPTIONS", "/api/widget/config"),
            Ok(Route::Preflight)
        );
        assert_eq!(
            resolve("OPTIONS", "/api/admin/agents"),
            Err(NoMatch::WrongMethod)
        );
        assert_eq!(resolve("OPTIONS", "/api/health"), Err(NoMatch::WrongMethod));
        assert_eq!(
            resolve("OPTIONS", "/api/agents/a/nothing"),
            Err(NoMatch::NotFound)
        );
        assert_eq!(
            resolve("GET", "/api/admin/keys/k1"),
            Err(NoMatch::WrongMethod)
        );
        assert_eq!(
            resolve("POST", "/api/admin/agents/a/tools/t/test/"),
            Ok(Route::Tenant(TenantRoute::TestTool("a".into(), "t".into())))
        );
    }

    #[test]
    fn resolves_the_openai_compatible_api() {
        assert_eq!(
            resolve("POST", "/v1/chat/completions"),
            Ok(Route::OpenAi(OpenAiRoute::ChatCompletions))
        );
        assert_eq!(
            resolve("GET", "/v1/models"),
            Ok(Route::OpenAi(OpenAiRoute::Models))
        );
        assert_eq!(
            resolve("GET", "/v1/models/agent:support"),
            Ok(Route::OpenAi(OpenAiRoute::Model("agent:support".into())))
        );
        assert_eq!(
            resolve("OPTIONS", "/v1/chat/completions"),
            Ok(Route::OpenAiPreflight)
        );
        assert_eq!(
            resolve("GET", "/v1/chat/completions"),
            Err(NoMatch::WrongMethod)
        );
        assert_eq!(resolve("POST", "/v1/completions"), Err(NoMatch::NotFound));
    }

    #[test]
    fn resolves_integrations_and_voice() {
        assert_eq!(
            resolve("PUT", "/api/admin/integrations/twilio"),
            Ok(Route::Tenant(TenantRoute::PutIntegration("twilio".into())))
        );
        assert_eq!(
            resolve("POST", "/voice/twilio/a1"),
            Ok(Route::Voice(VoiceRoute::Incoming("a1".into())))
        );
        assert_eq!(
            resolve("GET", "/voice/twilio/a1/relay"),
            Ok(Route::Voice(VoiceRoute::Relay("a1".into())))
        );
        assert_eq!(
            resolve("POST", "/voice/twilio/a1/ended"),
            Ok(Route::Voice(VoiceRoute::Ended("a1".into())))
        );
        assert_eq!(
            resolve("GET", "/voice/twilio/a1"),
            Err(NoMatch::WrongMethod)
        );
        assert_eq!(
            resolve("OPTIONS", "/voice/twilio/a1"),
            Err(NoMatch::WrongMethod)
        );
    }

    #[test]
    fn reports_wrong_method_and_unknown_paths() {
        assert_eq!(
            resolve("GET", "/api/agents/demo/chat"),
            Err(NoMatch::WrongMethod)
        );
        assert_eq!(resolve("POST", "/api/agents//chat"), Err(NoMatch::NotFound));
        assert_eq!(resolve("GET", "/api/nothing"), Err(NoMatch::NotFound));
        assert_eq!(resolve("POST", "/api/health"), Err(NoMatch::WrongMethod));
    }
}
