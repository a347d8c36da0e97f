//! Checks an agent config before it is saved, naming the first field that is wrong, and keeps
//! webhook header secrets out of what the management API returns.

use super::config::{AgentConfig, MAX_STEPS_CEILING};
use crate::auth::origin::validate_rule;
use crate::outbound::{check_header, Policy};

/// What a tenant's backend sees in place of a webhook header value.
pub const REDACTED: &str = "********";

/// A config field that cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// Path of the field, such as `limits.visitorPerMinute` or `tools.webhooks[0].url`.
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks a config for saving; `outbound` is the policy webhook URLs and headers must pass.
pub fn validate(config: &AgentConfig, outbound: &Policy) -> Result<(), Invalid> {
    if config.name.trim().is_empty() || config.name.chars().count() > 100 {
        return Err(invalid("name", "The name must have 1 to 100 characters."));
    }
    if config.system_prompt.chars().count() > 50_000 {
        return Err(invalid(
            "systemPrompt",
            "The system prompt may have at most 50,000 characters.",
        ));
    }
    if let Some((field, message)) = config.knowledge.problem() {
        return Err(invalid(field, message));
    }
    if config.model_chain().is_empty() {
        return Err(invalid(
            "model",
            "Choose a model, such as openai/gpt-4o-mini.",
        ));
    }
    if config
        .temperature
        .is_some_and(|t| !(0.0..=2.0).contains(&t))
    {
        return Err(invalid(
            "temperature",
            "The temperature must be between 0 and 2.",
        ));
    }
    if !(1..=MAX_STEPS_CEILING).contains(&config.max_steps) {
        return Err(invalid(
            "maxSteps",
            format!("maxSteps must be between 1 and {MAX_STEPS_CEILING}."),
        ));
    }
    for (i, origin) in config.allowed_origins.iter().enumerate() {
        validate_rule(origin)
            .map_err(|e| invalid(format!("allowedOrigins[{i}]"), e.to_string()))?;
    }
    let limits = &config.limits;
    for (field, value, max) in [
        ("limits.visitorPerMinute", limits.visitor_per_minute, 6_000),
        ("limits.ipPerMinute", limits.ip_per_minute, 6_000),
        ("limits.tenantPerMinute", limits.tenant_per_minute, 100_000),
        ("limits.maxMessageChars", limits.max_message_chars, 32_000),
        (
            "limits.maxMessagesPerConversation",
            limits.max_messages_per_conversation,
            10_000,
        ),
    ] {
        if !(1..=max).contains(&value) {
            return Err(invalid(
                field,
                format!("{field} must be between 1 and {max}."),
            ));
        }
    }
    if limits
        .monthly_spend_cap
        .is_some_and(|cap| !(cap >= 0.0 && cap.is_finite()))
    {
        return Err(invalid(
            "limits.monthlySpendCap",
            "The spend cap must be a number of 0 or more.",
        ));
    }
    super::phone::validate(&config.phone).map_err(|(field, message)| invalid(field, message))?;
    if let Some(color) = &config.branding.primary_color {
        if !is_css_color(color) {
            return Err(invalid(
                "branding.primaryColor",
                "The primary colour must be a CSS colour, such as #4f46e5, rgb(79 70 229) or teal.",
            ));
        }
    }
    let mut names = std::collections::HashSet::new();
    for (i, tool) in config.tools.webhooks.iter().enumerate() {
        let field = |name: &str| format!("tools.webhooks[{i}].{name}");
        if !is_name(&tool.name, 64) {
            return Err(invalid(
                field("name"),
                "Tool names have 1-64 letters, digits, '_' or '-'.",
            ));
        }
        if !names.insert(tool.name.as_str()) || config.tools.builtin.contains(&tool.name) {
            return Err(invalid(
                field("name"),
                format!("Two tools are named {}.", tool.name),
            ));
        }
        if tool.name == crate::app::knowledge::tool::NAME && config.knowledge.searched_by_tool() {
            return Err(invalid(
                field("name"),
                "search_knowledge is the agent's knowledge search: choose another name.",
            ));
        }
        outbound
            .check(tool.url.trim())
            .map_err(|e| invalid(field("url"), e.0))?;
        for (name, value) in &tool.headers {
            check_header(name, value).map_err(|e| invalid(field("headers"), e))?;
        }
        if !matches!(
            tool.method.to_ascii_uppercase().as_str(),
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
        ) {
            return Err(invalid(
                field("method"),
                "The method must be GET, POST, PUT, PATCH or DELETE.",
            ));
        }
        if !tool.parameters.is_object() {
            return Err(invalid(
                field("parameters"),
                "Parameters must be a JSON schema object.",
            ));
        }
    }
    validate_mcp_servers(config, outbound)
}

