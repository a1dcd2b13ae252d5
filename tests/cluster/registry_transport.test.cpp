#include "libactor/registry_transport.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "libactor/process.hpp"
#include "libactor/registry.hpp"
#include "support/event_log.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;

namespace {

/// Records "<name>:<id>:<payload>" per message and "<name>:reset:<reason>"
/// for a reset.
caf::behavior session(process&, event_log* log, std::string name) {
  return {[log, name](routed_atom, const message_id& id, const std::string& payload) {
            log->push(fmt::format("{}:{}:{}", name, to_string(id), payload));
          },
          [log, name](reset_atom, const replay_reset& r) {
            log->push(fmt::format("{}:reset:{}", name, to_string(r.reason)));
          }};
}

std::string ev(const std::string& name, message_id id, const std::string& payload) {
  return fmt::format("{}:{}:{}", name, to_string(id), payload);
}

/// Fixture: records what the registry tells it; `fetch` answers only when
/// the test says so, to observe the registry while a replay is under way.
struct recording_transport : registry_transport {
  std::mutex mtx;
  std::vector<std::string> calls;
  std::vector<message_id> forwarded_ids;
  std::optional<message_id> fetch_after;
  fetch_handler pending_fetch;

  void note(std::string x) {
    std::lock_guard<std::mutex> lock{mtx};
    calls.push_back(std::move(x));
  }
  std::size_t forward(const registry_key& key, message_id id, const std::string& payload) override {
    note(fmt::format("forward {} {}", to_string(key), payload));
    std::lock_guard<std::mutex> lock{mtx};
    forwarded_ids.push_back(id);
    return 0;
  }
  std::size_t forward_broadcast(const std::string& payload) override {
    note("broadcast " + payload);
    return 0;
  }
  void key_added(const registry_key& key) override { note("added " + to_string(key)); }
  void key_removed(const registry_key& key) override { note("removed " + to_string(key)); }
  void fetch(const registry_key& key, std::optional<message_id> after, fetch_handler done) override {
    note("fetch " + to_string(key));
    fetch_after = after;
    pending_fetch = std::move(done);
  }
  void answer(std::optional<std::vector<routed_message>> xs) {
    auto done = std::move(pending_fetch);
    pending_fetch = nullptr;
    done(std::move(xs));
  }
};

registry_config with(std::shared_ptr<registry_transport> t, std::size_t replay_window = 0) {
  registry_config cfg;
  cfg.sweep_interval = 0ms;
  cfg.replay_window = replay_window;
  cfg.transport = std::move(t);
  return cfg;
}

/// Another node's history of a key: an epoch this registry does not use.
constexpr std::uint64_t remote_epoch = 0x5eed5eed5eed5eedULL;

} // namespace

TEST_CASE("registry with a transport numbers a key's messages contiguously in its own epoch and delivers "
          "inbound ones with the id they got where they entered",
          "[cluster][registry]") {
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"p"})));
  reg.send("k", "a");
  reg.send("k", "b");
  REQUIRE(t->forwarded_ids.size() == 2);
  auto epoch = t->forwarded_ids[0].epoch;
  CHECK(epoch != 0);
  CHECK(t->forwarded_ids[0] == message_id{epoch, 1});
  CHECK(t->forwarded_ids[1] == message_id{epoch, 2});
  // Another node's message keeps its id, however far ahead its seq is,
  // and does not move this node's numbering of the key.
  message_id remote{remote_epoch, 1'000};
  CHECK(reg.send_local("k", "remote", remote) == 1);
  reg.send("k", "c");
  REQUIRE(t->forwarded_ids.size() == 3);
  CHECK(t->forwarded_ids[2] == message_id{epoch, 3});
  CHECK(log.pop() == ev("p", {epoch, 1}, "a"));
  CHECK(log.pop() == ev("p", {epoch, 2}, "b"));
  CHECK(log.pop() == ev("p", remote, "remote"));
  CHECK(log.pop() == ev("p", {epoch, 3}, "c"));
  // Another key is another history: its own epoch, from 1.
  reg.send("other", "x");
  REQUIRE(t->forwarded_ids.size() == 4);
  CHECK(t->forwarded_ids[3].epoch != epoch);
  CHECK(t->forwarded_ids[3].seq == 1);
  // send_with_id reports the id forwarded.
  auto r = reg.send_with_id("k", "d");
  CHECK(r.reached == 1);
  CHECK(r.id == message_id{epoch, 4});
  CHECK(t->forwarded_ids.back() == r.id);
}

