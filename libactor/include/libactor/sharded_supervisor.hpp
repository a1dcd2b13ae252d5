/// @file
/// A sharded supervisor: N `simple_one_for_one` supervisors behind one handle,
/// as Ranch's `num_conns_sups` and Elixir's `PartitionSupervisor`. One
/// supervisor handles one message at a time, so with tens of thousands of
/// sessions starting and crashing it becomes the bottleneck of the whole
/// server; N shards spread that work over the scheduler threads.
///
/// The tree it builds, under whatever parent starts it:
///
///     <name> (one_for_one over the shards, OTP's default intensity)
///       shard_0 (simple_one_for_one, its own intensity budget)
///       ...
///       shard_N-1
///
/// A child goes to the shard picked by hashing its key (so a key always lands
/// on the same shard), or round robin without a key. A crash storm in one
/// shard exhausts only that shard's intensity: it stops its own children and
/// exits, and the top supervisor restarts it empty; the other shards never
/// notice. The handle follows restarted shards through a per-shard slot, so
/// the hot path (pick a shard, call it) takes no lock shared between shards.
#pragma once

#include <any>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libactor/child_spec.hpp"
#include "libactor/pid.hpp"
#include "libactor/restart_backoff.hpp"
#include "libactor/supervisor.hpp"

namespace libactor {

class node;
class process;

/// How to build a sharded supervisor.
struct sharded_supervisor_spec {
  /// Names the top supervisor; shards are named `<name>_shard`.
  std::string name = "sharded_supervisor";
  /// The template every shard starts its children from (as simple_one_for_one).
  child_spec child;
  /// 0 means the node's `io_threads` × 4.
  std::size_t shards = 0;
  /// Each shard's own intensity and period (OTP's defaults: 1 in 5 s).
  int shard_intensity = 1;
  std::chrono::milliseconds shard_period{5000};
  /// Each shard's restart backoff (`supervisor_flags::backoff`): empty, the
  /// default, restarts crashed children at once; set, each shard delays its
  /// own children's restarts, per child. `start` rejects an invalid one with
  /// `bad_spec`.
  std::optional<restart_backoff> shard_backoff = std::nullopt;
  /// The top supervisor's budget for restarting escalating shards.
  int top_intensity = 1;
  std::chrono::milliseconds top_period{5000};
};

namespace detail {
struct shard_table;
} // namespace detail

/// A handle to a sharded supervisor; cheap to copy, safe to share between
/// threads and processes.
class sharded_supervisor {
public:
  /// An empty handle.
  sharded_supervisor() = default;

  // -- starting ----------------------------------------------------------------------

  /// Starts the tree from outside any process and waits until every shard is
  /// running. The top supervisor has no parent. An invalid `shard_backoff`
  /// fails with `bad_spec` before anything starts.
  static supervisor_result<sharded_supervisor>
  start(node& owner, sharded_supervisor_spec spec,
        std::chrono::milliseconds timeout = supervisor::default_timeout);

  /// Makes a handle whose tree a parent supervisor will start from
  /// `as_child(id)`: the way to put the shards inside an application tree.
  static sharded_supervisor prepare(node& owner, sharded_supervisor_spec spec);

  /// A child spec (type supervisor, permanent, shutdown infinity) that starts
  /// this handle's tree under the supervisor that runs it, again on restart.
  child_spec as_child(std::string id) const;

  // -- shards --------------------------------------------------------------------------

  explicit operator bool() const noexcept { return static_cast<bool>(table_); }

  /// The top supervisor (empty until started).
  pid top() const;
  std::size_t shard_count() const noexcept;
  /// The shard a key maps to: stable for the life of the handle.
  std::size_t shard_of(std::string_view key) const noexcept;
  /// The shard's current supervisor (it changes when the shard is restarted).
  pid shard(std::size_t index) const;

  // -- calls from outside any process --------------------------------------------------
  //
  // A shard that is not running yet (a tree started through `as_child` starts
  // its shards asynchronously) or is between an escalation and its restart is
  // waited for, within the timeout.

  /// Starts a child with `args` on the shard that `key` hashes to.
  supervisor_result<pid> start_child(std::string_view key, std::any args,
                                     std::chrono::milliseconds timeout = supervisor::default_timeout) const;
  /// Starts a child with `args` on the next shard, round robin.
  supervisor_result<pid> start_child(std::any args,
                                     std::chrono::milliseconds timeout = supervisor::default_timeout) const;

  /// Starts a child without waiting (see `supervisor::cast_start_child`):
  /// the listener's path, on an I/O thread. Called on an I/O thread, it
  /// picks the next shard on that thread (shard i runs on thread i mod
  /// threads), so an accepted connection's session runs on the thread that
  /// serves its socket; elsewhere, the next shard round robin.
  void cast_start_child(std::any args) const;

  /// Stops and forgets a child, whichever shard holds it.
  supervisor_result<ok_t> terminate_child(const pid& child,
                                          std::chrono::milliseconds timeout = supervisor::default_timeout) const;

  /// Every shard's children, shard by shard.
  supervisor_result<std::vector<child_info>>
  which_children(std::chrono::milliseconds timeout = supervisor::default_timeout) const;

  /// The sum over shards (`specs` is then the number of shards).
  supervisor_result<child_counts>
  count_children(std::chrono::milliseconds timeout = supervisor::default_timeout) const;

  // -- calls from inside a process -------------------------------------------------------
  //
  // These never wait: a shard that is not running fails the call with
  // `call_failed`, and the caller decides whether to try again.

  void start_child(process& self, std::string_view key, std::any args,
                   std::function<void(supervisor_result<pid>)> then,
                   std::chrono::milliseconds timeout = supervisor::default_timeout) const;
  void start_child(process& self, std::any args, std::function<void(supervisor_result<pid>)> then,
                   std::chrono::milliseconds timeout = supervisor::default_timeout) const;

private:
  explicit sharded_supervisor(std::shared_ptr<detail::shard_table> table) : table_(std::move(table)) {
  }

  std::size_t next_shard() const noexcept;

  std::shared_ptr<detail::shard_table> table_;
};

} // namespace libactor
