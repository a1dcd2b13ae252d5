/// @file
/// The figures every worker keeps and the parent adds up: one array indexed
/// by an enum, so the pipe line, the sum and the JSON summary all come from
/// the same list of names.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace floodtest {

enum class counter : std::size_t {
  attempted,    ///< connections started
  connected,    ///< TCP connects that succeeded
  established,  ///< streams: 200 and the welcome chunk; hello: a full 200 `hello\n` and the server's close
  failed,       ///< connections that ended before being established
  closed,       ///< established streams the server ended (or reset)
  chunks,       ///< every chunk of every stream, welcome and ticks included
  welcomes,     ///< `welcome <id>` chunks
  ticks,        ///< `tick <n>` heartbeat chunks
  messages,     ///< any other chunk: routed messages
  deliveries,   ///< messages carrying `t=<ns> k=<seq>` (latency samples)
  out_of_order, ///< a stream saw `k` not above the previous one (duplicate or reordered)
  bytes,        ///< bytes read from the server
  rss_start,    ///< worker RSS in bytes before its first connection
  rss,          ///< worker RSS in bytes now
  count_
};

inline constexpr std::size_t counter_count = static_cast<std::size_t>(counter::count_);

/// The JSON / wire name of each counter, in enum order.
std::string_view name_of(counter c) noexcept;

struct counters {
  std::array<std::uint64_t, counter_count> v{};

  std::uint64_t& operator[](counter c) noexcept { return v[static_cast<std::size_t>(c)]; }
  std::uint64_t operator[](counter c) const noexcept { return v[static_cast<std::size_t>(c)]; }

  /// Streams open now.
  std::uint64_t active() const noexcept {
    auto e = (*this)[counter::established];
    auto c = (*this)[counter::closed];
    return e > c ? e - c : 0;
  }

  counters& operator+=(const counters& other) noexcept;

  /// "v0 v1 v2 ...", the body of a `c` line on a worker's pipe.
  std::string serialize() const;
  /// Parses `serialize`'s output; false if malformed.
  bool parse(std::string_view text);
};

} // namespace floodtest