TEST_CASE("registry tells its transport about a key's first and last local process only",
          "[cluster][registry]") {
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  auto cfg = with(t);
  cfg.mode = registry_mode::duplicate;
  registry reg{cfg};
  auto p1 = spawn(n, session, &log, std::string{"p1"});
  auto p2 = spawn(n, session, &log, std::string{"p2"});
  REQUIRE(reg.register_process(7, p1));
  REQUIRE(reg.register_process(7, p2));
  REQUIRE(reg.unregister_process(7, p1));
  libactor::exit(p2, exit_reason::kill());
  REQUIRE(test::eventually([&] { return reg.registration_count() == 0; }));
  std::lock_guard<std::mutex> lock{t->mtx};
  CHECK(t->calls == std::vector<std::string>{"added 7", "removed 7"});
}

TEST_CASE("registry holds a key's messages while its transport fetches, then delivers replayed ones first "
          "and nothing twice",
          "[cluster][registry][replay]") {
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t, 8)};
  auto p = spawn(n, session, &log, std::string{"p"});
  // The client saw message 100 of another node's history of the key.
  message_id seen{remote_epoch, 100};
  auto r = reg.register_process("sse", p, seen);
  REQUIRE(r);
  CHECK(r.delivered == 0);
  CHECK_FALSE(r.reset);
  REQUIRE(t->fetch_after == seen);
  // Live messages while the store is asked: held, not delivered.
  CHECK(reg.send_local("sse", "live", message_id{remote_epoch, 102}) == 1);
  auto local = reg.send_with_id("sse", "local");
  CHECK(local.reached == 1);
  CHECK_FALSE(log.pop(50ms));
  CHECK(reg.stats().pending == 2);
  // The store has an older one, the one the client saw, one it missed and
  // one this node already holds.
  t->answer(std::vector<routed_message>{{{remote_epoch, 99}, "older"},
                                        {seen, "seen"},
                                        {{remote_epoch, 101}, "missed"},
                                        {{remote_epoch, 102}, "live"}});
  // Exactly what the client missed, in order, and no reset: its id was found.
  CHECK(log.pop() == ev("p", {remote_epoch, 101}, "missed"));
  CHECK(log.pop() == ev("p", {remote_epoch, 102}, "live"));
  CHECK(log.pop() == ev("p", local.id, "local"));
  CHECK_FALSE(log.pop(50ms));
  auto s = reg.stats();
  CHECK(s.fetched == 1);
  CHECK(s.pending == 0);
  CHECK(s.resets == 0);
  // Afterwards the key delivers directly.
  CHECK(reg.send_local("sse", "after", message_id{remote_epoch, 103}) == 1);
  CHECK(log.pop() == ev("p", {remote_epoch, 103}, "after"));
  // And the replay window kept them, in delivery order, for the next
  // reconnection.
  auto kept = reg.replay("sse");
  REQUIRE(kept.size() >= 4);
  std::vector<routed_message> tail(kept.end() - 4, kept.end());
  CHECK(tail == std::vector<routed_message>{{{remote_epoch, 101}, "missed"},
                                            {{remote_epoch, 102}, "live"},
                                            {local.id, "local"},
                                            {{remote_epoch, 103}, "after"}});
}

TEST_CASE("registry resets a client whose id the store does not have, then gives it what is kept",
          "[cluster][registry][replay]") {
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  auto r = reg.register_process("sse", spawn(n, session, &log, std::string{"p"}),
                                message_id{remote_epoch, 7});
  REQUIRE(r);
  REQUIRE(t->pending_fetch);
  // The store kept only later messages of that history (7 is gone).
  t->answer(std::vector<routed_message>{{{remote_epoch, 9}, "nine"}, {{remote_epoch, 10}, "ten"}});
  CHECK(log.pop() == "p:reset:history_reset");
  CHECK(log.pop() == ev("p", {remote_epoch, 9}, "nine"));
  CHECK(log.pop() == ev("p", {remote_epoch, 10}, "ten"));
  CHECK_FALSE(log.pop(50ms));
  CHECK(reg.stats().resets == 1);
}

