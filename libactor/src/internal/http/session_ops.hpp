/// @file
/// The session's operations, shared by the session process (session.cpp)
/// and the handler context (context.cpp).
#pragma once

#include <string>
#include <string_view>

#include "internal/http/server_shared.hpp"
#include "internal/http/session_state.hpp"
#include "libactor/exit_reason.hpp"
#include "libactor/process.hpp"

namespace libactor::http::detail {

/// The session process's body; its argument is the child's start argument.
caf::behavior session_body(process& self, session_ptr st);

/// Queues bytes for the socket, writing at once what it takes.
void queue_write(process& self, session_state& st, std::string_view bytes);

/// Writes a stream's payload, applying the slow-reader policy.
void stream_write(process& self, session_state& st, std::string_view payload);

/// Ends the current response: keep-alive goes back to idle, else close.
void complete_response(process& self, session_state& st);

/// Closes once the queued output is written (with a linger after an error
/// answer), under `closing_timeout`: every way into `closing` goes here.
void close_after_output(process& self, session_state& st);

/// Closes the connection and ends the session process with `reason`; an
/// open stream is counted as closed for `cause`.
void end_session(process& self, session_state& st, exit_reason reason,
                 stream_close_cause cause = stream_close_cause::client);

/// Holds the session's output until every node reaches its key (a
/// registry with a transport): `reachable_atom` releases it.
void hold_until_reachable(process& self, session_state& st);

/// An SSE stream with a key tells its client where it starts: an `id:`
/// field with no data (a browser keeps it as its last event id and
/// dispatches nothing), so that a client whose connection drops before its
/// first message still resumes from a position. Once per stream.
void announce_position(process& self, session_state& st);

/// The open stream ends for `cause`: uncounted as open, counted as closed.
void stream_ended(session_state& st, stream_close_cause cause);

/// Shows `reset` to the stream's client (its `on_reset` hook or the
/// default), counted in `resets_sent`.
void show_reset(process& self, session_state& st, const replay_reset& reset);

/// Arms the session's wheel timer for `delay` from now.
void arm_timer(process& self, session_state& st, std::chrono::milliseconds delay);
void disarm_timer(session_state& st);

} // namespace libactor::http::detail
