//! mcpd: a tiny, single-threaded Model Context Protocol server over HTTP, for constrained hosts.
//!
//! # As a library
//!
//! Implement [`mcp::Handler`] and call [`event_loop::run`] (or [`event_loop::serve`] on a bound
//! listener, [`event_loop::run_stdio`] for the stdio transport) with a [`config::Config`]:
//! every transport below serves it through one runtime. A handler describes itself in
//! [`mcp::Handler::server_info`] and answers its own methods in
//! [`mcp::Handler::handle_request`]; mcpd answers `initialize` (version negotiation included),
//! `ping` and `server/discover`, allocates the ids of requests to the client and the keys of
//! timers ([`mcp::Outbox`]), and keeps a panic inside its request. Work from outside a callback
//! goes out in [`mcp::Handler::handle_wake`]; a backend with child processes hands them to the
//! loop through [`process::ProcessHost`]. `examples/echo.rs` is a complete server with one tool
//! in under 100 lines (`cargo run --example echo -- --port 8000`). Test a handler without
//! sockets or real time with [`testing::Harness`], as `tests/example_echo.rs` tests the example
//! and the built-in server's tests test [`builtin::Builtin`]. [`main`] is the `mcpd` command
//! itself, and [`bridge::Bridge`] the stdio bridge it serves with `mcpd -- COMMAND`.
//!
//! # Layout
//!
//! A sans-IO core under a thin I/O shell. Only `event_loop` (and the syscalls in `sys`) touch
//! sockets, pipes, processes, signals and the clock; everything else takes bytes and `now` and
//! returns bytes, actions and the next deadline, so every protocol rule is tested without a
//! socket. Three layers pass values upwards and actions back:
//!
//! | layer | module | owns |
//! | --- | --- | --- |
//! | I/O shell | `event_loop` | mio, sockets, child pipes, signals, the clock |
//! | 1. connections | `server` | HTTP/1.1 connections: framing, one `Route` per request, the Host/Origin guard, auth, `/health` and `/metrics`, keep-alive and head timers, the outbound bound |
//! | 2. transports | `mcp::transport`, `mcp::error` | Streamable HTTP sessions and their SSE streams, the stateless 2026-07-28 era, 2024-11-05 HTTP+SSE, stdio; which connection carries which stream; every refusal's status and JSON-RPC error (`mcp::error` fills the connection layer's reply) |
//! | 3. dispatcher | `mcp::dispatch` | the one handler runtime: requests in flight and their caps, outgoing ids, handler timers, panic isolation, `initialize`/`ping`/`server/discover` |
//! | backends | [`builtin`], [`bridge`] | the [`mcp::Handler`] contract; the bridge's children through [`process::ProcessHost`] |
//! | building blocks | `http`, `sse`, `timer`, `lines`, `id`, `idmap`, `mcp::jsonrpc` | bytes and numbers only |
//! | settings | [`config`], `cli`, `log`, `exec` | |
//!
//! Lower layers never name higher ones: `http` knows nothing of MCP, a transport knows no
//! socket, the dispatcher knows no transport's wire form.
//!
//! # Data flow
//!
//! Bytes read from a socket enter the connection layer, whose request reader frames them into
//! requests; each is routed once to a transport method, which validates it for its era and
//! hands it to the dispatcher, which calls the handler. The handler answers through a
//! [`mcp::Context`] (now or later, with notifications and requests to the client in between);
//! the transport turns those commands into one JSON body or SSE events on exactly one stream,
//! and the connection frames them onto the socket, bounded by the outbound cap. Every deadline
//! (request heads, keep-alive, heartbeats, session expiry, handler timers, child kill grace)
//! lives on one timer wheel, whose next deadline is the poll timeout.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod app;
pub mod bridge;
pub mod builtin;
mod cli;
pub mod config;
pub mod event_loop;
mod exec;
#[cfg(any(test, fuzzing))]
pub mod fuzzing;
mod http;
mod id;
mod idmap;
mod lines;
mod log;
pub mod mcp;
pub mod process;
mod server;
mod sse;
mod sys;
pub mod testing;
mod timer;
mod units;

pub use app::main;
