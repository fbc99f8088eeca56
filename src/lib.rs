//! mcpd: a tiny, single-threaded Model Context Protocol server over HTTP, for constrained hosts.
//!
//! # Layout
//!
//! A sans-IO core under a thin I/O shell. Only [`event_loop`] (and the syscalls in `sys`) touch
//! sockets, pipes, processes, signals and the clock; everything else takes bytes and `now` and
//! returns bytes, actions and the next deadline, so every protocol rule is tested without a
//! socket.
//!
//! | layer | module | knows of |
//! | --- | --- | --- |
//! | I/O shell | [`event_loop`] | mio, sockets, child pipes, signals, the clock |
//! | connections | [`server`] | HTTP framing, routes, the DNS-rebinding guard, auth, timers |
//! | MCP transports | [`mcp`] | sessions, SSE streams, the stateless and HTTP+SSE eras, stdio |
//! | backends | [`builtin`], [`bridge`] | the [`mcp::Handler`] contract; the bridge's children through [`process::ProcessHost`] |
//! | building blocks | [`http`], [`sse`], [`timer`], [`lines`], [`id`], [`idmap`] | bytes and numbers only |
//! | settings | [`config`], [`cli`], [`log`], [`exec`] | |
//! | test support | [`testing`] | the [`mcp::Handler`] contract |
//!
//! Lower layers never name higher ones: [`http`] knows nothing of MCP.
//!
//! # Data flow
//!
//! Bytes read from a socket enter [`server::Server::handle_input`]; [`http::RequestReader`]
//! frames them into requests; the server routes each to a [`mcp::transport::Transport`]
//! method, which validates it for its era and hands it to the [`mcp::dispatch`] runtime, which
//! calls the [`mcp::Handler`]. The handler answers through a [`mcp::Context`] (now or later, with notifications and requests to the client in
//! between); the transport turns those commands into one JSON body or SSE events on exactly one
//! stream, and the server frames them onto the connection, bounded by the outbound cap. Every
//! deadline (request heads, keep-alive, heartbeats, session expiry, handler timers, child kill
//! grace) lives on one [`timer::TimerWheel`], whose next deadline is the poll timeout.
//!
//! # As a library
//!
//! Implement [`mcp::Handler`] and call [`event_loop::run`] with a [`config::Config`]; every
//! transport above serves it through one runtime, [`mcp::dispatch`]. A handler describes
//! itself in [`mcp::Handler::server_info`] and answers its own methods in
//! [`mcp::Handler::handle_request`]; the dispatcher answers `initialize` (version negotiation
//! included), `ping` and `server/discover`, allocates the ids of requests to the client and
//! the keys of timers ([`mcp::Outbox`]), and keeps a panic inside its request. Work from
//! outside a callback goes out in [`mcp::Handler::handle_wake`]. `examples/echo.rs` is a
//! complete server with one tool in under 100 lines (`cargo run --example echo -- --port
//! 8000`). Test a handler without sockets or real time with [`testing::Harness`], as
//! `tests/example_echo.rs` tests the example and the built-in server's tests test
//! [`builtin::Builtin`].
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod bridge;
pub mod builtin;
pub mod cli;
pub mod config;
pub mod event_loop;
pub mod exec;
#[cfg(any(test, fuzzing))]
pub mod fuzzing;
pub mod http;
pub mod id;
pub mod idmap;
pub mod lines;
pub mod log;
pub mod mcp;
pub mod process;
pub mod server;
pub mod sse;
mod sys;
pub mod testing;
pub mod timer;
mod units;

pub use sys::{cloexec_inherited, stop_with_parent};
