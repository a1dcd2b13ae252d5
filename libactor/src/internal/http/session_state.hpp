/// @file
/// A session's state that is not the actor: it lives in the supervisor's
/// child arguments, so it survives a crash of the session process and the
/// restarted session finds the connection, the unparsed bytes, the unsent
/// bytes and the open stream where the crashed one left them. Kept small
/// and separate from the actor so that an idle session can later hibernate
/// into it (docs/architecture.md, "Memory discipline").
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "internal/net/connection.hpp"
#include "internal/timer_wheel.hpp"
#include "libactor/http/context.hpp"
#include "libactor/http/request_parser.hpp"
#include "libactor/http/response.hpp"
#include "libactor/registry.hpp"

namespace libactor::http {

struct server_shared;

namespace detail {

enum class phase : std::uint8_t {
  idle,       ///< Between requests: waiting for a first byte.
  reading,    ///< A request is arriving (parser alive, header timer armed).
  handling,   ///< A handler runs; a crash now gets a 500 if nothing was sent.
  streaming,  ///< A chunked or SSE response is open.
  closing,    ///< Flushing the last bytes, then close.
};

enum class stream_kind : std::uint8_t { none, chunked, raw, sse };

struct session_state {
  session_state(net::connection_ptr c, std::shared_ptr<server_shared> s)
    : conn(std::move(c)), server(std::move(s)) {
  }

  net::connection_ptr conn;
  std::shared_ptr<server_shared> server;

  phase now = phase::idle;
  /// Unparsed input: the start of a request, or pipelined requests.
  std::string leftover;
  /// Output the socket has not taken yet.
  std::string outbound;
  /// Exists only while a request is arriving (memory discipline).
  std::unique_ptr<request_parser> parser;
  /// How the response in progress is framed.
  request_info current;
  /// Some byte of the current response has been queued.
  bool response_started = false;
  /// Close once the outbound bytes are written.
  bool close_after_flush = false;
  /// A session has run on this state before: a new one is a restart.
  bool started = false;
  /// The client half-closed (read returned end of file): answer what it
  /// pipelined before, then close.
  bool input_closed = false;
  /// Reading stopped because output backed up (`max_pending_output`).
  bool paused = false;
  /// Close with a linger: the client may still be sending (an error answer,
  /// unparsed input, an answer it read slowly, bytes waiting unread).
  bool linger = false;
  /// The lingering close has begun (our side shut down for writing; what
  /// the client still sends is discarded until it closes).
  bool lingering = false;
  /// A readability wait is pending: one is enough.
  bool read_armed = false;
  /// A writability wait is pending: one is enough.
  bool write_armed = false;
  /// The parse loop is running (consume): it is not entered twice.
  bool in_consume = false;
  /// Bytes arrived during a stream and were discarded.
  bool discarded_input = false;
  /// A routed message's handler is running (a crash now skips a poison).
  bool in_routed = false;
  /// This state's own control block, for the timer's aliasing pointer.
  std::weak_ptr<session_state> self_ref;

  // -- the open stream, if any --------------------------------------------------

  stream_kind stream = stream_kind::none;
  std::shared_ptr<const stream_hooks> hooks;
  registry* reg = nullptr;
  std::optional<registry_key> key;
  /// Id of the last routed message handled: where a restart resumes.
  std::optional<message_id> last_id;
  /// Routed messages dropped for a slow reader since the client was last
  /// told (`slow_reader_policy::drop`).
  std::uint64_t gap = 0;
  /// The last of those messages: where a client told of the gap stands.
  std::optional<message_id> gap_last;
  /// A write of the routed message being handled was dropped.
  bool routed_write_dropped = false;
  /// A reset is being written: it is never dropped for a slow reader.
  bool writing_reset = false;
  /// Output waits in `outbound` until the registry's transport confirms
  /// that every node reaches the key (`registry::when_reachable`): a client
  /// that has a stream's first bytes can count on delivery from any node.
  bool output_held = false;
  /// The stream told its client its starting position (`announce_position`).
  bool announced = false;
  std::uint64_t ticks = 0;

  /// The timer wheel entry; shares this state's lifetime (aliasing pointer).
  libactor::detail::wheel_timer timer;
  libactor::detail::timer_wheel* wheel = nullptr;
};

using session_ptr = std::shared_ptr<session_state>;

} // namespace detail
} // namespace libactor::http
