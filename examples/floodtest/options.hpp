/// @file
/// The command line of floodtest: every flag, its default, and the checks
/// that make a bad value fail with one line and exit status 2 before any
/// worker is forked.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace floodtest {

/// What a run measures (`--mode`).
enum class load_mode {
  streams, ///< open N streams at a rate, hold them, count chunks
  hello,   ///< `GET /hello` with `Connection: close`: connections per second
  latency, ///< open N streams, send timestamped messages, time every delivery
};

/// How latency mode routes its messages (`--via`).
enum class send_via { broadcast, send };

using duration = std::chrono::nanoseconds;

/// Every flag, with the defaults `--help` shows.
struct options {
  load_mode mode = load_mode::streams;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  /// "ip:port,ip:port": several servers (comet nodes); overrides host/port.
  std::string targets;
  /// "ip:port": where latency mode POSTs its messages; empty: the first
  /// target. Lets a run measure delivery across nodes (streams on one node,
  /// messages entering at another).
  std::string post_to;
  /// Latency: deliveries expected. `answered`: the server's counts (one
  /// node). In a cluster a node answers for its own streams only, so
  /// `all_streams` expects every message on every open stream (a broadcast)
  /// and `user_streams` on every open stream of its user (a send).
  enum class expectation : std::uint8_t { answered, all_streams, user_streams };
  expectation expect = expectation::answered;
  std::uint32_t connections = 1000;
  double rate = 1000;
  std::uint32_t concurrency = 100;
  duration hold = std::chrono::seconds{10};
  duration run_for = std::chrono::seconds{10}; ///< `--duration` (hello)
  std::string id_prefix = "u";
  std::uint32_t users = 0;
  std::uint32_t messages = 10;
  duration interval = std::chrono::milliseconds{500};
  send_via via = send_via::broadcast;
  duration drain = std::chrono::seconds{5};
  std::uint32_t workers = 0;
  std::uint32_t per_process = 18000;
  std::string source_base = "127.0.0.2";
  std::uint32_t sources = 0;
  duration connect_timeout = std::chrono::seconds{10};
  duration timeout = std::chrono::seconds{300};
  std::string histogram_file;
  std::string ramp_file;
  bool quiet = false;

  /// The user id of stream `index`: `--id-prefix` plus the index, or plus
  /// `index % users` when `--users` puts several streams on one user.
  std::string user_of(std::uint32_t index) const;
  /// How many distinct user ids the streams use.
  std::uint32_t user_count() const noexcept { return users != 0 ? users : connections; }
};

/// The outcome of parsing: options to run with, or an exit status (0 after
/// `--help`, 2 after a bad flag, the line already printed).
struct parse_result {
  std::optional<options> opts;
  int exit_code = 0;
};

parse_result parse_options(int argc, char** argv);

/// "10s", "500ms", "2m", "1.5" (seconds), "250us"; nullopt if malformed.
std::optional<duration> parse_duration(std::string_view text);

/// The inverse for messages and `--help`: "10s", "500ms".
std::string format_duration(duration d);

std::string_view name_of(load_mode m) noexcept;
std::string_view name_of(send_via v) noexcept;

} // namespace floodtest