TEST_CASE("registry falls back on its own buffer when the transport cannot fetch",
          "[cluster][registry][replay]") {
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  auto buffered = reg.send_with_id("k", "buffered"); // no process anywhere here: kept
  CHECK(buffered.reached == 0);
  auto p = spawn(n, session, &log, std::string{"p"});
  // A client that saw nothing of this history (another epoch).
  REQUIRE(reg.register_process("k", p, message_id{remote_epoch, 1}));
  REQUIRE(t->pending_fetch);
  CHECK_FALSE(log.pop(50ms));
  t->answer(std::nullopt);
  CHECK(log.pop() == "p:reset:history_reset");
  CHECK(log.pop() == ev("p", buffered.id, "buffered"));
  CHECK(reg.stats().fetched == 0);
}

TEST_CASE("registry asks its transport for what a restarted session missed while the node did not listen",
          "[cluster][registry][replay]") {
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  auto first = spawn(n, session, &log, std::string{"first"});
  REQUIRE(reg.register_process("u", first));
  CHECK_FALSE(t->pending_fetch); // a new key: nothing to catch up on
  message_id seen{remote_epoch, 1'000};
  reg.send_local("u", "seen", seen);
  REQUIRE(log.pop());
  libactor::exit(first, exit_reason::kill());
  REQUIRE(test::eventually([&] { return reg.registration_count() == 0; }));
  REQUIRE(reg.register_process("u", spawn(n, session, &log, std::string{"second"})));
  REQUIRE(t->pending_fetch);
  CHECK(t->fetch_after == seen); // the newest id the node had when it stopped listening
  t->answer(std::vector<routed_message>{{seen, "seen"}, {{remote_epoch, 1'001}, "gap"}});
  CHECK(log.pop() == ev("second", {remote_epoch, 1'001}, "gap"));
  CHECK_FALSE(log.pop(50ms));
}

TEST_CASE("registry numbers an inbound broadcast in each key's own history", "[cluster][registry]") {
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  REQUIRE(reg.register_process("fresh", spawn(n, session, &log, std::string{"fresh"})));
  REQUIRE(reg.register_process("busy", spawn(n, session, &log, std::string{"busy"})));
  auto own = reg.send_with_id("busy", "x");
  // Another node's message does not move the key's own numbering either.
  reg.send_local("busy", "remote", message_id{remote_epoch, 50});
  REQUIRE(log.wait_count(2));
  CHECK(reg.broadcast_local("all") == 2);
  REQUIRE(log.wait_count(4));
  // A key that had no history starts one; a key that had one continues it.
  auto fresh = log.snapshot();
  std::string fresh_event;
  for (auto& e : fresh)
    if (e.rfind("fresh:", 0) == 0)
      fresh_event = e;
  REQUIRE_FALSE(fresh_event.empty());
  auto fresh_id = parse_message_id(fresh_event.substr(6, fresh_event.rfind(':') - 6));
  REQUIRE(fresh_id);
  CHECK(fresh_id->seq == 1);
  CHECK(fresh_id->epoch != own.id.epoch);
  CHECK(log.contains(ev("busy", {own.id.epoch, 2}, "all")));
  // Inbound broadcasts are not forwarded again; a local one is, without an id.
  CHECK(t->calls.size() == 3); // added fresh, added busy, forward busy x
  reg.broadcast("mine");
  REQUIRE(log.wait_count(6));
  CHECK(log.contains(ev("fresh", {fresh_id->epoch, 2}, "mine")));
  CHECK(log.contains(ev("busy", {own.id.epoch, 3}, "mine")));
  CHECK(t->calls.back() == "broadcast mine");
}

TEST_CASE("registry resumes a client whose id the store has as its newest message with no reset",
          "[cluster][registry][replay]") {
  // What the store answers when the client saw everything (jetstream_store's
  // newest-only shortcut): the client's own message, nothing after it.
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  message_id seen{remote_epoch, 42};
  REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"p"}), seen));
  REQUIRE(t->pending_fetch);
  t->answer(std::vector<routed_message>{{seen, "seen"}});
  CHECK(reg.send_local("k", "next", message_id{remote_epoch, 43}) == 1);
  CHECK(log.pop() == ev("p", {remote_epoch, 43}, "next"));
  CHECK_FALSE(log.pop(50ms));
  CHECK(reg.stats().resets == 0);
}

TEST_CASE("registry places what the store has after a client's id behind that id when this node "
          "still holds it",
          "[cluster][registry][replay]") {
  // The key has no process here: its messages sent through this node wait
  // in its buffer. The client saw "one" on another node, which also got
  // "two" from a third; back here, it must get "two" and "three", not take
  // "two" (stored after "one") as seen because the buffer holds "one".
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  auto one = reg.send_with_id("k", "one");
  auto three = reg.send_with_id("k", "three");
  REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"p"}), one.id));
  REQUIRE(t->pending_fetch);
  t->answer(std::vector<routed_message>{{one.id, "one"}, {{remote_epoch, 5}, "two"}, {three.id, "three"}});
  CHECK(log.pop() == ev("p", {remote_epoch, 5}, "two"));
  CHECK(log.pop() == ev("p", three.id, "three"));
  CHECK_FALSE(log.pop(50ms));
  auto s = reg.stats();
  CHECK(s.resets == 0);
  CHECK(s.fetched == 1);
  CHECK(s.pending == 0);
}

