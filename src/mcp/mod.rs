//! The Model Context Protocol layer: JSON-RPC messages, revisions, the handler contract.

pub(crate) mod dispatch;
pub(crate) mod error;
pub(crate) mod handler;
pub(crate) mod jsonrpc;
pub(crate) mod lifecycle;
pub(crate) mod transport;
pub(crate) mod version;

pub use dispatch::{Outbox, TimerKey};
pub use handler::{Command, Context, Handler, OutgoingId, RequestHandle, SessionKey, SessionView};
pub(crate) use jsonrpc::Id;
pub use jsonrpc::{
    ErrorObject, Params, RawResult, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST,
    METHOD_NOT_FOUND, PARSE_ERROR, REQUEST_TIMEOUT, RESOURCE_NOT_FOUND, SERVER_ERROR,
};
pub use lifecycle::ServerInfo;
