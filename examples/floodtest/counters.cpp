#include "counters.hpp"

#include <charconv>

#include <fmt/format.h>

namespace floodtest {

std::string_view name_of(counter c) noexcept {
  static constexpr std::array<std::string_view, counter_count> names{
      "attempted", "connected", "established", "failed",       "closed", "chunks",       "welcomes",
      "ticks",     "messages",  "deliveries",  "out_of_order", "bytes",  "rss_start_bytes", "rss_bytes"};
  return names[static_cast<std::size_t>(c)];
}

counters& counters::operator+=(const counters& other) noexcept {
  for (std::size_t i = 0; i < counter_count; ++i)
    v[i] += other.v[i];
  return *this;
}

std::string counters::serialize() const {
  return fmt::format("{}", fmt::join(v, " "));
}

bool counters::parse(std::string_view text) {
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (auto& x : v) {
    while (p < end && *p == ' ')
      ++p;
    auto [next, ec] = std::from_chars(p, end, x);
    if (ec != std::errc{})
      return false;
    p = next;
  }
  return true;
}

} // namespace floodtest
