#include "libactor/cluster/nats_transport.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "libactor/process.hpp"
#include "libactor/registry.hpp"
#include "support/cluster_member.hpp"
#include "support/event_log.hpp"
#include "support/log_capture.hpp"
#include "support/nats_server.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;

using namespace test::cluster_member;

// -- configuration and subjects -----------------------------------------------------

TEST_CASE("nats transport limits have their documented defaults", "[cluster]") {
  cluster::nats_config cfg;
  CHECK(cfg.servers == std::vector<std::string>{"nats://127.0.0.1:4222"});
  CHECK(cfg.subject_prefix == "libactor");
  CHECK(cfg.connect_timeout == 2'000ms);
  CHECK(cfg.reconnect_wait == 2'000ms);
  CHECK(cfg.max_reconnects == -1);
  CHECK_FALSE(cfg.buffer_while_disconnected);
  CHECK(cfg.reconnect_buffer_bytes == 8u * 1024 * 1024);
  CHECK(cfg.retry_on_failed_connect);
  CHECK(cfg.max_pending_messages == 65'536);
  CHECK(cfg.delivery_threads == 1);
  CHECK(cfg.jetstream);
  CHECK(cfg.stream_messages_per_key == 0);
  CHECK(cfg.stream_max_bytes == 256 * 1024 * 1024);
  CHECK(cfg.stream_replicas == 1);
  CHECK(cfg.request_timeout == 1'000ms);
  CHECK(cfg.max_inbound_payload == 1u << 20);
  CHECK(cfg.max_queued_fetches == 10'000);
}

TEST_CASE("nats subjects keep every key apart and never contain a separator, wildcard or space",
          "[cluster]") {
  std::vector<registry_key> keys{"a.b", "a", "a.*", "*", ">", "a b", "", " ", "tab\there", "~2E", ".",
                                 "\xc3\xbc", std::string(300, 'x'), std::string(300, 'x') + "y",
                                 42, "42", std::uint64_t{0}, "0", -1};
  std::set<std::string> subjects;
  for (auto& k : keys) {
    auto s = cluster::key_subject("app.one", k);
    REQUIRE(s.rfind("app.one.key.", 0) == 0);
    auto token = s.substr(std::string{"app.one.key."}.size());
    CHECK_FALSE(token.empty());
    CHECK(token.size() <= 128);
    CHECK(token.find_first_of(".*> \t\r\n") == std::string::npos);
    CHECK(std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 0x7f; }));
    subjects.insert(s);
  }
  CHECK(subjects.size() == keys.size());
  CHECK(cluster::key_subject("p", 42) == "p.key.i42");
  CHECK(cluster::key_subject("p", "42") == "p.key.s42");
  CHECK(cluster::key_subject("p", "a.b") == "p.key.sa~2Eb");
  CHECK(cluster::key_subject("p", "") == "p.key.s");
  CHECK(cluster::key_subject("p", std::string(300, 'x')).substr(0, 7) == "p.key.h");
  CHECK(cluster::valid_subject_prefix("libactor"));
  CHECK(cluster::valid_subject_prefix("tenant-1.comet"));
  for (auto bad : {"", ".a", "a.", "a..b", "a b", "a.*", "a.>", "caf\xc3\xa9"})
    CHECK_FALSE(cluster::valid_subject_prefix(bad));
}

// -- routing ------------------------------------------------------------------------------

TEST_CASE("nats transport send reaches the key's processes on every node exactly once", "[cluster]") {
  test::nats_server server;
  event_log log;
  member a{server.url(), "A"};
  member b{server.url(), "B", quiet_registry(registry_mode::duplicate)};
  member c{server.url(), "C"};
  REQUIRE(a.reg.register_process("alice", a.session_named(log, "a")));
  REQUIRE(b.reg.register_process("alice", b.session_named(log, "b1")));
  REQUIRE(b.reg.register_process("alice", b.session_named(log, "b2")));
  REQUIRE(c.reg.register_process("alice", c.session_named(log, "c")));
  settle(a, b, c);
  constexpr int n = 20;
  for (int i = 0; i < n; ++i)
    CHECK(a.reg.send("alice", fmt::format("m{}", i)) == 1); // local; remote ones are not counted
  for (auto name : {"a", "b1", "b2", "c"})
    REQUIRE(wait_received(log, name, n));
  // B's answer reaches A and C after everything A published before it: any
  // echo of A's own messages would have reached A first.
  CHECK(b.reg.send("alice", "from-b") == 2);
  REQUIRE(test::eventually(
    [&] { return has_payload(log, "a", "from-b") && has_payload(log, "c", "from-b"); }));
  for (auto name : {"a", "b1", "b2", "c"}) {
    auto got = received_by(log, name);
    REQUIRE(got.size() == n + 1);
    CHECK(got.back().payload == "from-b");
  }
  // Every node delivered each message with the id A gave it.
  auto ids = received_by(log, "a");
  for (auto name : {"b1", "b2", "c"}) {
    auto got = received_by(log, name);
    for (int i = 0; i < n; ++i) {
      CHECK(got[i].id == ids[i].id);
      CHECK(got[i].payload == fmt::format("m{}", i));
    }
  }
  CHECK(a.stats().published == n);
  CHECK(a.stats().dropped == 0);
  CHECK(a.stats().received == 1);
  CHECK(b.stats().received == n);
  CHECK(c.stats().received == n + 1);
  CHECK(a.reg.stats().delivered == n + 1);
}

TEST_CASE("nats transport broadcast reaches every process of every node exactly once", "[cluster]") {
  test::nats_server server;
  event_log log;
  member a{server.url(), "A"};
  member b{server.url(), "B"};
  member c{server.url(), "C"};
  REQUIRE(a.reg.register_process(1, a.session_named(log, "a1")));
  REQUIRE(a.reg.register_process(2, a.session_named(log, "a2")));
  REQUIRE(b.reg.register_process(3, b.session_named(log, "b3")));
  REQUIRE(c.reg.register_process(1, c.session_named(log, "c1")));
  REQUIRE(c.reg.register_process("x", c.session_named(log, "cx")));
  settle(a, b, c);
  CHECK(a.reg.broadcast("hello") == 2);
  std::vector<std::string> all{"a1", "a2", "b3", "c1", "cx"};
  for (auto& name : all)
    REQUIRE(wait_received(log, name, 1));
  // A marker from B comes after A's broadcast everywhere (see above).
  CHECK(b.reg.broadcast("marker") == 1);
  for (auto& name : all)
    REQUIRE(test::eventually([&] { return has_payload(log, name, "marker"); }));
  for (auto& name : all)
    CHECK(payloads(received_by(log, name)) == std::vector<std::string>{"hello", "marker"});
  // Key 1 lives on A and C: each node numbered the broadcast in its own
  // history of the key, so the two ids never collide.
  auto on_a1 = received_by(log, "a1")[0].id;
  auto on_c1 = received_by(log, "c1")[0].id;
  CHECK(on_a1.valid());
  CHECK(on_c1.valid());
  CHECK(on_a1.epoch != on_c1.epoch);
  CHECK(a.stats().published == 1);
  CHECK(b.stats().received == 1);
}

TEST_CASE("nats transport keeps one sender's order to a key on every node (1,000 messages)", "[cluster]") {
  test::nats_server server;
  event_log log;
  member a{server.url(), "A"};
  member b{server.url(), "B"};
  member c{server.url(), "C"};
  REQUIRE(a.reg.register_process("hot", a.session_named(log, "a")));
  REQUIRE(b.reg.register_process("hot", b.session_named(log, "b")));
  REQUIRE(c.reg.register_process("hot", c.session_named(log, "c")));
  settle(a, b, c);
  constexpr int n = 1'000;
  for (int i = 0; i < n; ++i)
    a.reg.send("hot", std::to_string(i));
  for (auto name : {"a", "b", "c"}) {
    REQUIRE(wait_received(log, name, n));
    auto got = received_by(log, name);
    REQUIRE(got.size() == n);
    bool in_order = true;
    bool ids_contiguous = true;
    // A numbered them in its history of the key, from 1 with no gap, and
    // every node delivers them with those ids.
    auto epoch = got[0].id.epoch;
    for (int i = 0; i < n; ++i) {
      in_order = in_order && got[i].payload == std::to_string(i);
      ids_contiguous = ids_contiguous && got[i].id == message_id{epoch, static_cast<std::uint64_t>(i) + 1};
    }
    CHECK(epoch != 0);
    CHECK(in_order);
    CHECK(ids_contiguous);
  }
  CHECK(c.stats().received == n);
}

TEST_CASE("nats transport subscribes at a key's first local process and unsubscribes after its last",
          "[cluster]") {
  test::nats_server server;
  event_log log;
  member a{server.url(), "A"};
  member b{server.url(), "B", quiet_registry(registry_mode::duplicate)};
  CHECK(b.stats().subscriptions == 0);
  auto p1 = b.session_named(log, "p1");
  auto p2 = b.session_named(log, "p2");
  REQUIRE(b.reg.register_process("k", p1));
  CHECK(b.stats().subscriptions == 1);
  REQUIRE(b.reg.register_process("k", p2));
  CHECK(b.stats().subscriptions == 1);
  REQUIRE(b.reg.register_process("other", p1));
  CHECK(b.stats().subscriptions == 2);
  REQUIRE(b.reg.unregister_process("k", p1));
  CHECK(b.stats().subscriptions == 2); // p2 still holds "k"
  settle(a, b);
  CHECK(a.reg.send("k", "while-p2") == 0);
  REQUIRE(wait_received(log, "p2", 1));
  // The last process of "k" exits: its guard unregisters it, then the
  // transport unsubscribes.
  libactor::exit(p2, exit_reason::kill());
  REQUIRE(test::eventually([&] { return b.stats().subscriptions == 1; }));
  REQUIRE(b.reg.unregister_process("other", p1));
  CHECK(b.stats().subscriptions == 0);
  // Nothing reaches B for "k" now; a probe on a key it holds proves that
  // A's earlier publication was routed (or not) before it.
  settle(b);
  auto received_before = b.stats().received;
  a.reg.send("k", "after-unsubscribe");
  REQUIRE(b.reg.register_process("probe", p1));
  settle(b);
  a.reg.send("probe", "probe");
  REQUIRE(test::eventually([&] { return has_payload(log, "p1", "probe"); }));
  CHECK(b.stats().received == received_before + 1);
  CHECK(b.reg.stats().pending == 0);
  CHECK(payloads(received_by(log, "p1")) == std::vector<std::string>{"probe"});
}

TEST_CASE("nats transport routes keys with dots, wildcards, spaces, empty and int-vs-string apart",
          "[cluster]") {
  test::nats_server server;
  event_log log;
  member a{server.url(), "A"};
  member b{server.url(), "B"};
  std::vector<registry_key> keys{"a.b", "a", "a.*", "*", ">", "a.>", "a b", "", " ", "tab\there",
                                 "\xc3\xbc", std::string(300, 'x'), std::string(300, 'x') + "y",
                                 42, "42", -1};
  for (std::size_t i = 0; i < keys.size(); ++i)
    REQUIRE(b.reg.register_process(keys[i], b.session_named(log, fmt::format("k{}", i))));
  REQUIRE(b.reg.register_process("end", b.session_named(log, "end")));
  CHECK(b.stats().subscriptions == keys.size() + 1);
  settle(a, b);
  for (std::size_t i = 0; i < keys.size(); ++i)
    CHECK(a.reg.send(keys[i], fmt::format("for-k{}", i)) == 0);
  a.reg.send("end", "end");
  // B's delivery thread hands messages over in arrival order: once "end" is
  // in, every message for B is counted (a subscription matching a subject
  // it should not would count more).
  REQUIRE(test::eventually([&] { return has_payload(log, "end", "end"); }));
  CHECK(b.stats().received == keys.size() + 1);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    INFO("key " << to_string(keys[i]));
    auto name = fmt::format("k{}", i);
    REQUIRE(wait_received(log, name, 1)); // each process runs at its own pace
    CHECK(payloads(received_by(log, name)) == std::vector<std::string>{fmt::format("for-k{}", i)});
  }
  CHECK(b.stats().rejected == 0);
}

// -- replay ---------------------------------------------------------------------------------

TEST_CASE("nats transport replays from JetStream what a process registering on another node missed",
          "[cluster][replay]") {
  test::nats_server server;
  event_log log;
  auto rc = quiet_registry();
  rc.replay_window = 16;
  member a{server.url(), "A", rc};
  member b{server.url(), "B", rc};
  REQUIRE(test::eventually([&] { return a.stats().jetstream && b.stats().jetstream; }));
  REQUIRE(a.reg.register_process("sse", a.session_named(log, "a")));
  settle(a, b);
  for (int i = 1; i <= 5; ++i)
    REQUIRE(a.reg.send("sse", fmt::format("e{}", i)) == 1);
  REQUIRE(wait_received(log, "a", 5));
  settle(a); // as in the test without JetStream: nothing of A's still in flight
  auto on_a = received_by(log, "a");
  // The browser saw e1 and e2 on A, then reconnects to B with Last-Event-ID.
  auto r = b.reg.register_process("sse", b.session_named(log, "b"), on_a[1].id);
  REQUIRE(r);
  REQUIRE(wait_received(log, "b", 3));
  settle(b);
  a.reg.send("sse", "e6");
  REQUIRE(wait_received(log, "b", 4));
  auto on_b = received_by(log, "b");
  CHECK(payloads(on_b) == std::vector<std::string>{"e3", "e4", "e5", "e6"});
  for (int i = 0; i < 3; ++i)
    CHECK(on_b[i].id == on_a[i + 2].id);
  // Exact: the client's id was found among the stored messages, so no reset.
  CHECK_FALSE(r.reset);
  CHECK(resets_of(log, "b").empty());
  CHECK(b.reg.stats().resets == 0);
  CHECK(b.reg.stats().fetched == 3);
  CHECK(b.stats().fetches == 1);
  // The store reads every message it keeps for the key; the registry
  // takes those after the client's.
  CHECK(b.stats().fetched == 5);
  // Nothing twice: B's replayed and live copies were merged by id.
  REQUIRE(test::eventually([&] { return has_payload(log, "a", "e6"); }));
  CHECK(received_by(log, "b").size() == 4);
}

TEST_CASE("nats transport gives a session restarted on its node what other nodes sent meanwhile",
          "[cluster][replay]") {
  test::nats_server server;
  event_log log;
  member a{server.url(), "A"};
  member b{server.url(), "B"};
  REQUIRE(test::eventually([&] { return a.stats().jetstream && b.stats().jetstream; }));
  auto first = b.session_named(log, "first");
  REQUIRE(b.reg.register_process("u", first));
  settle(a, b);
  a.reg.send("u", "before");
  REQUIRE(wait_received(log, "first", 1));
  libactor::exit(first, exit_reason::kill());
  REQUIRE(test::eventually([&] { return b.stats().subscriptions == 0; }));
  // B hears nothing of "u" now; A's messages are only in JetStream.
  a.reg.send("u", "gap1");
  a.reg.send("u", "gap2");
  REQUIRE(a.transport->wait_connected(test::deadline));
  auto r = b.reg.register_process("u", b.session_named(log, "second"));
  REQUIRE(r);
  REQUIRE(wait_received(log, "second", 2));
  settle(b);
  a.reg.send("u", "live");
  REQUIRE(wait_received(log, "second", 3));
  CHECK(payloads(received_by(log, "second")) == std::vector<std::string>{"gap1", "gap2", "live"});
  CHECK(b.reg.stats().fetched == 2);
}

TEST_CASE("nats transport without JetStream logs it once and replays from the local buffer",
          "[cluster][replay]") {
  test::log_capture cap{log::level::info};
  test::nats_server server{false};
  event_log log;
  auto rc = quiet_registry();
  rc.replay_window = 8;
  member a{server.url(), "A", rc};
  member b{server.url(), "B", rc};
  log::set_level(log::level::info); // the nodes set their own level
  settle(a, b);
  REQUIRE(test::eventually(
    [&] { return cap.matching({"event=nats_jetstream_unavailable", "node=B"}).size() == 1; }));
  REQUIRE(a.reg.register_process("k", a.session_named(log, "a")));
  settle(a);
  a.reg.send("k", "m1");
  a.reg.send("k", "m2");
  REQUIRE(wait_received(log, "a", 2));
  // A's publications may still sit in its client's buffer: B, subscribing,
  // would hear them live. A round trip from A puts them behind us.
  settle(a);
  auto r = b.reg.register_process("k", b.session_named(log, "b"), received_by(log, "a")[0].id);
  REQUIRE(r);
  settle(b);
  a.reg.send("k", "m3");
  REQUIRE(wait_received(log, "b", 1));
  CHECK(payloads(received_by(log, "b")) == std::vector<std::string>{"m3"});
  // B never had the key's history and could not ask: the client is told
  // first, not left to believe it missed nothing.
  CHECK(resets_of(log, "b") == std::vector<std::string>{"history_reset|-"});
  CHECK(b.stats().fetch_failures == 1);
  CHECK_FALSE(b.stats().jetstream);
  // A reconnection tries JetStream again, silently.
  server.kill();
  server.start();
  settle(a, b);
  REQUIRE(test::eventually([&] { return b.stats().reconnects >= 1; }));
  CHECK(cap.matching({"event=nats_jetstream_unavailable", "node=B"}).size() == 1);
  CHECK(cap.matching({"event=nats_jetstream_unavailable", "node=A"}).size() == 1);
}

// -- failures -------------------------------------------------------------------------------

TEST_CASE("nats transport drops and counts what is sent while disconnected, so nothing is lost "
          "silently when the server restarts",
          "[cluster][failure]") {
  // The default: no reconnect buffer. A buffered publication would be
  // flushed the moment A reconnects, before B has resubscribed, and core
  // NATS would drop it without a trace (comet's "NATS killed and restarted"
  // scenario failed on exactly that).
  test::log_capture cap{log::level::info};
  test::nats_server server;
  event_log log;
  member a{server.url(), "A"};
  member b{server.url(), "B"};
  log::set_level(log::level::info);
  auto pa = a.session_named(log, "a");
  auto pb = b.session_named(log, "b");
  REQUIRE(a.reg.register_process("k", pa));
  REQUIRE(b.reg.register_process("k", pb));
  settle(a, b);
  a.reg.send("k", "before");
  REQUIRE(wait_received(log, "b", 1));

  server.kill();
  REQUIRE(test::eventually([&] { return !a.stats().connected && !b.stats().connected; }));
  auto before = a.stats();
  constexpr int down = 20;
  for (int i = 0; i < down; ++i)
    CHECK(a.reg.send("k", fmt::format("down{:02}", i)) == 1);
  a.reg.broadcast("down-all");
  REQUIRE(wait_received(log, "a", 2 + down)); // local delivery never stopped
  auto during = a.stats();
  CHECK(during.published == before.published);
  CHECK(during.dropped - before.dropped == down + 1);

  server.start();
  settle(a, b);
  REQUIRE(test::eventually([&] { return a.stats().reconnects == 1 && b.stats().reconnects == 1; }));
  a.reg.send("k", "after");
  REQUIRE(test::eventually([&] { return has_payload(log, "b", "after"); }));
  // Every message of the outage was counted as dropped, so none reaches B.
  CHECK(payloads(received_by(log, "b")) == std::vector<std::string>{"before", "after"});
  CHECK(a.stats().published == during.published + 1);
  CHECK(cap.matching({"event=nats_publish_failed", "node=A"}).size() == 1);
}

TEST_CASE("nats transport survives nats-server being killed and restarted: local delivery goes on, "
          "every message is counted, subscriptions come back",
          "[cluster][failure]") {
  test::log_capture cap{log::level::info};
  test::nats_server server;
  event_log log;
  auto small_buffer = [](cluster::nats_config& cfg) {
    cfg.buffer_while_disconnected = true;
    cfg.reconnect_buffer_bytes = 2'048;
  };
  member a{server.url(), "A", quiet_registry(), small_buffer};
  member b{server.url(), "B", quiet_registry(), small_buffer};
  log::set_level(log::level::info);
  auto pa = a.session_named(log, "a");
  auto pb = b.session_named(log, "b");
  REQUIRE(a.reg.register_process("k", pa));
  REQUIRE(b.reg.register_process("k", pb));
  settle(a, b);
  a.reg.send("k", "before");
  REQUIRE(wait_received(log, "b", 1));

  server.kill();
  // Publications made before the client notices the loss would go into a
  // dead socket (core NATS is at most once); wait for the notice.
  REQUIRE(test::eventually([&] { return !a.stats().connected && !b.stats().connected; }));
  auto before = a.stats();
  constexpr int down = 100;
  const std::string padding(60, '.');
  for (int i = 0; i < down; ++i)
    CHECK(a.reg.send("k", fmt::format("down{:03}{}", i, padding)) == 1);
  REQUIRE(wait_received(log, "a", 1 + down)); // local delivery never stopped
  auto during = a.stats();
  auto published = during.published - before.published;
  auto dropped = during.dropped - before.dropped;
  CHECK(published + dropped == down);
  CHECK(dropped > 0); // 2 KiB of reconnect buffer cannot hold 7 KiB
  CHECK(published > 0);
  CHECK(alive(pa));
  CHECK(alive(pb));
  CHECK(a.reg.registration_count() == 1);

  server.start();
  settle(a, b);
  REQUIRE(test::eventually([&] { return a.stats().reconnects == 1 && b.stats().reconnects == 1; }));
  CHECK(a.stats().subscriptions == 1);
  CHECK(b.stats().subscriptions == 1);
  for (int i = 0; i < 10; ++i)
    a.reg.send("k", fmt::format("after{}", i));
  REQUIRE(test::eventually([&] { return has_payload(log, "b", "after9"); }));
  // Whatever B got of the outage came from the reconnect buffer, in order,
  // and no more than was buffered.
  auto on_b = payloads(received_by(log, "b"));
  std::vector<std::string> from_outage;
  for (auto& p : on_b)
    if (p.rfind("down", 0) == 0)
      from_outage.push_back(p);
  CHECK(from_outage.size() <= published);
  CHECK(std::is_sorted(from_outage.begin(), from_outage.end()));
  CHECK(std::vector<std::string>(on_b.end() - 10, on_b.end())
        == std::vector<std::string>{"after0", "after1", "after2", "after3", "after4", "after5",
                                    "after6", "after7", "after8", "after9"});
  CHECK(cap.matching({"event=nats_disconnected", "node=A"}).size() == 1);
  CHECK(cap.matching({"event=nats_reconnected", "node=A"}).size() == 1);
  CHECK(cap.matching({"event=nats_publish_failed", "node=A"}).size() == 1);
}

TEST_CASE("nats transport starts with no server reachable, delivers locally, and connects when one appears",
          "[cluster][failure]") {
  test::log_capture cap{log::level::info};
  auto server = test::nats_server::not_started();
  event_log log;
  member a{server->url(), "A"};
  member b{server->url(), "B"};
  log::set_level(log::level::info);
  CHECK_FALSE(a.stats().connected);
  CHECK(cap.matching({"event=nats_connect_pending", "node=A"}).size() == 1);
  REQUIRE(a.reg.register_process("k", a.session_named(log, "a")));
  REQUIRE(b.reg.register_process("k", b.session_named(log, "b")));
  CHECK(b.stats().subscriptions == 1);
  CHECK(a.reg.send("k", "local") == 1);
  REQUIRE(wait_received(log, "a", 1));
  CHECK_FALSE(a.transport->wait_connected(100ms));

  server->start();
  settle(a, b);
  a.reg.send("k", "remote");
  REQUIRE(test::eventually([&] { return has_payload(log, "b", "remote"); }));
  CHECK(a.stats().connected);
  CHECK(cap.matching({"event=nats_connected", "node=B"}).size() == 1);
  auto on_b = payloads(received_by(log, "b"));
  CHECK(on_b.back() == "remote");
}

TEST_CASE("nats transport refuses a bad subject prefix and a second registry", "[cluster]") {
  auto bad = fast_config("nats://127.0.0.1:1", "X");
  bad.subject_prefix = "a.*";
  CHECK_THROWS_AS(cluster::nats_transport{bad}, std::invalid_argument);
  test::nats_server server;
  auto t = std::make_shared<cluster::nats_transport>(fast_config(server.url(), "T"));
  registry_config rc;
  rc.transport = t;
  registry first{rc};
  CHECK_THROWS_AS(registry{rc}, std::logic_error);
}
