/// @file
/// Timer references: what `process::send_after` returns, as
/// `erlang:send_after/3` returns a TimerRef, and `cancel_timer` /
/// `read_timer`, as `erlang:cancel_timer/1` and `erlang:read_timer/1`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include <caf/message.hpp>

namespace libactor {

class timer_ref;

namespace detail {
class asio_actor_clock;
class process_actor;

/// Used by `process::send_after`: starts a timer that sends `msg` to `self`.
timer_ref start_timer(process_actor* self, std::chrono::steady_clock::duration delay,
                      caf::message msg);
} // namespace detail

/// Names one pending `send_after`. Cheap to copy; may be used from any
/// thread while its node runs. An empty reference names no timer.
class timer_ref {
public:
  timer_ref() = default;

  explicit operator bool() const noexcept { return id_ != 0; }

  friend bool operator==(const timer_ref& x, const timer_ref& y) noexcept {
    return x.clock_ == y.clock_ && x.lane_ == y.lane_ && x.id_ == y.id_;
  }
  friend bool operator!=(const timer_ref& x, const timer_ref& y) noexcept { return !(x == y); }

private:
  friend timer_ref detail::start_timer(detail::process_actor*, std::chrono::steady_clock::duration,
                                       caf::message);
  friend std::optional<std::chrono::milliseconds> cancel_timer(const timer_ref&);
  friend std::optional<std::chrono::milliseconds> read_timer(const timer_ref&);

  detail::asio_actor_clock* clock_ = nullptr;
  std::size_t lane_ = 0;
  std::chrono::steady_clock::time_point due_;
  std::uint64_t id_ = 0;
};

/// Cancels a timer, as `erlang:cancel_timer/1`: if it was still pending,
/// returns the time it had left, and its message will never arrive. Returns
/// nullopt if it had already fired (its message is in the mailbox or on its
/// way) or was cancelled before.
std::optional<std::chrono::milliseconds> cancel_timer(const timer_ref& ref);

/// The time a pending timer has left, as `erlang:read_timer/1`; nullopt once
/// it has fired or was cancelled.
std::optional<std::chrono::milliseconds> read_timer(const timer_ref& ref);

} // namespace libactor
