// Delivery across nodes with message ids (routed.hpp, docs/cluster.md): ids
// are given where a message enters and kept everywhere, broadcasts are
// numbered by each node, inbound frames are checked, and a client that
// moves to another node gets exactly what it missed or a reset first.
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nats/nats.h>

#include "internal/cluster/frame.hpp"
#include "libactor/cluster/nats_transport.hpp"
#include "libactor/process.hpp"
#include "libactor/registry.hpp"
#include "support/cluster_member.hpp"
#include "support/event_log.hpp"
#include "support/nats_server.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;
using namespace test::cluster_member;

namespace {

/// A bare NATS connection: publishes whatever bytes it is given, as a
/// broken or hostile node would.
class raw_publisher {
public:
  explicit raw_publisher(const std::string& url) {
    REQUIRE(natsConnection_ConnectTo(&nc_, url.c_str()) == NATS_OK);
  }
  ~raw_publisher() {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
  raw_publisher(const raw_publisher&) = delete;
  raw_publisher& operator=(const raw_publisher&) = delete;

  void publish(const std::string& subject, const std::string& bytes) {
    REQUIRE(natsConnection_Publish(nc_, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()))
            == NATS_OK);
    REQUIRE(natsConnection_FlushTimeout(nc_, 5'000) == NATS_OK);
  }

private:
  natsConnection* nc_ = nullptr;
};

std::string frame(message_id id, const std::string& payload) {
  return cluster::detail::encode_frame(id, nullptr, payload);
}

} // namespace

TEST_CASE("nats delivery: every process of a key gets all of another node's sends and a broadcast made "
          "at once (8 runs)",
          "[cluster][delivery]") {
  // The issue: two streams of u1 on B, 20 sends on A and a broadcast on B
  // at the same moment; in 5 of 8 runs the streams lost the last sends,
  // discarded for an id below the broadcast's.
  test::nats_server server;
  event_log log;
  member a{server.url(), "A"};
  member b{server.url(), "B", quiet_registry(registry_mode::duplicate)};
  constexpr int sends = 20;
  for (int run = 0; run < 8; ++run) {
    INFO("run " << run);
    auto s1 = fmt::format("b1-{}", run);
    auto s2 = fmt::format("b2-{}", run);
    auto p1 = b.session_named(log, s1);
    auto p2 = b.session_named(log, s2);
    REQUIRE(b.reg.register_process("u1", p1));
    REQUIRE(b.reg.register_process("u1", p2));
    settle(a, b);
    std::thread sender{[&] {
      for (int i = 0; i < sends; ++i)
        a.reg.send("u1", fmt::format("r{}-m{}", run, i));
    }};
    CHECK(b.reg.broadcast(fmt::format("r{}-all", run)) == 2);
    sender.join();
    for (auto& name : {s1, s2}) {
      REQUIRE(wait_received(log, name, sends + 1));
      auto got = received_by(log, name);
      CHECK(got.size() == sends + 1);
      // A's sends in A's order with A's ids; the broadcast somewhere among
      // them, numbered by B in another history.
      std::vector<record> from_a;
      std::vector<record> broadcast;
      for (auto& r : got)
        (r.payload == fmt::format("r{}-all", run) ? broadcast : from_a).push_back(r);
      REQUIRE(from_a.size() == sends);
      REQUIRE(broadcast.size() == 1);
      // A numbers B's broadcast too, in its own history of u1 (A sent to
      // u1 lately, so it keeps it): one seq of A's may fall among its sends,
      // and B never sees that one. Otherwise contiguous.
      bool increasing = true;
      for (int i = 0; i < sends; ++i) {
        CHECK(from_a[i].payload == fmt::format("r{}-m{}", run, i));
        CHECK(from_a[i].id.epoch == from_a[0].id.epoch);
        increasing = increasing && (i == 0 || from_a[i].id.seq > from_a[i - 1].id.seq);
      }
      CHECK(increasing);
      CHECK(from_a[sends - 1].id.seq - from_a[0].id.seq <= sends);
      CHECK(broadcast[0].id.valid());
      CHECK(broadcast[0].id.epoch != from_a[0].id.epoch);
    }
    // Both processes saw the same ids.
    auto ids = [&](const std::string& name) {
      std::set<std::pair<std::uint64_t, std::uint64_t>> out;
      for (auto& r : received_by(log, name))
        out.insert({r.id.epoch, r.id.seq});
      return out;
    };
    CHECK(ids(s1) == ids(s2));
    REQUIRE(b.reg.unregister_process("u1", p1));
    REQUIRE(b.reg.unregister_process("u1", p2));
  }
  CHECK(b.stats().rejected == 0);
}

TEST_CASE("nats delivery: frames with a wrong id or an oversized payload are rejected and counted",
          "[cluster][delivery]") {
  test::nats_server server;
  event_log log;
  member b{server.url(), "B", quiet_registry(),
           [](cluster::nats_config& cfg) { cfg.max_inbound_payload = 1'024; }};
  REQUIRE(b.reg.register_process("k", b.session_named(log, "k")));
  settle(b);
  raw_publisher raw{server.url()};
  auto key_subject = cluster::key_subject(b.transport->config().subject_prefix, "k");
  CHECK(key_subject == b.transport->subject_of("k"));
  auto all_subject = b.transport->config().subject_prefix + ".all";
  // A key's message without a real id: epoch 0, or seq 0.
  raw.publish(key_subject, frame(message_id{0, 5}, "no epoch"));
  raw.publish(key_subject, frame(message_id{5, 0}, "no seq"));
  // A broadcast with an id: each node numbers a broadcast itself.
  raw.publish(all_subject, frame(message_id{7, 1}, "broadcast with id"));
  // Beyond max_inbound_payload, on a key and as a broadcast.
  raw.publish(key_subject, frame(message_id{5, 1}, std::string(1'025, 'x')));
  raw.publish(all_subject, frame(message_id{}, std::string(1'025, 'x')));
  // Not a frame of this version (v1 had a 9-byte header).
  std::string v1 = frame(message_id{5, 2}, "old");
  v1[0] = 1;
  raw.publish(key_subject, v1);
  // And then valid ones, at the limit: they pass.
  raw.publish(key_subject, frame(message_id{5, 3}, std::string(1'024, 'k')));
  raw.publish(all_subject, frame(message_id{}, "broadcast"));
  REQUIRE(wait_received(log, "k", 2));
  REQUIRE(test::eventually([&] { return b.stats().rejected == 6; }));
  auto got = received_by(log, "k");
  REQUIRE(got.size() == 2);
  CHECK(got[0].id == message_id{5, 3});
  CHECK(got[0].payload == std::string(1'024, 'k'));
  CHECK(got[1].payload == "broadcast");
  CHECK(got[1].id.valid());
  CHECK(got[1].id.epoch != 5); // numbered here
  CHECK(b.stats().received == 2);
  CHECK(b.stats().rejected == 6);
}

TEST_CASE("nats delivery: a client moving to another node gets exactly what it missed there, in order, "
          "with no reset",
          "[cluster][delivery][replay]") {
  test::nats_server server;
  event_log log;
  member a{server.url(), "A"};
  member b{server.url(), "B"};
  REQUIRE(test::eventually([&] { return a.stats().jetstream && b.stats().jetstream; }));
  auto on_a = a.session_named(log, "on-a");
  REQUIRE(a.reg.register_process("sse", on_a));
  settle(a, b);
  for (int i = 1; i <= 3; ++i)
    REQUIRE(a.reg.send("sse", fmt::format("e{}", i)) == 1);
  REQUIRE(wait_received(log, "on-a", 3));
  auto last = received_by(log, "on-a").back().id;
  // The client leaves A; more is sent through A meanwhile, which nobody
  // hears but JetStream (and A's own buffer).
  REQUIRE(a.reg.unregister_process("sse", on_a));
  std::vector<message_id> missed;
  for (int i = 4; i <= 7; ++i)
    missed.push_back(a.reg.send_with_id("sse", fmt::format("e{}", i)).id);
  settle(a); // A's publications are past the server
  auto r = b.reg.register_process("sse", b.session_named(log, "on-b"), last);
  REQUIRE(r);
  REQUIRE(wait_received(log, "on-b", 4));
  settle(b);
  auto live = a.reg.send_with_id("sse", "e8").id;
  REQUIRE(wait_received(log, "on-b", 5));
  auto got = received_by(log, "on-b");
  CHECK(payloads(got) == std::vector<std::string>{"e4", "e5", "e6", "e7", "e8"});
  missed.push_back(live);
  for (std::size_t i = 0; i < got.size() && i < missed.size(); ++i)
    CHECK(got[i].id == missed[i]);
  // A's ids, contiguous after the client's.
  CHECK(missed.front() == message_id{last.epoch, last.seq + 1});
  CHECK(resets_of(log, "on-b").empty());
  CHECK_FALSE(r.reset);
  CHECK(b.reg.stats().resets == 0);
  CHECK(b.reg.stats().fetched == 4);
}

TEST_CASE("nats delivery: a client whose id the store does not have, or of an unknown history, gets a "
          "reset first",
          "[cluster][delivery][replay]") {
  test::nats_server server;
  event_log log;
  // The stream keeps 3 messages a key.
  auto small_stream = [](cluster::nats_config& cfg) { cfg.stream_messages_per_key = 3; };
  member a{server.url(), "A", quiet_registry(), small_stream};
  member b{server.url(), "B", quiet_registry(), small_stream};
  REQUIRE(test::eventually([&] { return a.stats().jetstream && b.stats().jetstream; }));
  std::vector<message_id> ids;
  for (int i = 1; i <= 6; ++i)
    ids.push_back(a.reg.send_with_id("gone", fmt::format("g{}", i)).id);
  for (int i = 1; i <= 2; ++i)
    a.reg.send("fresh", fmt::format("f{}", i));
  settle(a);

  SECTION("an id the store no longer keeps") {
    // The client saw g1; the store has g4 to g6.
    auto r = b.reg.register_process("gone", b.session_named(log, "b"), ids[0]);
    REQUIRE(r);
    REQUIRE(wait_received(log, "b", 3));
    CHECK(payloads(received_by(log, "b")) == std::vector<std::string>{"g4", "g5", "g6"});
    auto events = events_of(log, "b");
    REQUIRE_FALSE(events.empty());
    CHECK(events.front()[0] == "reset"); // first, before any message
    CHECK(resets_of(log, "b").size() == 1);
  }
  SECTION("an id of a history nobody has") {
    auto r = b.reg.register_process("fresh", b.session_named(log, "b"), message_id{0x1234, 9});
    REQUIRE(r);
    REQUIRE(wait_received(log, "b", 2));
    CHECK(payloads(received_by(log, "b")) == std::vector<std::string>{"f1", "f2"});
    CHECK(events_of(log, "b").front()[0] == "reset");
    CHECK(resets_of(log, "b") == std::vector<std::string>{"history_reset|-"});
  }
  CHECK(b.reg.stats().resets == 1);
}

TEST_CASE("nats delivery: two nodes numbering the same keys never give one id twice (1,000 keys)",
          "[cluster][delivery]") {
  test::nats_server server;
  member a{server.url(), "A"};
  member b{server.url(), "B"};
  settle(a, b);
  constexpr int keys = 1'000;
  std::set<std::uint64_t> epochs_a;
  std::set<std::uint64_t> epochs_b;
  int same = 0;
  for (int k = 0; k < keys; ++k) {
    auto x = a.reg.send_with_id(k, "from a").id;
    auto y = b.reg.send_with_id(k, "from b").id;
    CHECK(x.seq == 1);
    CHECK(y.seq == 1);
    same += x.epoch == y.epoch ? 1 : 0;
    epochs_a.insert(x.epoch);
    epochs_b.insert(y.epoch);
  }
  CHECK(same == 0);
  // Within one node too, every key's history has its own epoch.
  CHECK(epochs_a.size() == keys);
  CHECK(epochs_b.size() == keys);
  CHECK(epochs_a.count(0) == 0);
  CHECK(epochs_b.count(0) == 0);
}
