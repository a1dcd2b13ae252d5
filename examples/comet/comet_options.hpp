/// @file
/// The comet server's command line: every flag with its embedded default,
/// long GNU-style names as a user of nginx or Cowboy would guess them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libactor/log.hpp"

namespace comet {

struct options {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;
  /// I/O threads; 0 means one per core.
  std::size_t threads = 0;
  /// Supervisor shards; 0 means I/O threads x 4.
  std::size_t shards = 0;
  /// Restarts each supervisor shard allows in `period` before it gives up
  /// and escalates (OTP's intensity and period). Only failed session starts
  /// are charged to it: a session's crashes go to its connection's own
  /// budget, so no client can spend it.
  int intensity = 1000;
  std::chrono::milliseconds period{5'000};
  /// Ranch's max_connections (soft). The per-process open-file limit caps it.
  std::size_t max_connections = 16384;
  std::chrono::milliseconds heartbeat{10'000};
  /// Messages each user id keeps for `Last-Event-ID` replay, delivered or
  /// waiting for a stream that is away or restarting.
  std::size_t replay = 64;
  /// Bytes a stream may hold unwritten before --slow-consumer applies.
  std::size_t max_stream_output = 1 << 20;
  /// Largest publish body; never above `max_stream_output`, so that every
  /// accepted message fits every stream.
  std::size_t max_body = 64 * 1024;
  /// "close" (the default: the stream is closed, the client resumes) or
  /// "drop" (messages dropped, the client gets a slow_consumer reset).
  std::string slow_consumer = "close";
  /// How long a message for an absent user (or a replayable one) is kept.
  std::chrono::milliseconds keep{30'000};
  libactor::log::level log_level = libactor::log::level::info;
  /// Adds `POST /crash/<id>` (fault injection); off by default.
  bool allow_crash = false;
  /// NATS servers of the cluster (repeatable --nats); empty: a single node.
  std::vector<std::string> nats;
  /// This node's name in logs and in NATS; empty: <hostname>:<pid>.
  std::string node_name;
  /// First subject token(s), so several applications can share one NATS.
  std::string nats_prefix = "comet";
  /// Stops by itself after this long; zero runs until SIGINT/SIGTERM.
  std::chrono::milliseconds run_for{0};
};

/// What parsing the command line decided.
struct parse_outcome {
  std::optional<options> opts; ///< Set when the server should start.
  int exit_code = 0;           ///< Otherwise: 0 after --help, 2 on a bad flag.
};

/// Parses argv; prints --help or one clear error line itself.
parse_outcome parse_command_line(int argc, char** argv);

/// "10s", "250ms", "2m", "0": a duration with a unit (a bare 0 is allowed).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// "65536", "64KiB", "1MiB": a size in bytes.
std::optional<std::size_t> parse_size(std::string_view text);

} // namespace comet
