/// @file
/// The NATS transport's counters (`nats_stats`), shared by its connection
/// side and its JetStream side; atomics, as NATS threads, senders and the
/// replay worker all count.
#pragma once

#include <atomic>
#include <cstdint>

namespace libactor::cluster::detail {

struct transport_counters {
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> slow_consumers{0};
  std::atomic<std::uint64_t> slow_consumer_dropped{0};
  std::atomic<std::uint64_t> unconfirmed{0};
  std::atomic<std::uint64_t> subscribe_failures{0};
  std::atomic<std::uint64_t> disconnects{0};
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> fetches{0};
  std::atomic<std::uint64_t> fetch_failures{0};
  std::atomic<std::uint64_t> fetched{0};
};

} // namespace libactor::cluster::detail
