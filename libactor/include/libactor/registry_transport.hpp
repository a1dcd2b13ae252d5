/// @file
/// The seam between the registry (registry.hpp) and other nodes. A registry
/// delivers to the processes of its own node; when users outgrow one node, a
/// transport (NATS in the plan, see DESIGN.md "Several nodes") is plugged in
/// here and `registry::send` / `registry::broadcast` reach the other nodes too,
/// with unchanged signatures. A single node needs no transport.
#pragma once

#include <cstddef>
#include <string>

#include "libactor/registry_key.hpp"

namespace libactor {

/// Carries routed messages to other nodes.
///
/// The registry calls the transport after local delivery, outside its locks,
/// from the thread that called `send` or `broadcast`. The receiving side of a
/// transport hands what arrives to `registry::send_local` and
/// `registry::broadcast_local` on its node, which never call the transport
/// again (no echo).
class registry_transport {
public:
  virtual ~registry_transport() = default;

  /// Forwards `payload` for `key` to the other nodes. Returns the processes
  /// it knows it reached there; 0 when it cannot tell (a plain publish).
  virtual std::size_t forward(const registry_key& key, const std::string& payload) = 0;

  /// Forwards a broadcast to the other nodes; the return value as above.
  virtual std::size_t forward_broadcast(const std::string& payload) = 0;
};

} // namespace libactor
