/// @file
/// A worker process: the connections of one share of the run on a
/// single-threaded io_context, paced by one timer, timed out by one sweep,
/// and reported to the parent as a line of counters on a pipe every 250 ms.
/// It stops when the parent closes its control pipe (or, as a backstop, at
/// `--timeout` plus a grace period if the parent is gone), then writes its
/// error counts, its latency histogram and a last counter line.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "connection.hpp"
#include "counters.hpp"
#include "latency_histogram.hpp"
#include "options.hpp"
#include "plan.hpp"

namespace floodtest {

/// What the parent hands a worker at fork time.
struct worker_setup {
  const options& opts;
  const plan& layout;
  std::uint32_t index;
  int report_fd;  ///< worker -> parent: counter lines
  int control_fd; ///< parent -> worker: end of file means stop
};

class worker {
public:
  worker(boost::asio::io_context& io, worker_setup setup);
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  /// Runs until told to stop; returns the process exit status.
  int run();

  // -- what connections use and report ------------------------------------
  boost::asio::io_context& io() noexcept { return io_; }
  const options& opts() const noexcept { return opts_; }
  const boost::asio::ip::tcp::endpoint& target_for(std::uint32_t index) const noexcept {
    return targets_[index % targets_.size()];
  }
  /// The Host header for connection `index`.
  const std::string& host_for(std::uint32_t index) const noexcept { return hosts_[index % hosts_.size()]; }
  /// The source address for connection `index`, or nullptr (kernel's choice).
  const boost::asio::ip::address_v4* source_for(std::uint32_t index) const noexcept;
  counters& stats() noexcept { return stats_; }
  void record_latency(std::uint64_t ns) { latency_.record(ns); }

  void on_established(connection& c);
  void on_failed(connection& c, std::string_view why);
  void on_closed(connection& c, std::string_view why);
  /// Hello mode: a connection got its answer and the server closed it.
  void on_completed(connection& c);

private:
  void pace();
  void schedule_pace();
  void sweep();
  void report();
  void watch_control();
  void stop();
  /// Hello mode: the slot's next connection, posted so that a burst of
  /// immediate failures cannot recurse.
  void restart(connection& c);
  void write_line(std::string_view line);

  boost::asio::io_context& io_;
  const options& opts_;
  worker_share share_;
  const std::vector<boost::asio::ip::address_v4>& sources_;
  const std::vector<boost::asio::ip::tcp::endpoint>& targets_;
  std::vector<std::string> hosts_;
  int report_fd_;
  boost::asio::posix::stream_descriptor control_;
  char control_byte_ = 0;

  boost::asio::steady_timer pace_timer_;
  boost::asio::steady_timer report_timer_;
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer backstop_;
  std::chrono::steady_clock::time_point began_;

  std::vector<std::unique_ptr<connection>> connections_;
  std::uint32_t started_ = 0;  ///< streams started so far
  std::uint32_t pending_ = 0;  ///< stream handshakes in flight
  std::uint32_t next_seq_ = 0; ///< hello: connections started so far
  bool pace_posted_ = false;
  bool stopping_ = false;

  counters stats_;
  latency_histogram latency_;
  std::map<std::string, std::uint64_t, std::less<>> errors_;
};

/// The worker process's body after fork: builds its io_context and runs.
int run_worker(const worker_setup& setup);

} // namespace floodtest
