/// @file
/// The comet contract (docs/comet.md) as route handlers. Every handler runs in
/// the session process of its connection; a stream's hooks run there too.
#pragma once

#include <atomic>
#include <chrono>

#include "comet_cluster.hpp"
#include "comet_options.hpp"
#include "libactor/http/server.hpp"

namespace libactor {
class node;
class registry;
} // namespace libactor

namespace comet {

/// Longest user id accepted in a path; longer ones get 414 (a registry key
/// is kept per user, so its size is bounded like every other input).
constexpr std::size_t max_user_id_bytes = 256;

/// What the handlers reach. The server is set once it is listening; a
/// request that arrives before (possible: it accepts in its constructor)
/// finds it null and /metrics answers 503.
struct services {
  libactor::node& node;
  libactor::registry& registry;
  const options& opts;
  const cluster& nodes;
  std::atomic<const libactor::http::server*> server{nullptr};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

libactor::http::http_router make_routes(services& svc);

} // namespace comet
