/// @file
/// How a run is split over worker processes, source addresses and servers, decided
/// in the parent before anything is forked, and the open-file budget that
/// decides it: every process here is capped at 20,000 descriptors.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "options.hpp"

namespace floodtest {

/// One worker's part of the run.
struct worker_share {
  std::uint32_t first = 0;     ///< first stream index (streams, latency)
  std::uint32_t count = 0;     ///< streams it opens (streams, latency)
  double rate = 0;             ///< its new connections per second (0: no limit)
  std::uint32_t in_flight = 1; ///< connections in flight (hello) or handshakes in flight
};

struct plan {
  std::vector<worker_share> workers;
  /// The servers; connection i goes to `targets[i % size]`.
  std::vector<boost::asio::ip::tcp::endpoint> targets;
  /// Where latency mode POSTs (`--post-to`, else the first target).
  boost::asio::ip::tcp::endpoint post_to;
  /// Client source addresses; connection i binds to `sources[i % size]`.
  /// Empty: the kernel chooses (`--source-base none`).
  std::vector<boost::asio::ip::address_v4> sources;
  std::uint64_t file_limit = 0; ///< RLIMIT_NOFILE after raising it
};

/// Descriptors a worker needs besides its connections: stdio, its two
/// pipes, epoll, eventfd, timerfd, the signal pipe, with room to spare.
inline constexpr std::uint64_t reserved_files = 32;

/// Streams per source address when `--sources` is 0: under the ~28,000
/// ephemeral ports one source address has towards one server port.
inline constexpr std::uint32_t streams_per_source = 25'000;

/// "127.0.0.1:8080" or "127.0.0.1:8080,127.0.0.1:8081".
std::string targets_string(const plan& p);

/// Raises the soft RLIMIT_NOFILE to the hard limit (forked workers inherit
/// it) and returns the new limit.
std::uint64_t raise_open_file_limit();

/// The plan, or one line saying why the flags cannot work (exit status 2).
std::variant<plan, std::string> make_plan(const options& opts, std::uint64_t file_limit);

} // namespace floodtest
