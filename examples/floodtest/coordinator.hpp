/// @file
/// The parent process after the fork: reads the workers' counter lines,
/// prints progress every second, moves the run through its phases (ramp,
/// then hold, or send and drain; hello just runs), tells the workers to
/// stop by closing their control pipes, and prints the summary once every
/// worker has sent its final report. One thread, one io_context.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "counters.hpp"
#include "latency_histogram.hpp"
#include "options.hpp"
#include "plan.hpp"
#include "report.hpp"
#include "sender.hpp"

namespace floodtest {

/// The parent's end of one worker.
struct worker_link {
  pid_t pid = -1;
  int report_fd = -1;  ///< read end of the worker's counter pipe
  int control_fd = -1; ///< write end of its control pipe; closing it stops the worker
  counters latest;
  latency_histogram latency;
  std::map<std::string, std::uint64_t> errors;
  bool ended = false; ///< its final report ("end") arrived
  bool eof = false;
};

class coordinator {
public:
  coordinator(boost::asio::io_context& io, const options& opts, const plan& layout,
              std::vector<worker_link> workers,
              std::chrono::steady_clock::time_point started, ramp_csv& ramp);
  coordinator(const coordinator&) = delete;
  coordinator& operator=(const coordinator&) = delete;

  /// Runs to the end, prints the summary; returns the exit status.
  int run();

private:
  enum class phase { ramp, hold, sending, draining, running, stopping, done };

  void read(std::size_t i);
  void on_line(worker_link& w, std::string_view line);
  void on_eof(std::size_t i);
  void tick();
  /// Moves to the next phase when the figures say so.
  void advance();
  void sample_peak(const counters& t);
  void stop();
  counters total() const;
  double since_start() const;
  int finish();

  boost::asio::io_context& io_;
  const options& opts_;
  const plan& layout_;
  std::vector<worker_link> workers_;
  std::vector<std::unique_ptr<boost::asio::posix::stream_descriptor>> pipes_;
  std::vector<std::string> inboxes_;
  std::chrono::steady_clock::time_point started_;
  std::uint64_t planned_ = 0;

  boost::asio::signal_set signals_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer phase_timer_; ///< hold, hello's duration, drain
  boost::asio::steady_timer timeout_timer_;
  boost::asio::steady_timer grace_timer_;
  std::optional<sender> sender_;
  ramp_csv& ramp_;

  phase phase_ = phase::ramp;
  bool timed_out_ = false;
  bool interrupted_ = false;
  std::string worker_failure_;
  counters last_tick_;
  std::chrono::steady_clock::time_point last_tick_at_;
  double ramp_s_ = 0;
  double hold_started_s_ = 0;
  std::uint64_t chunks_at_hold_ = 0;
  double stopped_s_ = 0;
  std::uint64_t peak_active_ = 0;
  std::optional<double> bytes_per_conn_;
  /// Deliveries the run waits for and the summary expects (`--expect`).
  std::uint64_t expected_deliveries() const;
  /// Streams open when sending began (`--expect all-streams`).
  std::uint64_t streams_at_send_ = 0;
};

} // namespace floodtest
