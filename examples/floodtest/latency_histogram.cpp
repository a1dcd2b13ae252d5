#include "latency_histogram.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace floodtest {

namespace {

constexpr unsigned sub_bits = 7;                           // 128 sub-buckets per power of two
constexpr std::uint64_t linear = std::uint64_t{1} << (sub_bits + 1); // exact below 256
constexpr std::size_t bucket_count = linear + (64 - (sub_bits + 1)) * (linear / 2);

} // namespace

std::size_t latency_histogram::index_of(std::uint64_t ns) noexcept {
  if (ns < linear)
    return static_cast<std::size_t>(ns);
  unsigned e = 63 - static_cast<unsigned>(__builtin_clzll(ns)); // >= sub_bits + 1
  std::uint64_t m = ns >> (e - sub_bits);                         // in [128, 256)
  return linear + (e - (sub_bits + 1)) * (linear / 2) + (m - linear / 2);
}

std::uint64_t latency_histogram::upper_bound(std::size_t index) noexcept {
  if (index < linear)
    return index;
  auto rest = index - linear;
  unsigned e = static_cast<unsigned>(rest / (linear / 2)) + sub_bits + 1;
  std::uint64_t m = linear / 2 + rest % (linear / 2);
  return ((m + 1) << (e - sub_bits)) - 1;
}

void latency_histogram::record(std::uint64_t ns) {
  if (buckets_.empty())
    buckets_.assign(bucket_count, 0);
  ++buckets_[index_of(ns)];
  ++count_;
  if (ns > max_)
    max_ = ns;
}

void latency_histogram::merge(const latency_histogram& other) {
  if (other.count_ == 0)
    return;
  if (buckets_.empty())
    buckets_.assign(bucket_count, 0);
  for (std::size_t i = 0; i < other.buckets_.size(); ++i)
    buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  if (other.max_ > max_)
    max_ = other.max_;
}

std::uint64_t latency_histogram::percentile(double p) const {
  if (count_ == 0)
    return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  if (rank == 0)
    rank = 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank)
      return std::min(upper_bound(i), max_);
  }
  return max_;
}

std::string latency_histogram::serialize() const {
  fmt::memory_buffer out;
  fmt::format_to(std::back_inserter(out), "max={}", max_);
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    if (buckets_[i] != 0)
      fmt::format_to(std::back_inserter(out), " {}:{}", i, buckets_[i]);
  return fmt::to_string(out);
}

bool latency_histogram::parse(std::string_view text) {
  *this = latency_histogram{};
  if (text.substr(0, 4) != "max=")
    return false;
  const char* p = text.data() + 4;
  const char* end = text.data() + text.size();
  auto [after_max, ec] = std::from_chars(p, end, max_);
  if (ec != std::errc{})
    return false;
  p = after_max;
  while (p < end) {
    if (*p == ' ') {
      ++p;
      continue;
    }
    std::size_t index = 0;
    std::uint64_t n = 0;
    auto r1 = std::from_chars(p, end, index);
    if (r1.ec != std::errc{} || r1.ptr == end || *r1.ptr != ':' || index >= bucket_count)
      return false;
    auto r2 = std::from_chars(r1.ptr + 1, end, n);
    if (r2.ec != std::errc{})
      return false;
    if (buckets_.empty())
      buckets_.assign(bucket_count, 0);
    buckets_[index] += n;
    count_ += n;
    p = r2.ptr;
  }
  return true;
}

} // namespace floodtest
