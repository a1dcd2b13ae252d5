/// @file
/// An exit signal sent by `exit/2` (`libactor::exit`, `process::exit(pid,
/// reason)`), as it travels to the receiving process.
///
/// Why not a plain `caf::exit_msg`: CAF takes every exit message for the
/// news that a linked actor died and removes the link to its source before
/// any handler runs. OTP's exit/2 leaves links alone: a process that traps
/// an exit signal from a linked process must still hear of that process's
/// death later. So `exit/2` wraps its `exit_msg` in a message tagged with
/// `exit_signal_atom`, which `process_actor::consume` recognises before CAF
/// sees it; exits propagated over links still arrive as CAF sends them.
#pragma once

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/atom.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_message.hpp>
#include <caf/message_id.hpp>
#include <caf/system_messages.hpp>
#include <caf/type_erased_tuple.hpp>

#include "libactor/exit_reason.hpp"

namespace libactor::detail {

using exit_signal_atom = caf::atom_constant<caf::atom("exitsignal")>;

/// True if `msg` is an exit/2 signal, whose `exit_msg` is then element 1.
inline bool is_exit_signal(const caf::type_erased_tuple& msg) {
  return msg.match_elements<exit_signal_atom, caf::exit_msg>();
}

inline caf::message make_exit_signal(caf::actor_addr source, const exit_reason& reason) {
  return caf::make_message(exit_signal_atom::value, caf::exit_msg{std::move(source), reason.to_caf()});
}

} // namespace libactor::detail
