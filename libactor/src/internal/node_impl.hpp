/// @file
/// The state behind `libactor::node`, shared by the library's .cpp files
/// (never installed: it pulls in Asio).
#pragma once

#include <atomic>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "internal/io_pool.hpp"
#include "internal/name_table.hpp"
#include "internal/process_table.hpp"
#include "libactor/node.hpp"

namespace libactor {

struct node::impl {
  node_config config;
  // Declared before `system`: the scheduler runs on these threads and the
  // actor system's destructor joins them.
  std::unique_ptr<detail::io_pool> io;
  caf::actor_system_config caf_config; // must outlive `system`
  std::unique_ptr<caf::actor_system> system;
  detail::process_table processes;
  std::atomic<bool> running{false};
  /// Named processes (names.hpp). Shared: exit hooks hold it weakly, so a
  /// process ending after the node's state is gone finds nothing to free.
  std::shared_ptr<detail::name_table> names = std::make_shared<detail::name_table>();
};

} // namespace libactor
