//! The Model Context Protocol layer: JSON-RPC messages, revisions, the handler contract.

pub mod dispatch;
pub mod error;
pub mod handler;
pub mod jsonrpc;
pub mod lifecycle;
pub mod transport;
pub mod version;

pub use dispatch::{Outbox, TimerKey};
pub use handler::{Command, Context, Handler, OutgoingId, RequestHandle, SessionKey, SessionView};
pub use jsonrpc::{ErrorObject, Id, Message};
pub use lifecycle::ServerInfo;
