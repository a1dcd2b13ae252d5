/// @file
/// Several comet nodes behind one NATS (docs/cluster.md): the registry's
/// transport when `--nats` is given, and its counters for /metrics.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "comet_options.hpp"
#include "libactor/registry_transport.hpp"

namespace comet {

struct cluster {
  /// Null for a single node.
  std::shared_ptr<libactor::registry_transport> transport;
  /// Prometheus lines for the transport's counters; empty for one node.
  /// Called by /metrics on an I/O thread: it must not block, so it returns
  /// what a background thread last read (with its age), never asking the
  /// transport itself.
  std::function<std::string()> metrics = [] { return std::string{}; };
};

/// Connects to NATS as `--nats` asks (in the background if it is not up
/// yet: local delivery works meanwhile); throws on a bad URL or prefix.
cluster make_cluster(const options& o);

} // namespace comet
