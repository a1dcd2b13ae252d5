/// @file
/// Captures libactor's log lines for the lifetime of a scope.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "libactor/log.hpp"

namespace libactor::test {

class log_capture {
public:
  explicit log_capture(log::level threshold = log::level::debug) : previous_(log::current_level()) {
    log::set_level(threshold);
    log::set_sink([this](log::level, std::string_view line) {
      std::lock_guard<std::mutex> guard{mtx_};
      lines_.emplace_back(line);
    });
  }

  ~log_capture() {
    log::reset_sink();
    log::set_level(previous_);
  }

  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return lines_;
  }

  /// Lines containing every one of `parts`.
  std::vector<std::string> matching(std::initializer_list<std::string> parts) const {
    std::vector<std::string> out;
    for (auto& line : lines()) {
      bool all = true;
      for (auto& p : parts)
        all = all && line.find(p) != std::string::npos;
      if (all)
        out.push_back(line);
    }
    return out;
  }

private:
  log::level previous_;
  mutable std::mutex mtx_;
  std::vector<std::string> lines_;
};

} // namespace libactor::test
