/// @file
/// What a process registered in the registry (registry.hpp) receives: the
/// delivery format of `registry::send` and `registry::broadcast`.
///
/// Every routed message arrives as the CAF message
///
///     (routed_atom, libactor::message_id id, std::string payload)
///
/// so a session's behaviour handles it with
///
///     [](libactor::routed_atom, const libactor::message_id& id, const std::string& payload) { ... }
///
/// `id` (message_id.hpp) is what a reconnecting client names in SSE's
/// `Last-Event-ID`: all processes of one key see the same id for the same
/// message. The node where a message enters numbers it in its own history
/// of the key (`epoch`), one more than the last (`seq`): contiguous per key
/// and entry node, so a gap is always a loss that can be counted. Nodes of
/// a cluster deliver a message with the id it got where it entered
/// (docs/cluster.md); a broadcast is numbered by each key on each node.
///
/// A process that registered with a last-seen id may also receive, before
/// any message of the key, `(reset_atom, libactor::replay_reset)`: the
/// registry could not replay exactly what its client missed
/// (replay_reset.hpp). A process that never passes a last-seen id never
/// gets one.
///
/// The payload is plain bytes in a `std::string` so that a cluster transport
/// can carry it as is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/none.hpp>

#include "libactor/message_id.hpp"
#include "libactor/replay_reset.hpp"

namespace libactor {

/// Tags a message routed through the registry.
using routed_atom = caf::atom_constant<caf::atom("routed")>;

/// Tags a `replay_reset` sent to a registering process.
using reset_atom = caf::atom_constant<caf::atom("rreset")>;

/// Lets CAF carry a reset inside a message and print it. The count travels
/// as count + 1, 0 for unknown: CAF 0.17 cannot inspect `std::optional`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replay_reset& x) {
  std::uint64_t lost = x.lost ? *x.lost + 1 : 0;
  message_id position = x.position.value_or(message_id{});
  return f(x.reason, lost, position, caf::meta::load_callback([&]() -> caf::error {
             x.lost = lost == 0 ? std::nullopt : std::optional<std::uint64_t>{lost - 1};
             x.position = position.position() ? std::optional<message_id>{position} : std::nullopt;
             return caf::none;
           }));
}

/// A routed message as data, as returned by `registry::replay`.
struct routed_message {
  message_id id;
  std::string payload;

  friend bool operator==(const routed_message& x, const routed_message& y) {
    return x.id == y.id && x.payload == y.payload;
  }
};

} // namespace libactor
