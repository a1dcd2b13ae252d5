/// @file
/// What a process registered in the registry (registry.hpp) receives: the
/// delivery format of `registry::send` and `registry::broadcast`.
///
/// Every routed message arrives as the CAF message
///
///     (routed_atom, std::uint64_t id, std::string payload)
///
/// so a session's behaviour handles it with
///
///     [](libactor::routed_atom, std::uint64_t id, const std::string& payload) { ... }
///
/// `id` counts the messages routed to one key, from 1, with no gaps as sent
/// (a gap seen by a receiver means messages expired or overflowed while the
/// key had no process; the registry counts those). It is the SSE event id
/// that a reconnecting client names in `Last-Event-ID`. The payload is plain
/// bytes in a `std::string` so that a cluster transport can carry it as is.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>

namespace libactor {

/// Tags a message routed through the registry.
using routed_atom = caf::atom_constant<caf::atom("routed")>;

/// A routed message as data, as returned by `registry::replay`.
struct routed_message {
  /// Per key, increasing from 1.
  std::uint64_t id = 0;
  std::string payload;

  friend bool operator==(const routed_message& x, const routed_message& y) {
    return x.id == y.id && x.payload == y.payload;
  }
};

} // namespace libactor
