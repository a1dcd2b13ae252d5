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

#include "libactor/http/context.hpp"
#include "libactor/http/limits.hpp"
#include "libactor/http/router.hpp"
#include "libactor/net/listener.hpp"

namespace libactor {
class node;
} // namespace libactor

namespace libactor::http {

/// A route handler.
using handler = std::function<void(context&)>;
using http_router = router<handler>;

/// What to do when a client reads more slowly than its stream is written.
enum class slow_reader_policy : std::uint8_t {
  close, ///< End the session (reason `shutdown(slow_reader)`).
  drop,  ///< Drop the chunk and count it in `server_stats::dropped_chunks`.
};

/// Every knob with a default (Cowboy's where it has one).
struct server_options {
  net::listener_options listen;
  http::limits limits;
  /// The header block must be complete this long after a request's first
  /// byte, else 408 and close (defeats slowloris).
  std::chrono::milliseconds header_timeout{10'000};
  /// A keep-alive connection with no request in flight closes after this.
  std::chrono::milliseconds idle_timeout{60'000};
  /// Bytes a session may hold unwritten before `slow_reader` applies.
  std::size_t max_outbound = 1 << 20;
  slow_reader_policy slow_reader = slow_reader_policy::drop;
  /// Supervisor shards; 0 means the node's I/O threads x 4.
  std::size_t shards = 0;
  /// Each shard's restart intensity and period (OTP defaults 1 in 5 s are
  /// too tight for thousands of sessions per shard).
  int shard_intensity = 100;
  std::chrono::milliseconds shard_period{5'000};
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

  /// Graceful stop: no new connections, current requests finish, idle
  /// connections close, the rest are cut after `drain_timeout`.
  net::drain_report stop();

  struct impl;

private:
  std::shared_ptr<impl> impl_;
};

} // namespace libactor::http