/// Whether `name` is 1 to `max` letters, digits, `_` or `-` (what model providers accept in a
/// tool name).
fn is_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Most MCP servers one agent may use.
pub const MAX_MCP_SERVERS: usize = 8;

fn validate_mcp_servers(config: &AgentConfig, outbound: &Policy) -> Result<(), Invalid> {
    if config.mcp_servers.len() > MAX_MCP_SERVERS {
        return Err(invalid(
            "mcpServers",
            format!("An agent may use at most {MAX_MCP_SERVERS} MCP servers."),
        ));
    }
    let mut names = std::collections::HashSet::new();
    for (i, server) in config.mcp_servers.iter().enumerate() {
        let field = |name: &str| format!("mcpServers[{i}].{name}");
        if !is_name(&server.name, 32) {
            return Err(invalid(
                field("name"),
                "MCP server names have 1-32 letters, digits, '_' or '-'.",
            ));
        }
        if !names.insert(server.name.as_str()) {
            return Err(invalid(
                field("name"),
                format!("Two MCP servers are named {}.", server.name),
            ));
        }
        outbound
            .check(server.url.trim())
            .map_err(|e| invalid(field("url"), e.0))?;
        for (name, value) in &server.headers {
            check_header(name, value).map_err(|e| invalid(field("headers"), e))?;
        }
        if let Some(tools) = &server.allowed_tools {
            if tools.len() > 256 || tools.iter().any(|t| t.trim().is_empty() || t.len() > 128) {
                return Err(invalid(
                    field("allowedTools"),
                    "allowedTools lists at most 256 tool names of 1-128 characters.",
                ));
            }
        }
        if server
            .timeout_ms
            .is_some_and(|ms| !(1..=crate::tools::mcp::MAX_TIMEOUT_MS).contains(&ms))
        {
            return Err(invalid(
                field("timeoutMs"),
                format!(
                    "timeoutMs must be between 1 and {}.",
                    crate::tools::mcp::MAX_TIMEOUT_MS
                ),
            ));
        }
    }
    Ok(())
}

/// CSS named colours (CSS Color 4), so a name like `teal` passes and `green-ish` does not;
/// one string, as a long array would be one line per name.
const NAMED_COLORS: &str =
    "aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue \
     blueviolet brown burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk \
     crimson cyan darkblue darkcyan darkgoldenrod darkgray darkgreen darkgrey darkkhaki \
     darkmagenta darkolivegreen darkorange darkorchid darkred darksalmon darkseagreen \
     darkslateblue darkslategray darkslategrey darkturquoise darkviolet deeppink deepskyblue \
     dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia gainsboro \
     ghostwhite gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo \
     ivory khaki lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan \
     lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen \
     lightskyblue lightslategray lightslategrey lightsteelblue lightyellow lime limegreen \
     linen magenta maroon mediumaquamarine mediumblue mediumorchid mediumpurple \
     mediumseagreen mediumslateblue mediumspringgreen mediumturquoise mediumvioletred \
     midnightblue mintcream mistyrose moccasin navajowhite navy oldlace olive olivedrab \
     orange orangered orchid palegoldenrod palegreen paleturquoise palevioletred papayawhip \
     peachpuff peru pink plum powderblue purple rebeccapurple red rosybrown royalblue \
     saddlebrown salmon sandybrown seagreen seashell sienna silver skyblue slateblue \
     slategray slategrey snow springgreen steelblue tan teal thistle tomato turquoise violet \
     wheat white whitesmoke yellow yellowgreen";

