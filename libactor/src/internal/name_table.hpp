/// @file
/// The node's table of named processes (names.hpp). One mutex: names are
/// registered and looked up far less often than messages are sent.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>

namespace libactor::detail {

struct name_table {
  struct entry {
    caf::actor proc;
    /// The process's exit hook that frees the name.
    std::uint64_t hook = 0;
  };

  std::mutex mtx;
  std::unordered_map<std::string, entry> by_name;
  /// Actor id -> its name: a process has at most one.
  std::unordered_map<std::uint64_t, std::string> by_process;
};

} // namespace libactor::detail
