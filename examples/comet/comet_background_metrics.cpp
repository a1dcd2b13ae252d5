#include "comet_background_metrics.hpp"

#include <iterator>
#include <utility>

#include <fmt/format.h>

namespace comet {

background_metrics::background_metrics(collector collect, std::chrono::milliseconds period,
                                       std::string age_metric)
  : collect_(std::move(collect)), period_(period), age_metric_(std::move(age_metric)) {
  // Started last: the worker reads the members above.
  worker_ = std::thread{[this] { run(); }};
}

background_metrics::~background_metrics() {
  {
    std::lock_guard<std::mutex> lock{mtx_};
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

std::string background_metrics::read() {
  std::string out;
  std::chrono::steady_clock::time_point taken;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    if (collections_ == 0)
      return out; // nothing collected yet (start-up)
    out = text_;
    taken = taken_;
    wanted_ = true;
  }
  cv_.notify_one();
  auto age = std::chrono::duration<double>(std::chrono::steady_clock::now() - taken).count();
  fmt::format_to(std::back_inserter(out),
                 "# HELP {0} Seconds since the lines above were collected (off the I/O threads).\n"
                 "# TYPE {0} gauge\n{0} {1}\n",
                 age_metric_, age);
  return out;
}

std::uint64_t background_metrics::collections() const {
  std::lock_guard<std::mutex> lock{mtx_};
  return collections_;
}

void background_metrics::run() {
  std::unique_lock<std::mutex> lock{mtx_};
  while (!stopping_) {
    lock.unlock();
    std::string text;
    bool ok = true;
    try {
      text = collect_();
    } catch (...) {
      ok = false; // keep the last result: its age shows that it is stale
    }
    auto now = std::chrono::steady_clock::now();
    lock.lock();
    if (ok) {
      text_ = std::move(text);
      taken_ = now;
      ++collections_;
    }
    cv_.wait_for(lock, period_, [this] { return stopping_ || wanted_; });
    wanted_ = false;
  }
}

} // namespace comet
