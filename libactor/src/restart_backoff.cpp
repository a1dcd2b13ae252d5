#include "libactor/restart_backoff.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace libactor {

std::string validate(const restart_backoff& x) {
  if (x.min.count() <= 0)
    return fmt::format("backoff min must be positive, not {}ms", x.min.count());
  if (x.max < x.min)
    return fmt::format("backoff max ({}ms) must not be less than min ({}ms)", x.max.count(),
                       x.min.count());
  if (x.max > restart_backoff::max_limit)
    return fmt::format("backoff max ({}ms) must be at most {}h", x.max.count(),
                       restart_backoff::max_limit.count());
  // Written so that NaN fails too.
  if (!(x.jitter >= 0.0 && x.jitter <= 1.0))
    return fmt::format("backoff jitter must be within 0..1, not {}", x.jitter);
  if (x.reset_after.count() < 0)
    return fmt::format("backoff reset_after must not be negative, not {}ms", x.reset_after.count());
  return {};
}

std::chrono::milliseconds restart_delay(const restart_backoff& x, unsigned attempt,
                                        double u) noexcept {
  if (!(u >= 0.0))
    u = 0.0;
  u = std::min(u, 1.0);
  // In doubles: min * 2^attempt overflows any integer long before `attempt`
  // stops being plausible, and beyond 2^64 the cap has long been reached.
  auto doubling = std::ldexp(1.0, static_cast<int>(std::min(attempt, 64u)));
  auto doubled = static_cast<double>(x.min.count()) * doubling;
  auto capped = std::min(doubled, static_cast<double>(x.max.count()));
  auto stretched = capped * (1.0 + x.jitter * u);
  using rep = std::chrono::milliseconds::rep;
  // 2^63 exactly: converting it (or more) back to an integer is undefined.
  constexpr auto top = static_cast<double>(std::numeric_limits<rep>::max());
  if (stretched >= top)
    return std::chrono::milliseconds::max();
  return std::chrono::milliseconds{static_cast<rep>(std::floor(stretched))};
}

} // namespace libactor
