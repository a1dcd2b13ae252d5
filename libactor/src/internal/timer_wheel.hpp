/// @file
/// Coarse timers for many connections: one wheel per I/O thread instead of
/// one Asio timer per connection (docs/architecture.md, "Memory discipline").
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/actor.hpp>

namespace libactor::detail {

/// One connection's timer, embedded in its session state (no allocation of
/// its own). Its fields belong to the wheel and are guarded by its mutex.
struct wheel_timer {
  using time_point = std::chrono::steady_clock::time_point;
  /// When the owner wants to hear from the wheel; max when disarmed.
  time_point deadline = time_point::max();
  /// The bucket time of the entry that stands for this timer; max if none.
  time_point slot = time_point::max();
  /// Receives `timeout_atom` when the deadline passes.
  caf::actor owner;
};

/// A hashed wheel of one-tick buckets. Arming a timer is O(1) and allocates
/// only when the timer must move to an earlier bucket; moving a deadline
/// later (an idle timeout pushed back by each request) costs nothing until
/// its bucket comes round, when the entry is re-filed. A stale entry (its
/// timer moved earlier since) is dropped when its bucket comes round.
class timer_wheel : public std::enable_shared_from_this<timer_wheel> {
public:
  using time_point = wheel_timer::time_point;
  using duration = std::chrono::steady_clock::duration;

  timer_wheel(boost::asio::io_context& io, duration tick);
  ~timer_wheel();

  /// Asks for `(timeout_atom)` to reach `owner` at `deadline` (rounded up
  /// to the next tick). `timer` aliases its session state's shared_ptr.
  void arm(const std::shared_ptr<wheel_timer>& timer, time_point deadline, caf::actor owner);

  /// No message will be sent for `timer` until it is armed again.
  void disarm(const std::shared_ptr<wheel_timer>& timer);

  /// Starts ticking; the timer runs on the io_context. The wheel must be
  /// owned by a std::shared_ptr: a tick in flight keeps it alive.
  void start();
  /// Stops ticking and forgets every entry.
  void stop();

  /// Entries held, stale ones included (for tests and memory figures).
  std::size_t entries() const;

private:
  static constexpr std::size_t bucket_count = 256;

  struct entry {
    std::weak_ptr<wheel_timer> timer;
    time_point slot;
  };

  std::size_t bucket_of(time_point t) const noexcept;
  time_point round_up(time_point t) const noexcept;
  void schedule_tick();
  void on_tick();

  mutable std::mutex mtx_;
  duration tick_;
  boost::asio::steady_timer ticker_;
  std::array<std::vector<entry>, bucket_count> buckets_;
  time_point next_tick_;
  bool running_ = false;
};

} // namespace libactor::detail
