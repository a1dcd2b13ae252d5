/// @file
/// Named processes, as Erlang's `register/2`, `unregister/1`, `whereis/1`,
/// `registered/0` and `Name ! Msg`: a node-local table from a name (a
/// string) to one process, for any message type.
///
/// - A name names at most one process, and a process has at most one name.
/// - The name is freed when its process exits, for any reason, before any
///   link or monitor hears of the exit (an exit hook, as the BEAM frees a
///   name before delivering any DOWN or 'EXIT'): a supervisor or a monitor
///   reacting to the exit can register the name again at once.
/// - Local to the node: another node's table is another table.
///
/// For routing messages to sessions by user id (many keys, buffering while a
/// session restarts, duplicate keys), see registry.hpp; this is the plain
/// OTP name table.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "libactor/node.hpp"
#include "libactor/pid.hpp"
#include "libactor/process.hpp"

namespace libactor {

/// The outcome of `register_name` (Erlang raises `badarg` for all but `ok`).
enum class name_status : std::uint8_t {
  ok,
  taken,         ///< Another process holds the name.
  already_named, ///< The process already has a name (this or another).
  no_process,    ///< The pid is empty, not a libactor process, or has exited.
  invalid_name,  ///< The empty string.
};

std::string to_string(name_status x);

/// Names `who` `name` on `n`, as `erlang:register(Name, Pid)`. Any thread.
name_status register_name(node& n, const std::string& name, const pid& who);

/// Frees `name`; false if no process held it, as `erlang:unregister/1`
/// (which raises `badarg` then).
bool unregister_name(node& n, const std::string& name);

/// The process named `name`, or an empty pid (Erlang's `undefined`).
pid whereis(node& n, const std::string& name);

/// Every name held on `n`, in no particular order (`erlang:registered/0`).
std::vector<std::string> registered(node& n);

/// Sends to the process named `name` from outside any process, as
/// `Name ! Msg`. False, and nothing is sent, if no process holds the name
/// (where Erlang raises `badarg`). A process that exits after the lookup
/// loses the message, as with any send to a pid.
template <class... Ts>
bool send(node& n, const std::string& name, Ts&&... xs) {
  auto to = whereis(n, name);
  if (!to)
    return false;
  send(to, std::forward<Ts>(xs)...);
  return true;
}

/// The same from inside a process: `self` is the sender.
template <class... Ts>
bool send(process self, const std::string& name, Ts&&... xs) {
  auto to = whereis(self.owner(), name);
  if (!to)
    return false;
  self.send(to, std::forward<Ts>(xs)...);
  return true;
}

} // namespace libactor
