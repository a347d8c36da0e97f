//! The route table: which endpoint a method and path reach.

/// An endpoint of the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
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
    /// `GET /api/health`
    Health,
}

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
    let (route, allowed) = match segments.as_slice() {
        ["api", "health"] => (Route::Health, "GET"),
        ["api", "agents", agent, "chat"] if !agent.is_empty() => (
            Route::Chat {
                agent_id: (*agent).to_owned(),
            },
            "POST",
        ),
        ["api", "agents", agent, "conversations", id] if !agent.is_empty() && !id.is_empty() => (
            Route::Conversation {
                agent_id: (*agent).to_owned(),
                conversation_id: (*id).to_owned(),
            },
            "GET",
        ),
        _ => return Err(NoMatch::NotFound),
    };
    match method {
        m if m == allowed || (allowed == "GET" && m == "HEAD") => Ok(route),
        _ => Err(NoMatch::WrongMethod),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_the_chat_api() {
        assert_eq!(
            resolve("POST", "/api/agents/demo/chat"),
            Ok(Route::Chat {
                agent_id: "demo".into()
            })
        );
        assert_eq!(
            resolve("GET", "/api/agents/demo/conversations/c1"),
            Ok(Route::Conversation {
                agent_id: "demo".into(),
                conversation_id: "c1".into()
            })
        );
        assert_eq!(resolve("GET", "/api/health"), Ok(Route::Health));
    }

    #[test]
    fn reports_wrong_method_and_unknown_paths() {
        assert_eq!(
            resolve("GET", "/api/agents/demo/chat"),
            Err(NoMatch::WrongMethod)
        );
        assert_eq!(resolve("POST", "/api/agents//chat"), Err(NoMatch::NotFound));
        assert_eq!(resolve("GET", "/api/nothing"), Err(NoMatch::NotFound));
    }
}
