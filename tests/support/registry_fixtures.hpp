/// @file
/// What the registry tests share: a log that reads routed messages by seq
/// and keeps their epochs, a clock moved by hand, a registry config with
/// no sweep thread, and a gate that holds a handler until the test opens it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "libactor/registry.hpp"
#include "support/event_log.hpp"

namespace libactor::test {

/// The fixtures' log: routed messages as "<name>:<seq>:<payload>" (the seq
/// alone, so that tests read as the order they check), resets as
/// "<name>:reset:<reason>:<lost or ?>", and every epoch seen on the side:
/// a test that reads seqs 1, 2, 3 also checks they are of one history.
class id_log : public event_log {
public:
  void routed(const std::string& name, const message_id& id, const std::string& payload) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (std::find(epochs_.begin(), epochs_.end(), id.epoch) == epochs_.end())
        epochs_.push_back(id.epoch);
    }
    push(fmt::format("{}:{}:{}", name, id.seq, payload));
  }
  void reset(const std::string& name, const replay_reset& r) {
    push(fmt::format("{}:reset:{}:{}", name, to_string(r.reason),
                     r.lost ? std::to_string(*r.lost) : std::string{"?"}));
  }
  /// Distinct epochs of the messages logged so far, in order of first sight.
  std::vector<std::uint64_t> epochs() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return epochs_;
  }

private:
  mutable std::mutex mtx_;
  std::vector<std::uint64_t> epochs_;
};

/// A clock the test moves by hand: ages become exact, no test waits on time.
class manual_clock {
public:
  registry_config::clock_function function() const {
    return [ms = ms_] { return std::chrono::steady_clock::time_point{} + std::chrono::milliseconds{ms->load()}; };
  }
  void advance(std::chrono::milliseconds d) { *ms_ += d.count(); }

private:
  std::shared_ptr<std::atomic<std::int64_t>> ms_ = std::make_shared<std::atomic<std::int64_t>>(1'000'000);
};

/// Sweeps nothing by itself: tests call expire().
inline registry_config quiet_config(registry_mode mode = registry_mode::unique) {
  registry_config cfg;
  cfg.mode = mode;
  cfg.sweep_interval = std::chrono::milliseconds{0};
  return cfg;
}

/// Holds a handler until the test opens it: lets a test queue messages
/// behind the one being handled, without timing.
class gate {
public:
  void open() { promise_.set_value(); }
  bool wait() const { return future_.wait_for(std::chrono::seconds{10}) == std::future_status::ready; }

private:
  std::promise<void> promise_;
  std::shared_future<void> future_ = promise_.get_future().share();
};

} // namespace libactor::test
