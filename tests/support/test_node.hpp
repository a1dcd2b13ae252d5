/// @file
/// The node configuration tests use: small, quiet, quick to stop.
#pragma once

#include "libactor/node.hpp"

namespace libactor::test {

inline node_config small_node() {
  node_config cfg;
  cfg.io_threads = 2;
  cfg.shutdown_timeout = std::chrono::milliseconds{2000};
  cfg.log_level = log::level::warning;
  return cfg;
}

} // namespace libactor::test
