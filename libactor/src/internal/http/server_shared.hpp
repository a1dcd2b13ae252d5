/// @file
/// What every session of one server shares: options, routes, timer wheels
/// and counters. Immutable after start except for the atomic counters.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "internal/timer_wheel.hpp"
#include "libactor/http/server.hpp"

namespace libactor::http {

/// Index into `server_shared::stream_closes`; see `stream_close_counts`.
enum class stream_close_cause : std::uint8_t { client, slow_consumer, crash_budget, server_stop, finished, crashed };

struct server_shared {
  server_options opts;
  http_router routes;
  /// One wheel per I/O thread; a session uses wheels[conn id % size].
  std::vector<std::shared_ptr<libactor::detail::timer_wheel>> wheels;

  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> responses_4xx{0};
  std::atomic<std::uint64_t> responses_5xx{0};
  std::atomic<std::uint64_t> crashes{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> dropped_chunks{0};
  std::atomic<std::uint64_t> slow_closed{0};
  std::atomic<std::uint64_t> streams{0};
  std::atomic<std::uint64_t> routed_dropped{0};
  std::atomic<std::uint64_t> crash_budget_closes{0};
  std::atomic<std::uint64_t> read_pauses{0};
  std::atomic<std::uint64_t> poison_skipped{0};
  std::atomic<std::uint64_t> slow_consumer_dropped{0};
  std::atomic<std::uint64_t> resets_sent{0};
  /// Indexed by `stream_close_cause`.
  std::array<std::atomic<std::uint64_t>, 6> stream_closes{};
  /// Set by `server::stop` before it ends the tree: the tree's end is then
  /// expected, not a failure.
  std::atomic<bool> stopping{false};
  std::atomic<bool> tree_down{false};
  std::atomic<std::size_t> sessions{0};

  void count_status(unsigned status) noexcept {
    if (status >= 500)
      responses_5xx.fetch_add(1, std::memory_order_relaxed);
    else if (status >= 400)
      responses_4xx.fetch_add(1, std::memory_order_relaxed);
  }
};

} // namespace libactor::http
