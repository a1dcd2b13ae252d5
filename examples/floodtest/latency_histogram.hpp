/// @file
/// Delivery latencies in a log-linear histogram (HdrHistogram's idea): exact
/// below 256 ns, then 128 buckets per power of two, so any percentile is
/// within 0.8% of the true sample while a worker keeps 59 KB however many
/// deliveries it times, and the parent can merge workers exactly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace floodtest {

class latency_histogram {
public:
  void record(std::uint64_t ns);
  void merge(const latency_histogram& other);

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }

  /// The p-th percentile (0 < p <= 100) in ns: the upper bound of the bucket
  /// that holds that sample, never above the exact maximum; 0 when empty.
  std::uint64_t percentile(double p) const;

  /// "max=<ns> <bucket>:<count> ...", only non-empty buckets.
  std::string serialize() const;
  bool parse(std::string_view text);

  /// Calls `f(upper_ns, count)` for every non-empty bucket in order.
  template <class F>
  void for_each_bucket(F&& f) const {
    for (std::size_t i = 0; i < buckets_.size(); ++i)
      if (buckets_[i] != 0)
        f(upper_bound(i), buckets_[i]);
  }

  static std::size_t index_of(std::uint64_t ns) noexcept;
  static std::uint64_t upper_bound(std::size_t index) noexcept;

private:
  std::vector<std::uint64_t> buckets_; ///< sized on the first sample
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

} // namespace floodtest
