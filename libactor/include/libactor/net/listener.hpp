/// @file
/// The listener: Ranch's acceptor pool on Asio. It owns the listening
/// sockets and hands every accepted connection to a callback (the HTTP server
/// turns each one into a session process under the sharded supervisor). It
/// bounds the number of open connections, survives running out of file
/// descriptors, has the kernel reap connections to peers that vanished
/// (keepalive, TCP_USER_TIMEOUT), and drains gracefully on stop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace libactor {
class node;
} // namespace libactor

namespace libactor::net {

/// Everything a listener needs; each limit has a default and a name.
struct listener_options {
  /// Address to bind; IPv4 or IPv6 literal.
  std::string address = "127.0.0.1";
  /// Port to bind; 0 picks a free one (read it back with `listener::port`).
  std::uint16_t port = 0;
  /// Accepting sockets per I/O thread, all bound to the same port with
  /// SO_REUSEPORT so that the kernel spreads new connections over them.
  std::size_t acceptors_per_thread = 1;
  /// The kernel's queue of connections not yet accepted (listen(2) backlog).
  int backlog = 1024;
  /// Open connections at most; at the limit the listener stops accepting
  /// and resumes when one closes (Ranch's `max_connections`). As in Ranch it
  /// is a soft limit: acceptors already waiting may each take one more, so
  /// it can be exceeded by up to the number of acceptors minus one.
  std::size_t max_connections = 16384;
  /// After EMFILE/ENFILE, wait this long before accepting again, doubling
  /// per consecutive failure up to `emfile_backoff_max`.
  std::chrono::milliseconds emfile_backoff_min{10};
  std::chrono::milliseconds emfile_backoff_max{1000};

  // -- peers that vanish -------------------------------------------------------
  //
  // A client whose machine loses power, or whose cable or NAT mapping goes,
  // sends no FIN and no RST. Without help the kernel keeps such a stream for
  // ever if it is idle (a stream between two messages), and for about 15
  // minutes of retransmissions (net.ipv4.tcp_retries2) if data is in flight
  // (a heartbeat, a message); the session meanwhile holds its descriptor, its
  // buffers and its registry entry. These options, set on every accepted
  // socket, let the kernel reap such a stream after about two minutes: the
  // session's next read or write then fails (ETIMEDOUT) and it ends. A live
  // client that merely reads slowly still acknowledges, so it is not cut by
  // them (the server's slow-reader policy covers it).

  /// SO_KEEPALIVE with TCP_KEEPIDLE: after this long without any segment
  /// from the peer, probe it. Zero leaves keepalive off.
  std::chrono::seconds keepalive_idle{60};
  /// TCP_KEEPINTVL: between two unanswered probes.
  std::chrono::seconds keepalive_interval{10};
  /// TCP_KEEPCNT: unanswered probes before the stream is dropped (60 s +
  /// 6 x 10 s: an idle stream to a vanished peer goes after two minutes).
  int keepalive_count = 6;
  /// TCP_USER_TIMEOUT: sent data may stay unacknowledged this long before
  /// the kernel drops the stream. It covers what keepalive cannot: a stream
  /// with data in flight is never idle, so it is never probed. Linux also
  /// applies it to keepalive, where it overrides `keepalive_count` (hence
  /// the same two minutes). Rounded down to milliseconds; zero leaves the
  /// kernel's retransmission limit.
  std::chrono::milliseconds user_timeout{120'000};
};

/// An accepted connection. Opaque outside the library: the HTTP session
/// owns its socket.
class connection;
using connection_ptr = std::shared_ptr<connection>;

/// The connection's descriptor, to read (or add) socket options with
/// getsockopt/setsockopt. Its owner reads, writes and closes it: do not.
int native_handle(const connection& conn) noexcept;

/// What `listener::stop` did to the connections still open.
struct drain_report {
  /// Closed by their sessions within the drain timeout.
  std::size_t drained = 0;
  /// Still open at the timeout, closed by force.
  std::size_t cut = 0;
};

/// Counters, readable at any time from any thread.
struct listener_stats {
  std::size_t active = 0;            ///< Connections open now.
  std::uint64_t accepted = 0;        ///< Connections accepted since start.
  std::uint64_t fd_exhausted = 0;    ///< Accepts that failed with EMFILE/ENFILE.
  std::uint64_t paused = 0;          ///< Times accepting paused at max_connections.
  /// setsockopt calls the kernel refused (keepalive, TCP_USER_TIMEOUT: e.g.
  /// a value out of its range). They are set once per listening socket,
  /// which every accepted socket inherits, so this counts per acceptor; the
  /// connections are served without that option. The first refusal is logged.
  std::uint64_t socket_option_failures = 0;
};

class listener {
public:
  /// Called on an I/O thread for every accepted connection.
  using accept_handler = std::function<void(connection_ptr)>;
  /// Asks one connection's owner to finish its current request and close.
  using drain_handler = std::function<void(const connection_ptr&)>;

  /// Binds and starts accepting. Throws `std::system_error` with a message
  /// naming the address and port if binding fails.
  listener(node& owner, listener_options opts, accept_handler on_accept,
           drain_handler on_drain = {});
  ~listener();

  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  /// The bound port (the real one when `port` was 0).
  std::uint16_t port() const noexcept;
  const listener_options& options() const noexcept;
  listener_stats stats() const noexcept;

  /// Stops accepting, asks every open connection to drain, waits up to
  /// `timeout` for them to close, then closes the rest by force. On one of
  /// the node's I/O threads only a zero timeout is allowed (anything else
  /// would block the thread: std::logic_error).
  drain_report stop(std::chrono::milliseconds timeout);

  struct impl;

private:
  std::shared_ptr<impl> impl_;
};

} // namespace libactor::net