TEST_CASE("registry delivers once a message that reached a key it only kept as a tombstone",
          "[cluster][registry][replay]") {
  // The transport's handler may run once more after the key's last process
  // left (registry_transport: key_removed races with delivery): the key is
  // a tombstone here, and the message waits in its buffer. The store has it
  // too; the next process gets it once, with or without the client's id.
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  auto first = spawn(n, session, &log, std::string{"first"});
  REQUIRE(reg.register_process("k", first));
  message_id seen{remote_epoch, 1};
  message_id late{remote_epoch, 2};
  reg.send_local("k", "seen", seen);
  CHECK(log.pop() == ev("first", seen, "seen"));
  REQUIRE(reg.unregister_process("k", first));
  CHECK(reg.send_local("k", "late", late) == 0);
  CHECK(reg.stats().pending == 1);
  std::vector<routed_message> stored{{seen, "seen"}, {late, "late"}};

  SECTION("a client that saw the message before") {
    REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"next"}), seen));
    REQUIRE(t->fetch_after == seen);
    t->answer(stored);
  }
  SECTION("a session restarting without an id") {
    REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"next"})));
    REQUIRE(t->fetch_after == seen); // what the node had when it stopped listening
    t->answer(stored);
  }
  CHECK(log.pop() == ev("next", late, "late"));
  CHECK_FALSE(log.pop(50ms));
  auto s = reg.stats();
  CHECK(s.resets == 0);
  CHECK(s.pending == 0);
  CHECK(s.fetched == 0); // the store had nothing this node did not
}

TEST_CASE("registry never takes a client whose own newest message it keeps no more for up to date "
          "when other nodes' messages came after it",
          "[cluster][registry][replay]") {
  // Review finding: a client on this node saw its own b1, then 70 messages
  // from another node arrived (the replay window keeps the last 64 of
  // them, not b1). Counting this node's seqs alone, b1 is the newest: the
  // client was taken as up to date and lost everything after it silently.
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  auto cfg = with(t, 64);
  cfg.mode = registry_mode::duplicate; // tabs
  registry reg{cfg};
  auto first = spawn(n, session, &log, std::string{"first"});
  REQUIRE(reg.register_process("x", first));
  auto b1 = reg.send_with_id("x", "b1").id;
  std::vector<routed_message> store{{b1, "b1"}};
  for (std::uint64_t i = 1; i <= 70; ++i) {
    message_id a{remote_epoch, i};
    reg.send_local("x", "a" + std::to_string(i), a);
    store.push_back({a, "a" + std::to_string(i)});
  }
  REQUIRE(log.wait_count(71));
  for (int i = 0; i < 71; ++i)
    log.pop();
  SECTION("the store has the client's id: exactly what followed it there, no reset") {
    REQUIRE(reg.unregister_process("x", first));
    REQUIRE(reg.register_process("x", spawn(n, session, &log, std::string{"next"}), b1));
    REQUIRE(t->pending_fetch);
    t->answer(store);
    for (std::uint64_t i = 1; i <= 70; ++i)
      REQUIRE(log.pop() == ev("next", {remote_epoch, i}, "a" + std::to_string(i)));
    CHECK_FALSE(log.pop(50ms));
    CHECK(reg.stats().resets == 0);
  }
  SECTION("another tab holds the key here, nothing is fetched: a reset, then what is kept") {
    REQUIRE(reg.register_process("x", spawn(n, session, &log, std::string{"next"}), b1));
    REQUIRE_FALSE(t->pending_fetch);
    CHECK(log.pop() == "next:reset:window_exceeded");
    for (std::uint64_t i = 7; i <= 70; ++i)
      REQUIRE(log.pop() == ev("next", {remote_epoch, i}, "a" + std::to_string(i)));
    CHECK_FALSE(log.pop(50ms));
  }
}
