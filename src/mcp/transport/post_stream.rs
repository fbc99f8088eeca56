//! The stream of one POST: opened on the POST's connection when its requests are admitted,
//! and turned into the POST's reply once the handler has run (plain JSON when everything is
//! answered at once, otherwise an event stream or a deferred answer).

use super::deliver::json_reply;
use super::session::{ConnId, Delivery, JsonAnswers, Stream, StreamNo, STANDALONE};
use super::{Reply, ReplyBody, Transport};
use crate::config::ResponseMode;
use crate::mcp::error::Error;
use crate::mcp::handler::{Handler, SessionKey};
use std::collections::hash_map::Entry;
use std::time::Instant;

impl<H: Handler + ?Sized> Transport<H> {
    /// The stream of a POST's answers, on the POST's connection, with the session's activity
    /// at `now`; `None` if the session is gone.
    pub(super) fn open_post_stream(
        &mut self,
        conn: ConnId,
        key: SessionKey,
        batch: bool,
        outstanding: usize,
        answers: JsonAnswers,
        now: Instant,
    ) -> Option<StreamNo> {
        let session = self.sessions.get_mut(&key)?;
        session.last_activity = now;
        let no = session.next_stream;
        session.next_stream += 1;
        // Built in its slot (`insert` of a whole `Stream` moved ~200 bytes twice and checked
        // for an old value); the number is fresh, so the slot is always empty.
        let fresh = || Stream::new(Delivery::Undecided, self.settings.replay_bytes);
        let stream = match session.streams.entry(no) {
            Entry::Vacant(slot) => slot.insert(fresh()),
            Entry::Occupied(slot) => {
                let stream = slot.into_mut();
                *stream = fresh();
                stream
            }
        };
        stream.batch = batch;
        stream.outstanding = outstanding;
        stream.json_answers = answers;
        self.attached.attach_new(conn, key, no);
        if self.settings.response_mode == ResponseMode::Sse {
            self.open_sse(key, no);
        }
        Some(no)
    }

    /// The reply of an exchanged POST, with the new session's id after `initialize`.
    pub(super) fn finish_exchange(
        &mut self,
        key: SessionKey,
        no: StreamNo,
        new_session_id: Option<String>,
    ) -> Reply {
        let reply = self.finish_post(key, no);
        match new_session_id {
            Some(id) => self.with_session_id(reply, key, no, id),
            None => reply,
        }
    }

    /// The reply of a POST once the handler has run: JSON if everything is answered and
    /// nothing else was sent first, otherwise an event stream (or a deferred JSON answer).
    fn finish_post(&mut self, key: SessionKey, no: StreamNo) -> Reply {
        let mode = self.settings.response_mode;
        let Some(session) = self.sessions.get_mut(&key) else {
            // The session ended while the handler ran (for example a failed initialize).
            self.attached.detach_stream(key, no);
            return Error::UnknownSession.reply(None);
        };
        // One lookup for reading the stream and forgetting it.
        let Entry::Occupied(mut slot) = session.streams.entry(no) else {
            self.attached.detach_stream(key, no);
            return Error::UnknownSession.reply(None);
        };
        let stream = slot.get_mut();
        if stream.delivery == Delivery::Undecided {
            if stream.outstanding == 0 {
                let reply = json_reply(stream);
                // Forgotten with its slot at hand: what `Session::drop_stream` does (a POST
                // stream, never the standalone one, which it would keep).
                if no != STANDALONE {
                    slot.remove();
                    if !session.detached.is_empty() {
                        session.detached.retain(|d| *d != no);
                    }
                }
                self.attached.detach_stream(key, no);
                return reply;
            }
            let stream = slot.into_mut();
            if mode == ResponseMode::Json {
                // Its connection (attached in `exchange`) waits for the answers.
                stream.delivery = Delivery::Json;
                return Reply {
                    status: 200,
                    headers: Vec::new(),
                    body: ReplyBody::Deferred,
                };
            }
            if let Some(reply) = self.hold_stateless(key, no) {
                return reply;
            }
            self.open_sse(key, no);
        }
        let Some(session) = self.sessions.get_mut(&key) else {
            return Error::UnknownSession.reply(None);
        };
        let Some(stream) = session.streams.get(&no) else {
            self.attached.detach_stream(key, no);
            return Error::StreamEnded.reply(None);
        };
        let initial = self.attached.take_pending(key, no).unwrap_or_default();
        // No connection: closed before its answer (SSE polling), kept for resumption.
        let released = self.attached.conn_of(key, no).is_none();
        let finished = stream.is_finished(no);
        if finished {
            session.drop_stream(no);
            self.attached.detach_stream(key, no);
        }
        Reply::stream(initial, finished || released)
    }
}
