/// @file
/// One node of a test cluster (a runtime, a nats_transport and a registry,
/// as if it were another OS process) and a session that records what it
/// receives, shared by the [cluster] tests that talk to a real nats-server.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "libactor/cluster/nats_transport.hpp"
#include "libactor/process.hpp"
#include "libactor/registry.hpp"
#include "support/event_log.hpp"
#include "support/test_node.hpp"

namespace Catch {
template <>
struct StringMaker<libactor::message_id> {
  static std::string convert(const libactor::message_id& id) { return libactor::to_string(id); }
};
} // namespace Catch

namespace libactor::test::cluster_member {

using namespace std::chrono_literals;

/// Records each routed message as "<name>|<id>|<payload>" and a reset as
/// "<name>|reset|<reason>|<lost or ->" ('|' because keys and payloads here
/// contain ':' and '.').
inline caf::behavior session(libactor::process&, event_log* log, std::string name) {
  return {[log, name](libactor::routed_atom, const libactor::message_id& id, const std::string& payload) {
            log->push(fmt::format("{}|{}|{}", name, to_string(id), payload));
          },
          [log, name](libactor::reset_atom, const libactor::replay_reset& r) {
            log->push(fmt::format("{}|reset|{}|{}", name, to_string(r.reason),
                                  r.lost ? std::to_string(*r.lost) : std::string{"-"}));
          }};
}

struct record {
  libactor::message_id id;
  std::string payload;
};

/// The fields of `name`'s events in order, split at '|' (the payload, last,
/// may contain none).
inline std::vector<std::vector<std::string>> events_of(const event_log& log, const std::string& name) {
  std::vector<std::vector<std::string>> out;
  for (auto& ev : log.snapshot()) {
    if (ev.size() <= name.size() || ev.compare(0, name.size(), name) != 0 || ev[name.size()] != '|')
      continue;
    std::vector<std::string> fields;
    std::size_t at = name.size() + 1;
    auto bar = ev.find('|', at);
    fields.push_back(ev.substr(at, bar - at));
    if (fields[0] == "reset") {
      at = bar + 1;
      bar = ev.find('|', at);
      fields.push_back(ev.substr(at, bar - at));
    }
    fields.push_back(bar == std::string::npos ? std::string{} : ev.substr(bar + 1));
    out.push_back(std::move(fields));
  }
  return out;
}

/// The messages process `name` received, in order (resets left out).
inline std::vector<record> received_by(const event_log& log, const std::string& name) {
  std::vector<record> out;
  for (auto& f : events_of(log, name)) {
    if (f[0] == "reset")
      continue;
    auto id = libactor::parse_message_id(f[0]);
    REQUIRE(id);
    out.push_back(record{*id, f[1]});
  }
  return out;
}

/// The resets process `name` received, as "<reason>|<lost or ->".
inline std::vector<std::string> resets_of(const event_log& log, const std::string& name) {
  std::vector<std::string> out;
  for (auto& f : events_of(log, name))
    if (f[0] == "reset")
      out.push_back(f[1] + "|" + f[2]);
  return out;
}

inline std::vector<std::string> payloads(const std::vector<record>& xs) {
  std::vector<std::string> out;
  for (auto& x : xs)
    out.push_back(x.payload);
  return out;
}

inline bool wait_received(const event_log& log, const std::string& name, std::size_t n) {
  return eventually([&] { return received_by(log, name).size() >= n; });
}

inline bool has_payload(const event_log& log, const std::string& name, const std::string& payload) {
  auto xs = payloads(received_by(log, name));
  return std::find(xs.begin(), xs.end(), payload) != xs.end();
}

inline libactor::cluster::nats_config fast_config(const std::string& url, const std::string& name) {
  libactor::cluster::nats_config cfg;
  cfg.servers = {url};
  cfg.node_name = name;
  cfg.reconnect_wait = 50ms;
  cfg.connect_timeout = 500ms;
  cfg.request_timeout = 2'000ms;
  return cfg;
}

inline libactor::registry_config quiet_registry(libactor::registry_mode mode = libactor::registry_mode::unique) {
  libactor::registry_config cfg;
  cfg.mode = mode;
  cfg.sweep_interval = 0ms;
  return cfg;
}

/// One node of the cluster: its own runtime, transport and registry, as if
/// it were another OS process.
struct member {
  member(const std::string& url, const std::string& name, libactor::registry_config rc = quiet_registry(),
         std::function<void(libactor::cluster::nats_config&)> tweak = {})
    : transport(make_transport(url, name, tweak)), reg(with_transport(std::move(rc), transport)) {
  }

  static std::shared_ptr<libactor::cluster::nats_transport>
  make_transport(const std::string& url, const std::string& name,
                 const std::function<void(libactor::cluster::nats_config&)>& tweak) {
    auto cfg = fast_config(url, name);
    if (tweak)
      tweak(cfg);
    return std::make_shared<libactor::cluster::nats_transport>(cfg);
  }

  static libactor::registry_config with_transport(libactor::registry_config rc,
                                                  std::shared_ptr<libactor::cluster::nats_transport> t) {
    rc.transport = std::move(t);
    return rc;
  }

  libactor::pid session_named(event_log& log, const std::string& name) {
    return libactor::spawn(n, session, &log, name);
  }

  libactor::cluster::nats_stats stats() const { return transport->stats(); }

  libactor::node n{small_node()};
  std::shared_ptr<libactor::cluster::nats_transport> transport;
  libactor::registry reg;
};

/// Every member connected and its subscriptions seen by the server, so that
/// what is published next reaches them.
template <class... Members>
void settle(Members&... ms) {
  for (auto* m : {&ms...})
    REQUIRE(m->transport->wait_connected(deadline));
}

} // namespace libactor::test::cluster_member
