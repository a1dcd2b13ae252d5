/// @file
/// The one clock of the tool: steady_clock is CLOCK_MONOTONIC on Linux,
/// shared by every process of the machine, so a worker can subtract the
/// `t=<ns>` the parent wrote into a message from its own reading.
#pragma once

#include <chrono>
#include <cstdint>

namespace floodtest {

inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

} // namespace floodtest
