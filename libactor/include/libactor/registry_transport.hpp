/// @file
/// The seam between the registry (registry.hpp) and other nodes. A registry
/// delivers to the processes of its own node; when users outgrow one node, a
/// transport (cluster/nats_transport.hpp, see docs/cluster.md) is
/// plugged in here and `registry::send` / `registry::broadcast` reach the
/// other nodes too, with unchanged signatures. A single node needs no transport.
///
/// The conversation, registry on the left:
///
///     attach(reg) ──────────────► once, from the registry's constructor
///     key_added(k) / key_removed(k) ► k's local process count left / reached 0
///     forward(k, id, payload) ──► one publication per send, in id order
///     forward_broadcast(p) ─────► one publication per broadcast
///     fetch(k, after, done) ────► replay from the cluster's store
///     send_local(k, p, id) ◄───── inbound, with the id given where it entered
///     detach(reg) ──────────────► once, from the registry's destructor
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "libactor/registry_key.hpp"
#include "libactor/routed.hpp"

namespace libactor {

class registry;

/// Carries routed messages to other nodes.
///
/// The receiving side of a transport hands what arrives to the two-argument
/// `registry::send_local(key, payload, id)` and `registry::broadcast_local`,
/// which never call the transport again: no message is forwarded twice.
class registry_transport {
public:
  /// Receives what `fetch` found: the kept messages, oldest first, or
  /// nullopt if none could be asked for (the registry then falls back on
  /// its own buffer).
  using fetch_handler = std::function<void(std::optional<std::vector<routed_message>>)>;

  virtual ~registry_transport() = default;

  // -- lifecycle -----------------------------------------------------------------

  /// The registry this transport serves, from its constructor: a transport
  /// serves one registry and may keep the reference until `detach`.
  virtual void attach(registry& owner) {
    (void) owner;
  }

  /// From the registry's destructor. After it returns, the transport must not
  /// call the registry again (inbound messages find nothing).
  virtual void detach(registry& owner) {
    (void) owner;
  }

  // -- outbound ------------------------------------------------------------------

  /// Forwards `payload` for `key`, numbered `id`, to the other nodes.
  /// Returns the processes it knows it reached there; 0 when it cannot tell
  /// (a plain publish).
  ///
  /// Called under the key's partition lock, right after the registry
  /// assigned `id`: two threads sending to one key forward in id order, so
  /// every node sees the ids of one entry node increase. It must therefore be
  /// quick, never block on the network for long, and never call the registry.
  virtual std::size_t forward(const registry_key& key, message_id id,
                              const std::string& payload) = 0;

  /// Forwards a broadcast; each key on each node numbers it as its own next
  /// message. Called after local delivery, outside the registry's locks.
  virtual std::size_t forward_broadcast(const std::string& payload) = 0;

  // -- interest ------------------------------------------------------------------

  /// `key` got its first local process. Called outside the registry's locks,
  /// so a `key_added` and a `key_removed` of one key may arrive in either
  /// order when they race: read the truth with `registry::lookup` rather
  /// than counting calls.
  virtual void key_added(const registry_key& key) {
    (void) key;
  }

  /// `key` lost its last local process; as `key_added`.
  virtual void key_removed(const registry_key& key) {
    (void) key;
  }

  /// Calls `done` once (from any thread, possibly before returning) when
  /// whatever any node publishes for `key` from then on reaches this node:
  /// for NATS, once the server has answered a round trip sent after the
  /// key's subscription. A stream holds its first bytes until then, so a
  /// client that has them can count on delivery from every node. The
  /// default (a transport that cannot tell) calls it at once.
  virtual void when_reachable(const registry_key& key, std::function<void()> done) {
    (void) key;
    done();
  }

  // -- replay --------------------------------------------------------------------

  /// Asks the cluster's store for the messages of `key` it holds, in the
  /// order it stored them, for a process registering on a node that did not
  /// hear the key (an SSE client back with `Last-Event-ID` on another node,
  /// or a session restarted while its node was not subscribed). `after` is
  /// the message the process resumes after: a store may start there (and
  /// must then include it) or anywhere before; the registry places the
  /// position itself. Calls `done` exactly once, from any thread, possibly
  /// before returning; the registry holds the key's live messages back until
  /// then, so replayed ones come first. The default has no store.
  virtual void fetch(const registry_key& key, std::optional<message_id> after, fetch_handler done) {
    (void) key;
    (void) after;
    done(std::nullopt);
  }
};

} // namespace libactor