/// Whether `text` is a CSS colour the widget can use: `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`,
/// a named colour, or `rgb()`, `hsl()`, `hwb()`, `lab()`, `lch()`, `oklab()`, `oklch()` with
/// numeric arguments. The widget draws with it (and picks a readable text colour from it), so a
/// typo is refused here rather than silently falling back to the default colour.
pub fn is_css_color(text: &str) -> bool {
    let text = text.trim().to_ascii_lowercase();
    if let Some(hex) = text.strip_prefix('#') {
        return matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    if NAMED_COLORS
        .split_ascii_whitespace()
        .any(|name| name == text)
    {
        return true;
    }
    let Some((name, rest)) = text.split_once('(') else {
        return false;
    };
    let Some(args) = rest.strip_suffix(')') else {
        return false;
    };
    matches!(
        name,
        "rgb" | "rgba" | "hsl" | "hsla" | "hwb" | "lab" | "lch" | "oklab" | "oklch"
    ) && !args.trim().is_empty()
        && args.chars().any(|c| c.is_ascii_digit())
        && args
            .chars()
            .all(|c| c.is_ascii_digit() || " .,%/+-degradturn".contains(c))
}

/// The config with every webhook and MCP server header value replaced by `REDACTED`.
pub fn redacted(config: &AgentConfig) -> AgentConfig {
    let mut config = config.clone();
    let webhooks = config.tools.webhooks.iter_mut().map(|t| &mut t.headers);
    let servers = config.mcp_servers.iter_mut().map(|s| &mut s.headers);
    for headers in webhooks.chain(servers) {
        for value in headers.values_mut() {
            *value = REDACTED.to_owned();
        }
    }
    config
}

/// Puts back the stored value of every header the client sent as `REDACTED` (it was shown
/// redacted (it was shown redacted and left unchanged), matching webhook tools and MCP servers
/// by name.
pub fn keep_secrets(new: &mut AgentConfig, old: &AgentConfig) {
    for tool in &mut new.tools.webhooks {
        let previous = old.tools.webhooks.iter().find(|t| t.name == tool.name);
        restore(&mut tool.headers, previous.map(|p| &p.headers));
    }
    for server in &mut new.mcp_servers {
        let previous = old.mcp_servers.iter().find(|s| s.name == server.name);
        restore(&mut server.headers, previous.map(|p| &p.headers));
    }
}

fn restore(
    headers: &mut std::collections::BTreeMap<String, String>,
    stored: Option<&std::collections::BTreeMap<String, String>>,
) {
    headers.retain(|name, value| {
        if value != REDACTED {
            return true;
        }
        match stored.and_then(|s| s.get(name)) {
            Some(stored) => {
                value.clone_from(stored);
                true
            }
            None => false,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::config::WebhookTool;

    fn with_hook(url: &str, secret: &str) -> AgentConfig {
        let mut config = AgentConfig::default();
        config.tools.webhooks.push(WebhookTool {
            name: "lookup".into(),
            description: String::new(),
            parameters: serde_json::json!({"type": "object"}),
            url: url.into(),
            method: "POST".into(),
            headers: [("x-api-key".to_owned(), secret.to_owned())].into(),
            timeout_ms: None,
        });
        config
    }

    #[test]
    fn refuses_a_primary_colour_that_is_not_css() {
        for ok in [
            "#4f46e5",
            "#FFF",
            "#0f766e80",
            "teal",
            "rgb(79 70 229)",
            "hsl(200deg, 50%, 40%)",
            "oklch(0.6 0.2 270 / 50%)",
        ] {
            assert!(is_css_color(ok), "{ok}");
        }
        for bad in [
            "green-ish",
            "greenish",
            "#12",
            "#ggg",
            "rgb()",
            "url(x)",
            "rgb(1 2 3); x: y",
            "expression(alert(1))",
            "",
        ] {
            assert!(!is_css_color(bad), "{bad}");
        }
        let mut config = AgentConfig::default();
        config.branding.primary_color = Some("green-ish".into());
        assert_eq!(
            validate(&config, &Policy::default()).map_err(|e| e.field),
            Err("branding.primaryColor".into())
        );
    }

    #[test]
    fn names_the_wrong_field() {
        assert_eq!(
            validate(&AgentConfig::default(), &Policy::default()),
            Ok(())
        );
        let config = AgentConfig {
            allowed_origins: vec!["https://ok.example".into(), "nope".into()],
            ..AgentConfig::default()
        };
        assert_eq!(
            validate(&config, &Policy::default()).map_err(|e| e.field),
            Err("allowedOrigins[1]".into())
        );
        let mut config = AgentConfig::default();
        config.limits.visitor_per_minute = 0;
        assert_eq!(
            validate(&config, &Policy::default()).map_err(|e| e.field),
            Err("limits.visitorPerMinute".into())
        );
        config = AgentConfig {
            max_steps: 50,
            ..AgentConfig::default()
        };
        assert_eq!(
            validate(&config, &Policy::default()).map_err(|e| e.field),
            Err("maxSteps".into())
        );
        let config = with_hook("ftp://x.example", "s");
        assert_eq!(
            validate(&config, &Policy::default()).map_err(|e| e.field),
            Err("tools.webhooks[0].url".into())
        );
    }

    #[test]
    fn tool_mode_is_accepted_and_keeps_the_search_tools_name_to_itself() {
        let mut config = with_hook("https://crm.example/x", "s");
        config.knowledge.bases = vec!["kb_help".into()];
        config.knowledge.mode = crate::knowledge::KnowledgeMode::Tool;
        assert_eq!(validate(&config, &Policy::default()), Ok(()));
        config.tools.webhooks[0].name = "search_knowledge".into();
        assert_eq!(
            validate(&config, &Policy::default()).map_err(|e| e.field),
            Err("tools.webhooks[0].name".into())
        );
        config.knowledge.mode = crate::knowledge::KnowledgeMode::Auto;
        assert_eq!(validate(&config, &Policy::default()), Ok(()));
    }

    fn with_server(url: &str, secret: &str) -> AgentConfig {
        let mut config = AgentConfig::default();
        config.mcp_servers.push(crate::agent::config::McpServer {
            name: "docs".into(),
            url: url.into(),
            headers: [("authorization".to_owned(), secret.to_owned())].into(),
            allowed_tools: None,
            timeout_ms: None,
        });
        config
    }

    #[test]
    fn mcp_servers_are_checked_like_webhooks() {
        let policy = Policy::default();
        assert_eq!(
            validate(
                &with_server("https://mcp.example.com/mcp", "Bearer x"),
                &policy
            ),
            Ok(())
        );
        let field = |config: &AgentConfig| validate(config, &policy).map_err(|e| e.field);
        assert_eq!(
            field(&with_server("http://127.0.0.1:9/mcp", "x")),
            Err("mcpServers[0].url".into())
        );
        let mut bad_name = with_server("https://mcp.example.com/mcp", "x");
        bad_name.mcp_servers[0].name = "has space".into();
        assert_eq!(field(&bad_name), Err("mcpServers[0].name".into()));
        let mut twice = with_server("https://mcp.example.com/mcp", "x");
        twice.mcp_servers.push(twice.mcp_servers[0].clone());
        assert_eq!(field(&twice), Err("mcpServers[1].name".into()));
        let mut header = with_server("https://mcp.example.com/mcp", "x");
        header.mcp_servers[0]
            .headers
            .insert("host".into(), "evil".into());
        assert_eq!(field(&header), Err("mcpServers[0].headers".into()));
        let mut slow = with_server("https://mcp.example.com/mcp", "x");
        slow.mcp_servers[0].timeout_ms = Some(600_000);
        assert_eq!(field(&slow), Err("mcpServers[0].timeoutMs".into()));
        let mut many = AgentConfig::default();
        for i in 0..=MAX_MCP_SERVERS {
            let mut one = with_server("https://mcp.example.com/mcp", "x").mcp_servers[0].clone();
            one.name = format!("s{i}");
            many.mcp_servers.push(one);
        }
        assert_eq!(field(&many), Err("mcpServers".into()));
    }

    #[test]
    fn mcp_header_secrets_are_redacted_and_kept() {
        let stored = with_server("https://mcp.example.com/mcp", "Bearer mcp-secret");
        let shown = redacted(&stored);
        assert!(!serde_json::to_string(&shown)
            .unwrap_or_default()
            .contains("mcp-secret"));
        let mut edited = shown.clone();
        keep_secrets(&mut edited, &stored);
        assert_eq!(edited, stored);
    }

    #[test]
    fn header_secrets_are_redacted_and_kept() {
        let stored = with_hook("https://hooks.example.com/x", "hook-secret");
        let shown = redacted(&stored);
        assert!(!serde_json::to_string(&shown)
            .unwrap_or_default()
            .contains("hook-secret"));
        let mut edited = shown.clone();
        edited.tools.webhooks[0]
            .headers
            .insert("x-other".into(), REDACTED.into());
        keep_secrets(&mut edited, &stored);
        assert_eq!(
            edited.tools.webhooks[0]
                .headers
                .get("x-api-key")
                .map(String::as_str),
            Some("hook-secret")
        );
        assert!(!edited.tools.webhooks[0].headers.contains_key("x-other"));
    }
}
