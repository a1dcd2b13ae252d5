/// @file
/// An HTTP server in the shape of Joe Armstrong's "one web server per
/// session": a listener accepts, each connection becomes a session process
/// (a tiny HTTP/1.1 server) under a sharded supervisor, and route handlers
/// run inside the session. A crashing handler takes down its session only;
/// the supervisor restarts it on the same connection.
///
///     http_server (this object)
///       listener (acceptors on the I/O threads)
///       conns_supervisor (sharded_supervisor: N simple_one_for_one shards)
///         session, session, ...   (one process per connection)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "libactor/child_spec.hpp"
#include "libactor/http/context.hpp"
#include "libactor/http/limits.hpp"
#include "libactor/http/router.hpp"
#include "libactor/net/listener.hpp"
#include "libactor/sharded_supervisor.hpp"

namespace libactor {
class node;
} // namespace libactor

namespace libactor::http {

/// A route handler.
using handler = std::function<void(context&)>;
using http_router = router<handler>;

/// What to do when a client reads more slowly than its stream is written.
enum class slow_reader_policy : std::uint8_t {
  /// End the session (reason `shutdown(slow_reader)`), counted in
  /// `stream_closes.slow_consumer`: the client reconnects with its last id
  /// and gets the exact replay or a reset, never a silent gap.
  close,
  /// Drop what does not fit (`dropped_chunks`; whole routed messages in
  /// `slow_consumer_dropped`) and, before the next message that fits, show
  /// the client a `slow_consumer` reset with the number dropped.
  drop,
};

/// Why a stream ended, as `server_stats::stream_closes` counts it.
struct stream_close_counts {
  std::uint64_t client = 0;        ///< The client went away (or its socket failed).
  std::uint64_t slow_consumer = 0; ///< Output limit reached (`slow_reader_policy::close`).
  std::uint64_t crash_budget = 0;  ///< The session crashed past its budget.
  std::uint64_t server_stop = 0;   ///< The server stopped (drained or cut).
  std::uint64_t finished = 0;      ///< The handler ended it (`context::finish`).
  std::uint64_t crashed = 0;       ///< A crash that could not be resumed (framing lost).
};

/// Every knob with a default (Cowboy's where it has one).
struct server_options {
  net::listener_options listen;
  http::limits limits;
  /// The header block must be complete this long after a request's first
  /// byte, else 408 and close (defeats slowloris).
  std::chrono::milliseconds header_timeout{10'000};
  /// Once the header block is in, body bytes must keep coming: at most this
  /// long between two reads that bring some (nginx's `client_body_timeout`),
  /// else 408 and close. A slow but steady upload is not cut.
  std::chrono::milliseconds body_timeout{60'000};
  /// A keep-alive connection with no request in flight closes after this.
  std::chrono::milliseconds idle_timeout{60'000};
  /// A closing connection (last response, error answer or half-closed
  /// client) has this long to take its last bytes before it is cut: a peer
  /// that stopped reading cannot hold a connection in `closing` for ever.
  std::chrono::milliseconds closing_timeout{10'000};
  /// When the server closes a connection after its last answer (an error,
  /// `Connection: close`, HTTP/1.0) and the client may still be sending (an
  /// error answer, unparsed input, an answer it read slowly, unread bytes),
  /// it stops sending, then reads and discards what the client sends until
  /// the client closes, for up to this long (a lingering close, RFC 9112
  /// 9.6, nginx's `lingering_close on`): closing over unread bytes sends a
  /// reset that can destroy the answer before the client reads it. Zero
  /// closes at once.
  std::chrono::milliseconds linger_timeout{2'000};
  /// Bytes a stream may hold unwritten before `slow_reader` applies.
  std::size_t max_outbound = 1 << 20;
  /// What an SSE stream sends once as `retry:` (the browser's reconnection
  /// delay); zero sends none.
  std::chrono::milliseconds sse_retry{2'000};
  /// Backpressure on every response: while a connection holds more than
  /// this many bytes unwritten, its session reads and parses nothing more
  /// from it (pipelined requests wait in the client's socket, not in the
  /// server's memory), and resumes once the client has taken enough. Counted
  /// in `server_stats::read_pauses`.
  std::size_t max_pending_output = 64 * 1024;
  slow_reader_policy slow_reader = slow_reader_policy::close;
  /// Supervisor shards; 0 means the node's I/O threads x 4.
  std::size_t shards = 0;
  /// Each shard's restart intensity and period (OTP defaults 1 in 5 s are
  /// too tight for thousands of sessions per shard).
  int shard_intensity = 100;
  std::chrono::milliseconds shard_period{5'000};
  /// The per-connection crash budget: a session that crashes more often than
  /// this is not restarted; its connection is closed and counted in
  /// `server_stats::crash_budget_closes`. A session's crashes are charged to
  /// this budget only (`child_spec::own_intensity`), never to its shard's:
  /// no client, however many connections it opens, can spend a shard's
  /// intensity, which then guards against systematic failure only.
  child_intensity session_crash_budget{3, std::chrono::milliseconds{60'000}};
  /// What the server's supervision tree means to the process, as an OTP
  /// application's restart type: `permanent` (the default) or `transient`:
  /// if the tree gives up (its top supervisor reached its intensity), the
  /// process logs why and exits with status 1, so that a service manager
  /// restarts it, as an Erlang node whose permanent application stopped.
  /// `temporary`: it is logged, `server_stats::tree_down` says so, every new
  /// connection gets `503` and is closed, and the process lives on (the user
  /// decides what to do, e.g. stop this server and start another).
  restart_type tree_restart = restart_type::permanent;
  /// How long `stop` waits for sessions to finish before cutting them.
  std::chrono::milliseconds drain_timeout{5'000};
};

/// Counters; every refused or dropped thing is counted.
struct server_stats {
  std::uint64_t requests = 0;       ///< Complete requests parsed.
  std::uint64_t responses_4xx = 0;  ///< Client errors answered (incl. parse errors).
  std::uint64_t responses_5xx = 0;  ///< Server errors answered (incl. crashes).
  std::uint64_t crashes = 0;        ///< Sessions restarted after a crash.
  std::uint64_t timeouts = 0;       ///< Connections closed by a timeout.
  std::uint64_t dropped_chunks = 0; ///< Stream writes dropped for a slow reader.
  std::uint64_t slow_closed = 0;    ///< Sessions closed for a slow reader.
  std::uint64_t streams = 0;        ///< Streams open now.
  std::uint64_t routed_dropped = 0; ///< Routed messages that found no stream.
  std::uint64_t crash_budget_closes = 0; ///< Connections closed: session crash budget spent.
  std::uint64_t read_pauses = 0;    ///< Times a session stopped reading: output backed up.
  std::uint64_t poison_skipped = 0; ///< Routed messages skipped because their handler crashed.
  /// Routed messages dropped for a slow reader (`slow_reader_policy::drop`),
  /// each shown to its client in a `slow_consumer` reset.
  std::uint64_t slow_consumer_dropped = 0;
  /// Resets written to clients (replay_reset.hpp), all reasons.
  std::uint64_t resets_sent = 0;
  stream_close_counts stream_closes;
  bool tree_down = false;           ///< The supervision tree gave up (`tree_restart`).
  net::listener_stats listener;
  std::size_t sessions = 0;         ///< Session processes alive.
};

class server {
public:
  /// Starts listening; throws std::system_error if the address is unusable.
  server(node& owner, server_options opts, http_router routes);
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  std::uint16_t port() const noexcept;
  server_stats stats() const;

  /// The sessions' supervision tree (`conns_supervisor`), as Ranch exposes
  /// its connection supervisors: to inspect it, or to place it under watch.
  const sharded_supervisor& connections() const noexcept;

  /// Graceful stop: no new connections, current requests finish, idle
  /// connections close, the rest are cut after `drain_timeout`. It waits
  /// for the drain, so on one of the node's I/O threads (inside a process)
  /// it refuses at once with std::logic_error.
  net::drain_report stop();

  struct impl;

private:
  net::drain_report stop_now(bool wait);

  std::shared_ptr<impl> impl_;
};

} // namespace libactor::http
