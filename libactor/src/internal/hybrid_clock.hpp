/// @file
/// The ids of a registry with a transport (routed.hpp): wall-clock
/// milliseconds in the high 44 bits, a counter in the low 20. Two nodes that
/// never talk agree on their order as far as their clocks agree, and a node
/// that has seen an id never assigns a lower one for that key.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace libactor::detail {

/// Bits below the millisecond: a million ids per key and millisecond before
/// the counter runs ahead of the clock (it then simply stays ahead).
inline constexpr unsigned hybrid_counter_bits = 20;

/// The lowest bits of the counter name the node that assigned the id
/// (random per registry): ids from two nodes never coincide unless their
/// tags do (1 in 1,024 per pair), leaving 1,024 ids per key and millisecond.
inline constexpr unsigned hybrid_node_bits = 10;

/// A random node tag for `hybrid_node_bits`.
inline std::uint64_t hybrid_node_tag() {
  std::random_device rd;
  return rd() & ((std::uint64_t{1} << hybrid_node_bits) - 1);
}

/// The smallest id a message entering now may get.
inline std::uint64_t hybrid_floor() noexcept {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  return ms <= 0 ? 0 : static_cast<std::uint64_t>(ms) << hybrid_counter_bits;
}

/// The id after `last`: the clock's, unless the key already went past it.
inline std::uint64_t hybrid_next(std::uint64_t last) noexcept {
  return std::max(hybrid_floor(), last + 1);
}

} // namespace libactor::detail
