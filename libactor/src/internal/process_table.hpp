/// @file
/// The node's list of live processes. It holds a strong reference to each,
/// because a BEAM process lives until it exits, whether or not anyone still
/// holds its pid (CAF would otherwise end an unreferenced actor as
/// `unreachable`); it also lets `node::stop` shut each one down.
#pragma once

#include <array>
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
    std::lock_guard<std::mutex> guard{s.mtx};
    s.entries.emplace(id, std::move(hdl));
  }

  void remove(std::size_t home, std::uint64_t id) {
    auto& s = stripe(home, id);
    bool now_empty = false;
    {
      std::lock_guard<std::mutex> guard{s.mtx};
      s.entries.erase(id);
      now_empty = s.entries.empty();
    }
    if (now_empty) {
      // Wakes `wait_empty`; taking the lock orders this after its check.
      std::lock_guard<std::mutex> guard{empty_mtx_};
      empty_cv_.notify_all();
    }
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

  /// Blocks until no process is left or `timeout` passes; true if empty.
  bool wait_empty(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock<std::mutex> guard{empty_mtx_};
    while (size() != 0) {
      if (empty_cv_.wait_until(guard, deadline) == std::cv_status::timeout)
        return size() == 0;
    }
    return true;
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

  std::array<stripe_t, stripe_count> stripes_;
  std::mutex empty_mtx_;
  std::condition_variable empty_cv_;
};

} // namespace libactor::detail
