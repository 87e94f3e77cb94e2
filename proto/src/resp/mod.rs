//! RESP framing shared by every tier: the request parser servers read clients with, the reply
//! writer they answer with (RESP2 or RESP3), and a client-side reply decoder built on the
//! `redis-protocol` crate for tools that talk to servers.

mod reply;
mod request;

pub use reply::{format_double, Protocol, ReplyBuf};
pub use request::{
    parse_cursor, parse_i64, Limits, OwnedRequest, Parsed, Request, RequestParser, INLINE_MAX,
};

/// Re-export of the `redis-protocol` crate's RESP3 decoder, for clients reading replies.
pub use redis_protocol::resp3::decode::complete::decode_bytes_mut as decode_reply;
pub use redis_protocol::resp3::types::BytesFrame as ReplyFrame;

/// A malformed request. The text is Redis's; the server replies `-ERR <text>` and closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
    #[error("Protocol error: expected '$', got '{}'", *.0 as char)]
    ExpectedDollar(u8),
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
}
