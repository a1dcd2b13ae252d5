/// @file
/// Metrics whose collection may block, collected on a thread of their own.
///
/// `/metrics` runs in a session process, on an I/O thread that also serves
/// thousands of streams; pipelined scrapes run one after the other there. The
/// NATS transport's counters mean what they say only after a round trip to
/// the server (the subscriptions counted are then ones it routes to), and its
/// state sits behind the C client's connection lock: reading them in the
/// handler froze every stream on that thread for up to the round trip's
/// deadline per scrape. Here a worker thread does the slow part and the
/// handler copies its last result, with that result's age next to it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace comet {

class background_metrics {
public:
  /// Returns Prometheus lines; may block (a round trip to NATS). Runs on the
  /// worker thread only, never on a thread that calls `read`.
  using collector = std::function<std::string()>;

  /// Starts the worker: it collects at once, then every `period`, and soon
  /// after a `read` (so that a scrape finds a result at most one round trip
  /// older than the one before it). `age_metric` names the gauge of the
  /// result's age in seconds.
  background_metrics(collector collect, std::chrono::milliseconds period, std::string age_metric);

  /// Stops the worker; waits for a collection under way to end.
  ~background_metrics();

  background_metrics(const background_metrics&) = delete;
  background_metrics& operator=(const background_metrics&) = delete;

  /// The last collected lines plus the age gauge; empty before the first
  /// collection ends. Never calls the collector and never waits for it: the
  /// lock it takes is held by the worker only to swap a string in.
  std::string read();

  /// Collections finished so far.
  std::uint64_t collections() const;

private:
  void run();

  const collector collect_;
  const std::chrono::milliseconds period_;
  const std::string age_metric_;

  /// Guards everything below; never held while collecting.
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::string text_;
  std::chrono::steady_clock::time_point taken_{};
  std::uint64_t collections_ = 0;
  /// A read asked for a fresher result; one collection serves every read
  /// made meanwhile.
  bool wanted_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

} // namespace comet
