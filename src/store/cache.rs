//! A per-isolate cache of agents, so a chat turn usually costs no store round trip for config.

use std::collections::HashMap;

use super::{Agent, ApiKey, TenantStatus};

/// How long a cached agent is trusted, in milliseconds.
pub const AGENT_TTL_MS: i64 = 30_000;
/// Most agents kept; the cache is cleared when full (isolates are short-lived anyway).
pub const MAX_AGENTS: usize = 1_000;

/// Agents by id, each with the time it expires.
#[derive(Debug, Default)]
pub struct AgentCache {
    entries: HashMap<String, (Agent, i64)>,
}

impl AgentCache {
    /// The cached agent, unless it expired by `now_ms`.
    pub fn get(&self, agent_id: &str, now_ms: i64) -> Option<Agent> {
        self.entries
            .get(agent_id)
            .filter(|(_, expires)| *expires > now_ms)
            .map(|(agent, _)| agent.clone())
    }

    /// Forgets an agent, so the next load reads the store (after an admin change).
    pub fn forget(&mut self, agent_id: &str) {
        self.entries.remove(agent_id);
    }

    /// Remembers an agent until `now_ms + AGENT_TTL_MS`.
    pub fn put(&mut self, agent: Agent, now_ms: i64) {
        if self.entries.len() >= MAX_AGENTS {
            self.entries.clear();
        }
        self.entries
            .insert(agent.id.clone(), (agent, now_ms + AGENT_TTL_MS));
    }
}

/// Key rows by lookup value (also lookups that found none), each with the time it expires:
/// an API call usually costs no store round trip to authenticate. Revoking a key or changing
/// a tenant's standing clears it in this isolate; other isolates trust their entry for at
/// most `AGENT_TTL_MS`, as they do cached agents and their publishable keys.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: HashMap<String, (Vec<(ApiKey, TenantStatus)>, i64)>,
}

impl KeyCache {
    /// The cached rows of `lookup`, unless they expired by `now_ms`.
    pub fn get(&self, lookup: &str, now_ms: i64) -> Option<Vec<(ApiKey, TenantStatus)>> {
        self.entries
            .get(lookup)
            .filter(|(_, expires)| *expires > now_ms)
            .map(|(rows, _)| rows.clone())
    }

    /// Remembers the rows of `lookup` until `now_ms + AGENT_TTL_MS`.
    pub fn put(&mut self, lookup: &str, rows: Vec<(ApiKey, TenantStatus)>, now_ms: i64) {
        if self.entries.len() >= MAX_AGENTS {
            self.entries.clear();
        }
        self.entries
            .insert(lookup.to_owned(), (rows, now_ms + AGENT_TTL_MS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentConfig;

    fn agent(id: &str) -> Agent {
        Agent {
            id: id.into(),
            tenant_id: "t".into(),
            config: AgentConfig::default(),
            enabled: true,
            tenant_active: true,
            ..Agent::default()
        }
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let mut cache = AgentCache::default();
        cache.put(agent("a"), 1_000);
        assert!(cache.get("a", 1_000 + AGENT_TTL_MS - 1).is_some());
        assert!(cache.get("a", 1_000 + AGENT_TTL_MS).is_none());
        assert!(cache.get("b", 1_000).is_none());
    }

    #[test]
    fn key_lookups_expire_after_the_ttl_and_remember_misses() {
        let mut cache = KeyCache::default();
        cache.put("ak_live_12345678", Vec::new(), 1_000);
        assert_eq!(cache.get("ak_live_12345678", 1_001), Some(Vec::new()));
        assert_eq!(cache.get("ak_live_12345678", 1_000 + AGENT_TTL_MS), None);
        assert_eq!(cache.get("other", 1_001), None);
    }

    #[test]
    fn overflow_clears_entries() {
        let mut cache = AgentCache::default();
        for i in 0..=MAX_AGENTS {
            cache.put(agent(&format!("a{i}")), 0);
        }
        assert!(cache.entries.len() <= MAX_AGENTS);
        assert!(cache.get(&format!("a{MAX_AGENTS}"), 1).is_some());
    }
}
