//! A small MCP server on mcpd's event loop with one tool, `echo`, which returns its `message`.
//!
//! Run `cargo run --example echo -- --port 8000` and point an MCP client at
//! `http://127.0.0.1:8000/mcp` (Streamable HTTP; the HTTP+SSE and stateless eras come free).
//! The transport answers `initialize` (version negotiation included), `ping` and
//! `server/discover` from [`Handler::server_info`]; the handler answers the rest.
//! `tests/example_echo.rs` includes this file and drives [`Echo`] both through
//! `mcpd::testing::Harness` and over loopback.

use mcpd::config::Config;
use mcpd::mcp::{
    Context, ErrorObject, Handler, Params, RequestHandle, ServerInfo, INVALID_PARAMS,
    METHOD_NOT_FOUND,
};
use serde_json::{json, Value};

/// The echo server; it keeps no state per session.
pub struct Echo;

impl Handler for Echo {
    fn server_info(&self) -> ServerInfo {
        ServerInfo::new("echo", "1.0.0", json!({"tools": {}}))
    }

    fn handle_request(
        &mut self,
        ctx: &mut Context<'_>,
        request: RequestHandle,
        method: &str,
        params: Option<Params>,
    ) {
        let outcome = match method {
            "tools/list" => Ok(json!({"tools": [{
                "name": "echo",
                "description": "Returns its message.",
                "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}},
                    "required": ["message"]},
            }]})),
            "tools/call" => call(params.as_ref()),
            _ => Err(ErrorObject::new(
                METHOD_NOT_FOUND,
                format!("Method not found: {method}"),
            )),
        };
        ctx.respond(request, outcome);
    }
}

/// `tools/call`: an unknown tool is a protocol error, a bad argument a tool error the model sees.
/// The members are read from the params text; `&**params` would be the whole `Value`.
fn call(params: Option<&Params>) -> Result<Value, ErrorObject> {
    let result =
        |text: &str, error| json!({"content": [{"type": "text", "text": text}], "isError": error});
    let name = params.and_then(|p| p.get_str(&["name"]));
    let message = params.and_then(|p| p.get_str(&["arguments", "message"]));
    match (name.as_deref(), message) {
        (Some("echo"), Some(message)) => Ok(result(&message, false)),
        (Some("echo"), None) => Ok(result("arguments.message must be a string", true)),
        _ => Err(ErrorObject::new(
            INVALID_PARAMS,
            format!("Unknown tool: {}", name.as_deref().unwrap_or("(none)")),
        )),
    }
}

/// `echo [--port N]`: serves on 127.0.0.1 (port 8000 by default; 0 picks a free one) until
/// SIGTERM or SIGINT.
fn main() -> std::io::Result<()> {
    let port = std::env::args().skip_while(|a| a != "--port").nth(1);
    let Ok(port) = port.as_deref().unwrap_or("8000").parse() else {
        return Err(std::io::Error::other("usage: echo [--port N]"));
    };
    let config = Config {
        port,
        ..Config::default()
    };
    mcpd::event_loop::run(config, Echo)
}
