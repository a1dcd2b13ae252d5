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

caf::behavior session(process&, event_log* log, std::string name) {
  return {[log, name](routed_atom, std::uint64_t id, const std::string& payload) {
    log->push(fmt::format("{}:{}:{}", name, id, payload));
  }};
}

/// Fixture: records what the registry tells it; `fetch` answers only when
/// the test says so, to observe the registry while a replay is under way.
struct recording_transport : registry_transport {
  std::mutex mtx;
  std::vector<std::string> calls;
  std::vector<std::uint64_t> forwarded_ids;
  std::optional<std::uint64_t> fetch_after;
  fetch_handler pending_fetch;

  void note(std::string x) {
    std::lock_guard<std::mutex> lock{mtx};
    calls.push_back(std::move(x));
  }
  std::size_t forward(const registry_key& key, std::uint64_t id, const std::string& payload) override {
    note(fmt::format("forward {} {}", to_string(key), payload));
    std::lock_guard<std::mutex> lock{mtx};
    forwarded_ids.push_back(id);
    return 0;
  }
  std::size_t forward_broadcast(std::uint64_t, const std::string& payload) override {
    note("broadcast " + payload);
    return 0;
  }
  void key_added(const registry_key& key) override { note("added " + to_string(key)); }
  void key_removed(const registry_key& key) override { note("removed " + to_string(key)); }
  void fetch(const registry_key& key, std::uint64_t after, fetch_handler done) override {
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

std::uint64_t now_floor() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  return static_cast<std::uint64_t>(ms) << 20;
}

} // namespace

TEST_CASE("registry with a transport numbers messages by hybrid clock and follows the ids it receives",
          "[cluster][registry]") {
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"p"})));
  auto before = now_floor();
  reg.send("k", "a");
  reg.send("k", "b");
  REQUIRE(t->forwarded_ids.size() == 2);
  CHECK(t->forwarded_ids[0] >= before);
  CHECK(t->forwarded_ids[1] > t->forwarded_ids[0]);
  auto far = t->forwarded_ids[1] + (std::uint64_t{1} << 40);
  CHECK(reg.send_local("k", "remote", far) == 1);
  reg.send("k", "c");
  // The next own id is the step after the one received, in this node's tag
  // (routed.hpp: the low 10 bits name the node that assigned an id).
  auto tag = t->forwarded_ids[0] & 1023;
  CHECK((t->forwarded_ids[1] & 1023) == tag);
  auto c_id = (((far >> 10) + 1) << 10) | tag;
  CHECK(t->forwarded_ids.back() == c_id);
  CHECK(log.pop() == fmt::format("p:{}:a", t->forwarded_ids[0]));
  CHECK(log.pop() == fmt::format("p:{}:b", t->forwarded_ids[1]));
  CHECK(log.pop() == fmt::format("p:{}:remote", far));
  CHECK(log.pop() == fmt::format("p:{}:c", c_id));
  // Inbound messages are never forwarded again.
  CHECK(t->forwarded_ids.size() == 3);
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
  auto r = reg.register_process("sse", p, std::uint64_t{100});
  REQUIRE(r);
  CHECK(r.delivered == 0);
  REQUIRE(t->fetch_after == 100u);
  // Live messages while the store is asked: held, not delivered. One was
  // still in flight from the node the client saw it on.
  CHECK(reg.send_local("sse", "inflight", 95) == 1);
  CHECK(reg.send_local("sse", "live", 250) == 1);
  CHECK(reg.send("sse", "local") == 1);
  CHECK_FALSE(log.pop(50ms));
  CHECK(reg.stats().pending == 3);
  // The store has an older one, one this node already holds, and one the
  // client saw.
  t->answer(std::vector<routed_message>{{90, "seen"}, {150, "missed"}, {250, "live"}});
  CHECK(log.pop() == "p:150:missed");
  CHECK(log.pop() == "p:250:live");
  auto local = log.pop();
  REQUIRE(local);
  CHECK(local->substr(local->rfind(':')) == ":local");
  CHECK_FALSE(log.pop(50ms));
  auto s = reg.stats();
  CHECK(s.fetched == 1);
  CHECK(s.pending == 0);
  // Afterwards the key delivers directly.
  CHECK(reg.send_local("sse", "after", now_floor() + (std::uint64_t{1} << 40)) == 1);
  REQUIRE(log.pop());
  // And the replay window kept all of them for the next reconnection.
  CHECK(reg.replay("sse", 100).size() == 4);
  CHECK(reg.replay("sse", 0).size() == 5);
}

TEST_CASE("registry falls back on its own buffer when the transport cannot fetch",
          "[cluster][registry][replay]") {
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  CHECK(reg.send("k", "buffered") == 0); // no process anywhere here: kept
  auto p = spawn(n, session, &log, std::string{"p"});
  REQUIRE(reg.register_process("k", p, std::uint64_t{1}));
  REQUIRE(t->pending_fetch);
  CHECK_FALSE(log.pop(50ms));
  t->answer(std::nullopt);
  auto got = log.pop();
  REQUIRE(got);
  CHECK(got->substr(got->rfind(':')) == ":buffered");
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
  reg.send_local("u", "seen", 1'000);
  REQUIRE(log.pop());
  libactor::exit(first, exit_reason::kill());
  REQUIRE(test::eventually([&] { return reg.registration_count() == 0; }));
  REQUIRE(reg.register_process("u", spawn(n, session, &log, std::string{"second"})));
  REQUIRE(t->pending_fetch);
  CHECK(t->fetch_after == 1'000u); // the newest id the node had when it stopped listening
  t->answer(std::vector<routed_message>{{1'001, "gap"}});
  CHECK(log.pop() == "second:1001:gap");
}

TEST_CASE("registry numbers an inbound broadcast from its floor on every key", "[cluster][registry]") {
  event_log log;
  node n{test::small_node()};
  auto t = std::make_shared<recording_transport>();
  registry reg{with(t)};
  REQUIRE(reg.register_process("fresh", spawn(n, session, &log, std::string{"fresh"})));
  REQUIRE(reg.register_process("ahead", spawn(n, session, &log, std::string{"ahead"})));
  // Far enough ahead of this node's clock that its own next floor is floor + 1
  // (whose low bits are then dropped for the key's next step).
  auto floor = now_floor() + (std::uint64_t{1} << 40);
  reg.send_local("ahead", "x", floor + 10);
  REQUIRE(log.pop());
  // This node's tag, from an id it assigns itself (low 10 bits, routed.hpp).
  reg.send("probe", "p");
  auto tag = t->forwarded_ids.back() & 1023;
  auto step = std::uint64_t{1} << 10;
  CHECK(reg.broadcast_local("all", floor) == 2);
  REQUIRE(log.wait_count(2));
  // An inbound broadcast keeps its entry node's tag (the floor's low bits,
  // 0 here) so that a key held on several nodes gets one id for it.
  CHECK(log.contains(fmt::format("fresh:{}:all", floor)));
  CHECK(log.contains(fmt::format("ahead:{}:all", floor + step)));
  // This node's next broadcast floor is above the one it received.
  reg.broadcast("mine");
  REQUIRE(log.wait_count(4));
  CHECK(log.contains(fmt::format("fresh:{}:mine", (floor + step) | tag)));
}
