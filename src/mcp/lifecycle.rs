//! Who a server is ([`ServerInfo`]) and the answers every MCP server gives the same way from
//! it: `initialize` (with version negotiation) and `server/discover`. A handler returns its
//! [`ServerInfo`] from [`super::Handler::server_info`]; the dispatcher answers the lifecycle
//! requests from it (`ping` needs nothing), so a handler does not re-implement them. The
//! transports already refuse what an era does not allow (`initialize` and `ping` in a
//! stateless request, `server/discover` in a session), and add `resultType` and the caching
//! hints of 2026 results.

use super::jsonrpc::{ErrorObject, INVALID_PARAMS};
use super::version;
use serde_json::{json, Value};

/// Who the server is and what it offers, as `initialize` and `server/discover` report it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerInfo {
    /// `serverInfo.name`.
    pub name: String,
    /// `serverInfo.title`, a display name; left out when `None`.
    pub title: Option<String>,
    /// `serverInfo.version`.
    pub version: String,
    /// The server capabilities object, e.g. `{"tools": {}}`.
    pub capabilities: Value,
    /// Advice for the model on how to use the server; left out when `None`.
    pub instructions: Option<String>,
}

impl ServerInfo {
    /// A server named `name` at `version` offering `capabilities`.
    pub fn new(name: &str, version: &str, capabilities: Value) -> ServerInfo {
        ServerInfo {
            name: name.to_string(),
            title: None,
            version: version.to_string(),
            capabilities,
            instructions: None,
        }
    }

    /// The `initialize` result (MCP lifecycle, "Initialization"): the requested revision when
    /// we speak it, else our latest (`version::negotiate`); -32602 without a
    /// `protocolVersion` string. Under `--eras` the transport replaces a revision it does not
    /// offer with the one it negotiated.
    pub fn initialize(&self, params: Option<&Value>) -> Result<Value, ErrorObject> {
        let requested = params
            .and_then(|p| p.get("protocolVersion"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ErrorObject::new(INVALID_PARAMS, "params.protocolVersion must be a string")
            })?;
        let mut server = json!({"name": self.name, "version": self.version});
        if let Some(title) = &self.title {
            server["title"] = json!(title);
        }
        let mut result = json!({
            "protocolVersion": version::negotiate(Some(requested)),
            "capabilities": self.capabilities,
            "serverInfo": server,
        });
        if let Some(instructions) = &self.instructions {
            result["instructions"] = json!(instructions);
        }
        Ok(result)
    }

    /// The `server/discover` result (MCP 2026-07-28 versioning, "Discovery"), naming the
    /// server in `_meta` as every 2026 result may.
    pub fn discover(&self) -> Value {
        let mut result = json!({
            "supportedVersions": version::MODERN_SUPPORTED,
            "capabilities": self.capabilities,
            "_meta": {"io.modelcontextprotocol/serverInfo": {
                "name": self.name,
                "version": self.version,
            }},
        });
        if let Some(instructions) = &self.instructions {
            result["instructions"] = json!(instructions);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ServerInfo {
        ServerInfo::new("demo", "1.2.3", json!({"tools": {}}))
    }

    #[test]
    fn initialize_negotiates_and_describes_the_server() {
        let got = info().initialize(Some(&json!({"protocolVersion": "2025-06-18"})));
        assert_eq!(
            got,
            Ok(
                json!({"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                "serverInfo": {"name": "demo", "version": "1.2.3"}})
            )
        );
        let mut titled = info();
        titled.title = Some("Demo".into());
        titled.instructions = Some("Say hi.".into());
        let got = titled
            .initialize(Some(&json!({"protocolVersion": "1999-01-01"})))
            .unwrap();
        assert_eq!(got["protocolVersion"], version::LATEST_LEGACY);
        assert_eq!(got["serverInfo"]["title"], "Demo");
        assert_eq!(got["instructions"], "Say hi.");
        assert_eq!(info().initialize(None).unwrap_err().code, INVALID_PARAMS);
    }

    #[test]
    fn discover_lists_the_modern_revision_and_names_the_server() {
        let discovered = info().discover();
        assert_eq!(discovered["supportedVersions"], json!([version::MODERN]));
        assert_eq!(
            discovered["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "demo"
        );
    }
}
