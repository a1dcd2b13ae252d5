#include "libactor/restart_backoff.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

using namespace libactor;
using namespace std::chrono_literals;

namespace {


} // namespace

TEST_CASE("a supervisor's restart backoff doubles from min and stops at max",
          "[supervisor][backoff]") {
  auto b = restart_backoff{100ms, 1000ms, 0.0};
  std::vector<std::chrono::milliseconds> delays;
  for (unsigned n = 0; n < 7; ++n)
    delays.push_back(restart_delay(b, n, 0.0));
  CHECK(delays
        == std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms});
  // Huge attempt numbers neither overflow nor wrap around.
  CHECK(restart_delay(b, 63, 0.0) == 1000ms);
  CHECK(restart_delay(b, 64, 0.0) == 1000ms);
  CHECK(restart_delay(b, std::numeric_limits<unsigned>::max(), 0.0) == 1000ms);
  // min == max is a constant delay.
  CHECK(restart_delay(restart_backoff{5s, 5s, 0.0}, 0, 0.0) == 5s);
  CHECK(restart_delay(restart_backoff{5s, 5s, 0.0}, 10, 0.0) == 5s);
  // An hour-long cap stays exact.
  auto slow = restart_backoff{1s, 1h, 0.0};
  CHECK(restart_delay(slow, 11, 0.0) == 2048s);
  CHECK(restart_delay(slow, 12, 0.0) == 1h);
}

TEST_CASE("a supervisor's restart backoff stretches each delay by at most its jitter",
          "[supervisor][backoff]") {
  auto b = restart_backoff{100ms, 1000ms, 0.5};
  CHECK(restart_delay(b, 0, 0.0) == 100ms);
  CHECK(restart_delay(b, 0, 0.5) == 125ms);
  CHECK(restart_delay(b, 1, 0.5) == 250ms);
  // Rounded down to the millisecond.
  CHECK(restart_delay(b, 0, 0.999) == 149ms);
  CHECK(restart_delay(b, 0, std::nextafter(1.0, 0.0)) <= 150ms);
  // At the cap the random part comes on top of max, as in Akka.
  CHECK(restart_delay(b, 10, 0.5) == 1250ms);
  // Out-of-range draws are clamped, never trusted.
  CHECK(restart_delay(b, 0, -3.0) == 100ms);
  CHECK(restart_delay(b, 0, 7.0) == 150ms);
  CHECK(restart_delay(b, 0, std::nan("")) == 100ms);
  // Every draw in [0, 1) lands in [base, base * (1 + jitter)].
  std::mt19937_64 rng{20261122};
  std::uniform_real_distribution<double> draw{0.0, 1.0};
  for (unsigned n = 0; n < 6; ++n) {
    auto base = restart_delay(b, n, 0.0);
    auto top = base * 3 / 2;
    for (int i = 0; i < 200; ++i) {
      auto u = std::min(draw(rng), std::nextafter(1.0, 0.0));
      auto d = restart_delay(b, n, u);
      INFO("attempt " << n << ", u " << u);
      CHECK(d >= base);
      CHECK(d <= top);
    }
  }
  // No jitter: the draw makes no difference.
  CHECK(restart_delay(restart_backoff{100ms, 1000ms, 0.0}, 2, 0.9) == 400ms);
}

TEST_CASE("a supervisor's restart backoff resets after min unless told otherwise",
          "[supervisor][backoff]") {
  auto b = restart_backoff{300ms, 10s, 0.0};
  CHECK(restart_backoff{}.jitter == Approx(0.2));
  CHECK(restart_backoff{}.reset_after == 0ms);
  CHECK(b.effective_reset_after() == 300ms);
  b.reset_after = 1min;
  CHECK(b.effective_reset_after() == 1min);
}

TEST_CASE("a supervisor's restart backoff is validated field by field", "[supervisor][backoff]") {
  CHECK(validate(restart_backoff{1ms, 1ms, 0.0}).empty());
  CHECK(validate(restart_backoff{1ms, 1h, 0.0}).empty());
  CHECK(validate(restart_backoff{1ms, 1h, 1.0}).empty());
  auto reason = [](restart_backoff b) { return validate(b); };
  auto contains = [](const std::string& text, const std::string& part) {
    INFO(text);
    return text.find(part) != std::string::npos;
  };
  CHECK(contains(reason(restart_backoff{}), "min must be positive"));
  CHECK(contains(reason(restart_backoff{0ms, 1s, 0.0}), "min must be positive"));
  CHECK(contains(reason(restart_backoff{-5ms, 1s, 0.0}), "min must be positive"));
  CHECK(contains(reason(restart_backoff{2s, 1s, 0.0}), "max (1000ms) must not be less than min (2000ms)"));
  CHECK(contains(reason(restart_backoff{1s, 2s, -0.1}), "jitter must be within 0..1"));
  CHECK(contains(reason(restart_backoff{1s, 2s, 1.5}), "jitter must be within 0..1"));
  CHECK(contains(reason(restart_backoff{1s, 2s, std::nan("")}), "jitter must be within 0..1"));
  CHECK(validate(restart_backoff{1s, restart_backoff::max_limit, 0.0}).empty());
  CHECK(contains(reason(restart_backoff{1s, restart_backoff::max_limit + 1ms, 0.0}), "must be at most 24h"));
  auto negative_reset = restart_backoff{1s, 2s, 0.0};
  negative_reset.reset_after = -1ms;
  CHECK(contains(reason(negative_reset), "reset_after must not be negative"));
}
