// A subscription that falls behind loses messages inside the NATS client
// ("slow consumer"). Issue #14: the loss must be counted in messages, not in
// events, so that what a node received plus what it dropped is what was sent.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "libactor/cluster/nats_transport.hpp"
#include "libactor/process.hpp"
#include "libactor/registry.hpp"
#include "support/event_log.hpp"
#include "support/nats_server.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;

namespace {

caf::behavior counting(process&, std::atomic<std::uint64_t>* n) {
  return {[n](routed_atom, const message_id&, const std::string&) { n->fetch_add(1); }};
}

std::shared_ptr<cluster::nats_transport> transport(const test::nats_server& nats, const std::string& name,
                                                   int max_pending) {
  cluster::nats_config cfg;
  cfg.servers = {nats.url()};
  cfg.node_name = name;
  cfg.jetstream = false; // the loss is the point: no store to recover it
  cfg.max_pending_messages = max_pending;
  return std::make_shared<cluster::nats_transport>(cfg);
}

registry_config with(std::shared_ptr<cluster::nats_transport> t) {
  registry_config rc;
  rc.sweep_interval = 0ms;
  rc.transport = std::move(t);
  return rc;
}

} // namespace

TEST_CASE("nats transport counts in messages what a slow subscription dropped",
          "[cluster][delivery]") {
  test::nats_server nats;
  // Before the nodes: their processes may count into it until they stop.
  std::atomic<std::uint64_t> got{0};
  node na{test::small_node()};
  node nb{test::small_node()};
  auto ta = transport(nats, "a", 65'536);
  auto tb = transport(nats, "b", 1); // one message in flight at most: a burst overflows
  registry ra{with(ta)};
  registry rb{with(tb)};
  auto p = spawn(nb, counting, &got);
  REQUIRE(rb.register_process("k", p).ok());
  REQUIRE(tb->wait_connected(test::deadline));
  REQUIRE(ta->wait_connected(test::deadline));
  constexpr std::uint64_t sent = 20'000;
  for (std::uint64_t i = 0; i < sent; ++i)
    ra.send("k", "m" + std::to_string(i));
  REQUIRE(ta->stats().published == sent);
  // Everything published is either handed to b's registry or counted as
  // dropped by b's client, message by message.
  REQUIRE(test::eventually([&] {
    auto s = tb->stats();
    return s.received + s.slow_consumer_dropped == sent;
  }));
  auto s = tb->stats();
  CHECK(s.slow_consumers > 0);
  CHECK(s.slow_consumer_dropped >= s.slow_consumers);
  CHECK(test::eventually([&] { return got.load() == s.received; }));
}
