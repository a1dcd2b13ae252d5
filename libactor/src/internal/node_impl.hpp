/// @file
/// The state behind `libactor::node`, shared by the library's .cpp files
/// (never installed: it pulls in Asio).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "internal/process_table.hpp"
#include "libactor/node.hpp"

namespace libactor {

struct node::impl {
  using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  node_config config;
  caf::actor_system_config caf_config; // must outlive `system`
  std::unique_ptr<caf::actor_system> system;
  boost::asio::io_context io;
  std::optional<work_guard> work;
  std::vector<std::thread> io_threads;
  detail::process_table processes;
  std::atomic<bool> running{false};
};

} // namespace libactor
