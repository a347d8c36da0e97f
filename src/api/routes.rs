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
}

/// Every endpoint as (method, path template), the way the OpenAPI document (`openapi.json`)
/// lists them; `tests/e2e/openapi.test.mjs` fails when the two drift apart.
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/api/health"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/agents/{agentId}/chat"),
    (
        "GET",
        "/api/agents/{agentId}/conversations/{conversationId}",
    ),
    (
        "POST",
        "/api/agents/{agentId}/conversations/{conversationId}/messages/{messageId}/feedback",
    ),
    ("POST", "/api/agents/{agentId}/visitor"),
    ("GET", "/api/agents/{agentId}/config"),
    ("GET", "/api/widget/config"),
    ("GET", "/api/admin/tenants"),
    ("POST", "/api/admin/tenants"),
    ("GET", "/api/admin/tenants/{tenantId}"),
    ("PATCH", "/api/admin/tenants/{tenantId}"),
    ("GET", "/api/admin/tenant"),
    ("GET", "/api/admin/agents"),
    ("POST", "/api/admin/agents"),
    ("GET", "/api/admin/agents/{agentId}"),
    ("PATCH", "/api/admin/agents/{agentId}"),
    ("DELETE", "/api/admin/agents/{agentId}"),
    ("POST", "/api/admin/agents/{agentId}/duplicate"),
    ("POST", "/api/admin/agents/{agentId}/tools/{toolName}/test"),
    ("GET", "/api/admin/keys"),
    ("POST", "/api/admin/keys"),
    ("DELETE", "/api/admin/keys/{keyId}"),
    ("POST", "/api/admin/secrets/{secret}"),
    ("GET", "/api/admin/conversations"),
    ("GET", "/api/admin/conversations/{conversationId}"),
    ("DELETE", "/api/admin/conversations/{conversationId}"),
    ("GET", "/api/admin/feedback"),
    ("GET", "/api/admin/usage"),
];

/// Why no route matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMatch {
    /// Nothing lives at this path.
    NotFound,
    /// Something lives here, but not for this method.
    WrongMethod,
}

/// Finds the route for a method and path (no query string).
pub fn resolve(method: &str, path: &str) -> Result<Route, NoMatch> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // HEAD is answered like GET.
    let method = if method == "HEAD" { "GET" } else { method };
    let owned = |s: &&str| (*s).to_owned();
    let route = match (segments.as_slice(), method) {
        (["api", "health"], "GET") => Route::Health,
        (["api", "health"], _) => return Err(NoMatch::WrongMethod),
        (["api", "openapi.json"], "GET") => Route::OpenApi,
        (["api", "openapi.json"], _) => return Err(NoMatch::WrongMethod),
        (["api", "widget", "config"], "GET") => Route::Widget(WidgetRoute::KeyConfig),
        (["api", "widget", "config"], "OPTIONS") => Route::Preflight,
        (["api", "widget", "config"], _) => return Err(NoMatch::WrongMethod),
        (["api", "agents", agent, rest @ ..], _) if !agent.is_empty() => {
            let agent_id = owned(agent);
            let widget = match (rest, method) {
                (["chat"], "POST") => WidgetRoute::Chat { agent_id },
                (["visitor"], "POST") => WidgetRoute::Visitor { agent_id },
                (["config"], "GET") => WidgetRoute::Config { agent_id },
                (["conversations", id], "GET") if !id.is_empty() => WidgetRoute::Conversation {
                    agent_id,
                    conversation_id: owned(id),
                },
                (["conversations", id, "messages", message, "feedback"], "POST")
                    if !id.is_empty() && !message.is_empty() =>
                {
                    WidgetRoute::Feedback {
                        agent_id,
                        conversation_id: owned(id),
                        message_id: owned(message),
                    }
                }
                (["conversations", id, "messages", message, "feedback"], "OPTIONS")
                    if !id.is_empty() && !message.is_empty() =>
                {
                    return Ok(Route::Preflight)
                }
                (["chat" | "visitor" | "config"], "OPTIONS") => return Ok(Route::Preflight),
                (["conversations", id], "OPTIONS") if !id.is_empty() => {
                    return Ok(Route::Preflight)
                }
                (["chat" | "visitor" | "config"], _) => return Err(NoMatch::WrongMethod),
                (["conversations", id], _) if !id.is_empty() => return Err(NoMatch::WrongMethod),
                _ => return Err(NoMatch::NotFound),
            };
            Route::Widget(widget)
        }
        (["api", "admin", rest @ ..], _) => admin(rest, method)?,
        _ => return Err(NoMatch::NotFound),
    };
    Ok(route)
}

fn admin(rest: &[&str], method: &str) -> Result<Route, NoMatch> {
    use OperatorRoute as O;
    use TenantRoute as T;
    let id = |s: &str| s.to_owned();
    let route = match (rest, method) {
        (["tenants"], "GET") => Route::Operator(O::ListTenants),
        (["tenants"], "POST") => Route::Operator(O::CreateTenant),
        (["tenants", t], "GET") if !t.is_empty() => Route::Operator(O::GetTenant(id(t))),
        (["tenants", t], "PATCH") if !t.is_empty() => Route::Operator(O::UpdateTenant(id(t))),
        (["tenant"], "GET") => Route::Tenant(T::Me),
        (["agents"], "GET") => Route::Tenant(T::ListAgents),
        (["agents"], "POST") => Route::Tenant(T::CreateAgent),
        (["agents", a], "GET") if !a.is_empty() => Route::Tenant(T::GetAgent(id(a))),
        (["agents", a], "PATCH") if !a.is_empty() => Route::Tenant(T::UpdateAgent(id(a))),
        (["agents", a], "DELETE") if !a.is_empty() => Route::Tenant(T::DeleteAgent(id(a))),
        (["agents", a, "duplicate"], "POST") if !a.is_empty() => {
            Route::Tenant(T::DuplicateAgent(id(a)))
        }
        (["agents", a, "tools", t, "test"], "POST") if !a.is_empty() && !t.is_empty() => {
            Route::Tenant(T::TestTool(id(a), id(t)))
        }
        (["keys"], "GET") => Route::Tenant(T::ListKeys),
        (["keys"], "POST") => Route::Tenant(T::CreateKey),
        (["keys", k], "DELETE") if !k.is_empty() => Route::Tenant(T::RevokeKey(id(k))),
        (["secrets", s], "POST") if !s.is_empty() => Route::Tenant(T::RotateSecret(id(s))),
        (["conversations"], "GET") => Route::Tenant(T::ListConversations),
        (["conversations", c], "GET") if !c.is_empty() => Route::Tenant(T::GetConversation(id(c))),
        (["conversations", c], "DELETE") if !c.is_empty() => {
            Route::Tenant(T::DeleteConversation(id(c)))
        }
        (["feedback"], "GET") => Route::Tenant(T::ListFeedback),
        (["usage"], "GET") => Route::Tenant(T::Usage),
        (
            ["tenants" | "tenant" | "agents" | "keys" | "conversations" | "usage" | "feedback"],
            _,
        )
        | (["tenants" | "agents" | "keys" | "secrets" | "conversations", _], _)
        | (["agents", _, "duplicate"], _)
        | (["agents", _, "tools", _, "test"], _) => return Err(NoMatch::WrongMethod),
        _ => return Err(NoMatch::NotFound),
    };
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn every_listed_endpoint_resolves() {
        for (method, template) in ENDPOINTS {
            let path: String = template
                .split('/')
                .map(|s| if s.starts_with('{') { "x1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            assert!(resolve(method, &path).is_ok(), "{method} {template}");
        }
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
