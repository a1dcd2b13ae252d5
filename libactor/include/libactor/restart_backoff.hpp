/// @file
/// Restart backoff: how long a supervisor (supervisor.hpp) waits before it
/// restarts a child that keeps ending, as Akka's `restartWithBackoff(min,
/// max, randomFactor)`. OTP restarts at once; that is right for a bug that a
/// fresh process clears, and wrong for a child whose dependency is away (a
/// database that is down): immediate restarts only hammer it and burn the
/// intensity budget in milliseconds. With a backoff the supervisor still
/// decides and counts each restart at once, exactly as OTP does, and only
/// performs the start later.
///
/// The delay is a pure function of the attempt number and a random value,
/// kept apart from the supervisor so that it can be tested deterministically.
#pragma once

#include <chrono>
#include <string>

namespace libactor {

/// An exponential restart backoff: the n-th consecutive restart of a child
/// (n from 0) waits `min(max, min * 2^n) * (1 + jitter * u)`, u uniform in
/// [0, 1). The count starts over once the child has stayed up for
/// `reset_after`.
struct restart_backoff {
  /// The first restart's delay. Required: no default (0 is rejected).
  std::chrono::milliseconds min{0};
  /// The cap of the doubling (the random part may add up to `jitter` times
  /// more, as in Akka). Required: no default; must be at least `min`.
  std::chrono::milliseconds max{0};
  /// Akka's random factor, 0 to 1: spreads the restarts of children that
  /// failed together, so that they do not all hit the dependency at once.
  /// Default 0.2.
  double jitter = 0.2;
  /// How long a restarted child must stay up for its next restart to wait
  /// `min` again. Default 0, meaning `min` (Akka's `resetBackoffAfter`).
  std::chrono::milliseconds reset_after{0};

  /// The largest `max` accepted: the actor clock counts in nanoseconds, and
  /// a delay of centuries would overflow it. A day is far beyond any sane
  /// restart delay.
  static constexpr std::chrono::hours max_limit{24};

  /// `reset_after` with its default applied.
  std::chrono::milliseconds effective_reset_after() const noexcept {
    return reset_after.count() > 0 ? reset_after : min;
  }
};

/// Empty if `x` is usable; otherwise why not, in one phrase naming the field
/// (min > 0, min <= max <= max_limit, 0 <= jitter <= 1, reset_after >= 0).
std::string validate(const restart_backoff& x);

/// The delay of the restart that follows `attempt` consecutive backoff
/// restarts of a child, with `u` the random draw in [0, 1) (a value outside
/// [0, 1] is clamped to it), rounded down to the millisecond. Never overflows: a large `attempt`
/// gives `max`. Precondition: `validate(x)` is empty.
std::chrono::milliseconds restart_delay(const restart_backoff& x, unsigned attempt,
                                        double u) noexcept;

} // namespace libactor
