/// @file
/// The runtime: one `node` per OS process owns the CAF actor system that runs
/// processes and the Asio I/O threads that later layers (listeners, sessions)
/// run on. Everything else in libactor is created against a node.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "libactor/log.hpp"

namespace caf {
class actor_system;
} // namespace caf

namespace libactor {

/// How a node is built; every field has an embedded default.
struct node_config {
  /// Asio I/O threads, which also run every process; 0 means one per core.
  std::size_t io_threads = 0;
  /// Messages a process may handle before yielding its I/O thread to other
  /// work (sockets, other processes): fairness against a flooded mailbox.
  std::size_t max_throughput = 64;
  /// How long `stop` lets processes end before killing them: the first half
  /// at most goes to stopping the top-level processes one by one, then the
  /// stragglers get `shutdown`, and whatever is alive at the end is killed.
  std::chrono::milliseconds shutdown_timeout{5000};
  /// Threshold for libactor's log lines (see log.hpp).
  log::level log_level = log::level::info;
};

namespace detail {
class process_table;
} // namespace detail

/// Owns the actor system and the I/O threads. Processes run on the I/O
/// threads (CAF's scheduler is replaced by one that posts to Asio), so a
/// handler must never block: it would stall sockets as well.
///
/// Destroying a node stops it. `stop` is an orderly shutdown, as OTP's
/// `init:stop` (applications in reverse start order, each tree top-down):
/// the top-level processes (spawned from the node, not from a process) get
/// `shutdown` one at a time, the last started first, each waited for (a
/// supervisor stops its own children); then the stragglers get `shutdown`;
/// those still alive after `shutdown_timeout` are killed, as are processes
/// spawned after that; then the threads are joined. Each process gets
/// `shutdown` from the node at most once, including those spawned meanwhile.
class node {
public:
  explicit node(node_config cfg = {});
  ~node();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Shuts every process down in order (see above) and joins all threads.
  /// Idempotent. Call it from outside the node's threads: on one of them
  /// (in a process or I/O handler) it throws `std::logic_error` and the node
  /// runs on, since it would wait for the very thread it runs on.
  void stop();

  /// True between construction and `stop`.
  bool running() const noexcept;

  /// Whether the calling thread is one of this node's I/O threads, where
  /// processes and I/O handlers run. The blocking calls made from outside
  /// any process (`libactor::call`, `supervisor::start`, ...) refuse to run
  /// there: they would wait for a process that may need this very thread.
  bool on_io_thread() const noexcept;

  /// The number of live processes spawned through libactor on this node.
  std::size_t process_count() const;

  const node_config& config() const noexcept;

  /// The CAF actor system, for code that talks CAF directly.
  caf::actor_system& system() noexcept;

  /// Internal state shared with the library's own .cpp files.
  struct impl;
  impl& internals() noexcept { return *impl_; }

private:
  std::unique_ptr<impl> impl_;
};

} // namespace libactor
