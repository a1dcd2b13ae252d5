/// @file
/// The node's list of live processes. It holds a strong reference to each,
/// because a BEAM process lives until it exits, whether or not anyone still
/// holds its pid (CAF would otherwise end an unreferenced actor as
/// `unreachable`); it also lets `node::stop` shut each one down, and the
/// blocking stops (`node::stop`, `supervisor::stop`) wait on it for exits.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>

namespace libactor::detail {

/// Striped by home thread and process id: spawns and exits on different
/// threads do not touch the same lock, so the table does not become the one
/// point every spawn serialises on (the bottleneck Ranch removed by sharding
/// its supervisor).
class process_table {
public:
  /// `home`: the process's I/O thread, which spawns and ends it, so that
  /// each thread mostly uses stripes of its own (a lock on a cache line the
  /// other core last wrote costs a transfer on every spawn and exit).
  void add(std::size_t home, std::uint64_t id, caf::actor hdl) {
    auto& s = stripe(home, id);
    {
      std::lock_guard<std::mutex> guard{s.mtx};
      s.entries.emplace(id, hdl);
    }
    // Checked after the insert: a process either is in the snapshot taken
    // after `watch_newcomers` or shows up here (or both).
    if (watching_newcomers_.load()) {
      std::lock_guard<std::mutex> guard{change_mtx_};
      newcomers_.push_back(std::move(hdl));
      change_cv_.notify_all();
    }
  }

  void remove(std::size_t home, std::uint64_t id) {
    auto& s = stripe(home, id);
    bool now_empty = false;
    {
      std::lock_guard<std::mutex> guard{s.mtx};
      s.entries.erase(id);
      now_empty = s.entries.empty();
    }
    // Read after the erase: a waiter that registered too late for this
    // check finds the entry gone when it tests its condition.
    if (now_empty || waiters_.load() > 0) {
      // Taking the lock orders this after a waiter's check of its condition.
      std::lock_guard<std::mutex> guard{change_mtx_};
      change_cv_.notify_all();
    }
  }

  bool contains(std::size_t home, std::uint64_t id) const {
    auto& s = stripe(home, id);
    std::lock_guard<std::mutex> guard{s.mtx};
    return s.entries.count(id) != 0;
  }

  std::size_t size() const {
    std::size_t n = 0;
    for (auto& s : stripes_) {
      std::lock_guard<std::mutex> guard{s.mtx};
      n += s.entries.size();
    }
    return n;
  }

  /// Strong handles to every live process, for sending exit signals.
  std::vector<caf::actor> snapshot() const {
    std::vector<caf::actor> out;
    for (auto& s : stripes_) {
      std::lock_guard<std::mutex> guard{s.mtx};
      for (auto& kv : s.entries)
        out.push_back(kv.second);
    }
    return out;
  }

  /// Whether `pred(handle)` holds for some live process. Runs under the
  /// stripes' locks (no handle is copied, so no process can be destroyed
  /// here): `pred` must not touch the table.
  template <class Pred>
  bool any_of(Pred pred) const {
    for (auto& s : stripes_) {
      std::lock_guard<std::mutex> guard{s.mtx};
      for (auto& kv : s.entries)
        if (pred(kv.second))
          return true;
    }
    return false;
  }

  /// From now on, every process added is also kept as a newcomer for
  /// `take_newcomers` (node::stop signals those spawned while it runs).
  void watch_newcomers() { watching_newcomers_.store(true); }

  /// The processes added since the last call (see `watch_newcomers`).
  std::vector<caf::actor> take_newcomers() {
    std::lock_guard<std::mutex> guard{change_mtx_};
    return std::move(newcomers_);
  }

  enum class wake { done, newcomers, timeout };

  /// Blocks until `done()` holds (re-checked on every exit, never polled),
  /// a newcomer arrives (if `on_newcomers`; see `watch_newcomers`), or
  /// `deadline` passes. `done` runs under this table's change lock: it may
  /// read the table, not call `take_newcomers`.
  template <class Pred>
  wake wait_until(Pred done, std::chrono::steady_clock::time_point deadline,
                  bool on_newcomers = false) {
    std::unique_lock<std::mutex> guard{change_mtx_};
    waiters_.fetch_add(1);
    auto result = wake::timeout;
    for (;;) {
      if (done()) {
        result = wake::done;
        break;
      }
      // Before the newcomers: a steady stream of them must not keep the
      // caller from ever seeing its deadline.
      if (deadline != std::chrono::steady_clock::time_point::max()
          && std::chrono::steady_clock::now() >= deadline)
        break;
      if (on_newcomers && !newcomers_.empty()) {
        result = wake::newcomers;
        break;
      }
      if (deadline == std::chrono::steady_clock::time_point::max())
        change_cv_.wait(guard);
      else
        change_cv_.wait_until(guard, deadline); // the checks above tell why it woke
    }
    waiters_.fetch_sub(1);
    return result;
  }

private:
  static constexpr std::size_t stripe_count = 16;

  struct alignas(64) stripe_t {
    mutable std::mutex mtx;
    std::unordered_map<std::uint64_t, caf::actor> entries;
  };

  /// Four stripes per home thread (shared beyond four threads).
  stripe_t& stripe(std::size_t home, std::uint64_t id) {
    return stripes_[(home * 4 + id % 4) % stripe_count];
  }
  const stripe_t& stripe(std::size_t home, std::uint64_t id) const {
    return stripes_[(home * 4 + id % 4) % stripe_count];
  }

  std::array<stripe_t, stripe_count> stripes_;
  // Exits and newcomers, for whoever waits on them (never on the hot path
  // unless someone waits or the node stops).
  std::mutex change_mtx_;
  std::condition_variable change_cv_;
  std::atomic<int> waiters_{0};
  std::atomic<bool> watching_newcomers_{false};
  std::vector<caf::actor> newcomers_;
};

} // namespace libactor::detail
