/// @file
/// A thread-safe list of events that processes record and tests wait on with
/// a deadline: the suite synchronises on events, never on sleeps.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace libactor::test {

using namespace std::chrono_literals;

/// Generous: only reached when the behaviour under test is broken.
inline constexpr std::chrono::seconds deadline{10};

/// Declare it before the node whose processes push into it: the node stops
/// (and its processes may still record events) before the log is destroyed.
class event_log {
public:
  void push(std::string event) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      events_.push_back(std::move(event));
    }
    cv_.notify_all();
  }

  /// Removes and returns the oldest event, waiting up to `timeout` for one.
  std::optional<std::string> pop(std::chrono::milliseconds timeout = deadline) {
    std::unique_lock<std::mutex> guard{mtx_};
    if (!cv_.wait_for(guard, timeout, [&] { return !events_.empty(); }))
      return std::nullopt;
    auto x = std::move(events_.front());
    events_.pop_front();
    return x;
  }

  /// Waits until `event` has been recorded (without consuming it).
  bool wait_for(const std::string& event, std::chrono::milliseconds timeout = deadline) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [&] {
      return std::find(events_.begin(), events_.end(), event) != events_.end();
    });
  }

  /// Waits until at least `n` events have been recorded.
  bool wait_count(std::size_t n, std::chrono::milliseconds timeout = deadline) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [&] { return events_.size() >= n; });
  }

  std::vector<std::string> snapshot() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return {events_.begin(), events_.end()};
  }

  bool contains(const std::string& event) const {
    auto xs = snapshot();
    return std::find(xs.begin(), xs.end(), event) != xs.end();
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::string> events_;
};

/// Polls `pred` until it holds or the deadline passes; for state that has no
/// event to wait on (a process's liveness, say). Returns the final value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = deadline) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= until)
      return pred();
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

} // namespace libactor::test
