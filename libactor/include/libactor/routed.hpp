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
/// `id` is the SSE event id that a reconnecting client names in
/// `Last-Event-ID`; all processes of one key see the same id for the same
/// message. How it is made depends on whether the registry has a transport:
///
/// - **One node (no transport, the default):** `id` counts the messages
///   routed to one key, from 1, with no gaps as sent (a gap seen by a
///   receiver means messages expired or overflowed while the key had no
///   process; the registry counts those).
/// - **Several nodes (a transport, cluster/nats_transport.hpp):** the node
///   where a message enters assigns `id = max(now_ms << 20, last_id + 1)`
///   (a hybrid logical clock: wall-clock milliseconds since 1970 in the high
///   44 bits, a per-key counter in the low 20 whose lowest 10 bits name the
///   node that assigned it, so that two nodes numbering a message for one
///   key in the same millisecond never give the same id), and every node
///   delivers it with that same id. Ids of one key increase on the node that assigns
///   them and stay ordered cluster-wide as far as the nodes' clocks agree,
///   so a client that reconnects to another node can name the last id it saw
///   there. They are not consecutive: a gap means nothing. `last_id` also
///   follows the ids a node receives, so a node's next id is above every id
///   it has seen for the key.
///
/// The counter form is kept for one node because it reads well in logs and
/// tests and costs no clock read; the clock form is the only one two nodes
/// can agree on without talking to each other for every message.
///
/// The payload is plain bytes in a `std::string` so that a cluster transport
/// can carry it as is.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>

namespace libactor {

/// Tags a message routed through the registry.
using routed_atom = caf::atom_constant<caf::atom("routed")>;

/// A routed message as data, as returned by `registry::replay`.
struct routed_message {
  /// Per key, increasing (see above for the two forms).
  std::uint64_t id = 0;
  std::string payload;

  friend bool operator==(const routed_message& x, const routed_message& y) {
    return x.id == y.id && x.payload == y.payload;
  }
};

} // namespace libactor
