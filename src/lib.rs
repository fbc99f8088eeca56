//! mcpd: a tiny, single-threaded Model Context Protocol server over HTTP.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod builtin;
pub mod cli;
pub mod config;
pub mod event_loop;
#[cfg(fuzzing)]
pub mod fuzzing;
pub mod http;
pub mod lines;
pub mod log;
pub mod mcp;
pub mod server;
pub mod sse;
mod sys;
pub mod timer;
