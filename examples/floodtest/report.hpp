/// @file
/// What a run prints: the progress line on stderr every second, the
/// per-second ramp CSV and the latency histogram file for plots, and the
/// one-line JSON summary on stdout at the end.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "counters.hpp"
#include "latency_histogram.hpp"
#include "options.hpp"

namespace floodtest {

/// "[  12.0s] established 3000/15000 active 3000 closed 0 failed 0 chunks/s 1500 messages 0";
/// hello mode shows completed connections and conns/s instead.
std::string progress_line(load_mode mode, const counters& total, std::uint64_t planned, double elapsed_s,
                          double per_second);

/// The `--ramp` file: a header, then one row a second.
class ramp_csv {
public:
  ramp_csv() = default;
  ramp_csv(const ramp_csv&) = delete;
  ramp_csv& operator=(const ramp_csv&) = delete;
  ~ramp_csv();
  /// Empty string on success, else why the file cannot be written.
  std::string open(const std::string& path);
  void row(double elapsed_s, const counters& total, double per_second);

private:
  std::FILE* file_ = nullptr;
};

/// The `--histogram` file: "# upper_us count cumulative_fraction", one
/// non-empty bucket a line (gnuplot: `plot 'h.dat' using 1:3 with steps`).
std::string write_histogram(const std::string& path, const latency_histogram& h);

/// Everything the JSON summary says.
struct summary {
  const options* opts = nullptr;
  std::string target;
  std::size_t workers = 0;
  std::size_t sources = 0;
  std::uint64_t planned = 0;
  double elapsed_s = 0;
  bool timed_out = false;
  bool interrupted = false;
  std::string worker_failure; ///< a worker died or never reported
  counters total;
  std::uint64_t peak_active = 0;
  std::optional<double> bytes_per_conn; ///< client RSS growth / streams, at the peak
  std::map<std::string, std::uint64_t> errors;
  latency_histogram latency;
  // streams
  double ramp_s = 0;
  double hold_s = 0;
  double chunks_per_s = 0;
  // latency
  std::uint32_t sent = 0;
  std::uint32_t answered = 0;
  std::uint64_t expected = 0;
  std::map<std::string, std::uint64_t> send_errors;
  // hello
  double run_s = 0;

  /// Whether the run met its plan: everything established, nothing closed
  /// or lost, no timeout; the process exit status follows it.
  bool clean() const;
};

std::string summary_json(const summary& s);

} // namespace floodtest
