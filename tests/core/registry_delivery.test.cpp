// The registry's delivery model (registry.hpp, message_id.hpp,
// replay_reset.hpp): per key one history (an epoch) with contiguous seqs
// from 1; a registration with the client's last-seen id gets exactly what
// it missed, or first a reset saying why it cannot and how many were lost.
#include "libactor/registry.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "libactor/process.hpp"
#include "support/log_capture.hpp"
#include "support/registry_fixtures.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::gate;
using test::id_log;
using test::manual_clock;
using test::quiet_config;

namespace {

/// Logs each routed message and reset (id_log's format).
caf::behavior session(process&, id_log* log, std::string name) {
  return {
    [log, name](routed_atom, const message_id& id, const std::string& payload) {
      log->routed(name, id, payload);
    },
    [log, name](reset_atom, const replay_reset& r) { log->reset(name, r); },
  };
}

/// Registers itself under `key`, then logs as `session`; on seq `crash_seq`
/// it says "busy", waits at `g` and throws: a session whose handler crashes
/// with messages queued behind it.
caf::behavior crash_on(process& self, id_log* log, registry* reg, registry_key key,
                       std::string name, std::uint64_t crash_seq, std::shared_ptr<gate> g) {
  auto result = reg->register_process(key, self);
  log->push(name + ":register:" + to_string(result.status));
  return {
    [log, name, crash_seq, g](routed_atom, const message_id& id, const std::string& payload) {
      if (id.seq == crash_seq) {
        log->push(name + ":busy");
        if (!g->wait())
          log->push(name + ":gate-timeout");
        throw std::runtime_error("crash on a message");
      }
      log->routed(name, id, payload);
    },
  };
}

/// Sends `n` messages "<prefix>1".."<prefix>n" to `key`; returns their ids.
std::vector<message_id> send_n(registry& reg, const registry_key& key, int n,
                               const std::string& prefix = "m") {
  std::vector<message_id> ids;
  for (int i = 1; i <= n; ++i)
    ids.push_back(reg.send_with_id(key, prefix + std::to_string(i)).id);
  return ids;
}

/// Pops the next `n` log lines.
std::vector<std::string> pop_n(id_log& log, std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(log.pop().value_or("<nothing>"));
  return out;
}

using lines = std::vector<std::string>;

/// A key held by `first` that received ids 1..`n` and then went away
/// (unregistered): what a client that reconnects finds.
std::vector<message_id> delivered_then_left(node& n, id_log& log, registry& reg,
                                            const registry_key& key, int count) {
  auto first = spawn(n, session, &log, std::string{"first"});
  REQUIRE(reg.register_process(key, first));
  auto ids = send_n(reg, key, count);
  REQUIRE(log.wait_count(static_cast<std::size_t>(count)));
  for (int i = 0; i < count; ++i)
    REQUIRE(log.pop());
  REQUIRE(reg.unregister_process(key, first));
  return ids;
}

} // namespace

// -- ids -------------------------------------------------------------------------

TEST_CASE("registry numbers each key's messages from 1 without gaps, in one epoch per key",
          "[registry][delivery]") {
  registry reg{quiet_config()};
  std::vector<message_id> a, b;
  for (int i = 0; i < 5; ++i) {
    a.push_back(reg.send_with_id("a", "x").id);
    if (i % 2 == 0)
      b.push_back(reg.send_with_id(std::uint64_t{7}, "y").id);
  }
  REQUIRE(a.size() == 5);
  REQUIRE(b.size() == 3);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].seq == i + 1);
    CHECK(a[i].epoch == a.front().epoch);
    CHECK(a[i].valid());
  }
  for (std::size_t i = 0; i < b.size(); ++i) {
    CHECK(b[i].seq == i + 1);
    CHECK(b[i].epoch == b.front().epoch);
  }
  CHECK(a.front().epoch != b.front().epoch); // two keys, two histories
  CHECK(reg.stats().routed == 8);
}

TEST_CASE("registry delivers a key's messages with the ids send_with_id reported",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"k"})));
  auto ids = send_n(reg, "k", 3);
  CHECK(pop_n(log, 3) == lines{"k:1:m1", "k:2:m2", "k:3:m3"});
  CHECK(log.epochs() == std::vector<std::uint64_t>{ids.front().epoch});
}

TEST_CASE("registry starts a new epoch in a new registry: a restart is another history",
          "[registry][delivery]") {
  message_id before;
  {
    registry old{quiet_config()};
    send_n(old, "k", 2);
    before = old.send_with_id("k", "m3").id;
  }
  registry fresh{quiet_config()};
  auto after = fresh.send_with_id("k", "m1").id;
  CHECK(before.seq == 3);
  CHECK(after.seq == 1);
  CHECK(after.epoch != before.epoch);
}

TEST_CASE("registry continues a key's epoch within max_age of its last process and starts a new "
          "one after expire forgets it",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  manual_clock clock;
  auto cfg = quiet_config();
  cfg.clock = clock.function();
  registry reg{cfg};
  auto ids = delivered_then_left(n, log, reg, "k", 2);
  // Just short of max_age: the key is still held, its history goes on.
  clock.advance(cfg.max_age - 1ms);
  reg.expire();
  CHECK(reg.stats().entries == 1);
  auto third = reg.send_with_id("k", "m3").id;
  CHECK(third == message_id{ids.front().epoch, 3});
  // Delivered to nobody: it waits (and keeps the key) for max_age.
  clock.advance(cfg.max_age);
  CHECK(reg.expire() == 1);
  CHECK(reg.stats().entries == 0);
  auto next = reg.send_with_id("k", "again").id;
  CHECK(next.seq == 1);
  CHECK(next.epoch != ids.front().epoch);
}

TEST_CASE("registry forgets a key with no process and nothing kept after max_age: new epoch",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  manual_clock clock;
  auto cfg = quiet_config();
  cfg.clock = clock.function();
  registry reg{cfg};
  auto ids = delivered_then_left(n, log, reg, "k", 3);
  clock.advance(cfg.max_age);
  reg.expire();
  CHECK(reg.stats().entries == 0);
  auto next = reg.send_with_id("k", "x").id;
  CHECK(next.seq == 1);
  CHECK(next.epoch != ids.front().epoch);
}

TEST_CASE("registry broadcast gives each key its own next seq", "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  for (auto name : {"a", "b", "c"})
    REQUIRE(reg.register_process(name, spawn(n, session, &log, std::string{name})));
  auto a = send_n(reg, "a", 3);
  REQUIRE(log.wait_count(3)); // "a" logs its epoch first
  auto b = send_n(reg, "b", 1);
  REQUIRE(log.wait_count(4));
  CHECK(reg.broadcast("all") == 3);
  REQUIRE(log.wait_count(7));
  CHECK(log.contains("a:4:all"));
  CHECK(log.contains("b:2:all"));
  CHECK(log.contains("c:1:all")); // its first message starts its history
  // "a" and "b" kept their epochs; "c" got one of its own.
  auto epochs = log.epochs();
  REQUIRE(epochs.size() == 3);
  CHECK(epochs[0] == a.front().epoch);
  CHECK(epochs[1] == b.front().epoch);
  CHECK(epochs[2] != epochs[0]);
  CHECK(epochs[2] != epochs[1]);
  CHECK(reg.send_with_id("a", "after").id == message_id{a.front().epoch, 5});
}

// -- exact replay ------------------------------------------------------------------

TEST_CASE("registry replays exactly what came after the last-seen id from its replay window",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  auto cfg = quiet_config();
  cfg.replay_window = 8;
  registry reg{cfg};
  auto ids = delivered_then_left(n, log, reg, "k", 5);
  auto second = spawn(n, session, &log, std::string{"second"});
  auto r = reg.register_process("k", second, ids[2]); // the client saw m3
  REQUIRE(r);
  CHECK_FALSE(r.reset);
  CHECK(r.delivered == 2);
  CHECK(r.baseline == ids[2]);
  reg.send("k", "m6");
  CHECK(pop_n(log, 3) == lines{"second:4:m4", "second:5:m5", "second:6:m6"});
  CHECK(log.epochs() == std::vector<std::uint64_t>{ids.front().epoch});
  auto s = reg.stats();
  CHECK(s.replayed == 2);
  CHECK(s.resets == 0);
}

TEST_CASE("registry replays nothing and resets nothing for a client that saw the newest message",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  auto window = GENERATE(std::size_t{0}, std::size_t{8});
  auto cfg = quiet_config();
  cfg.replay_window = window;
  registry reg{cfg};
  auto ids = delivered_then_left(n, log, reg, "k", 3);
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"second"}), ids.back());
  REQUIRE(r);
  CHECK_FALSE(r.reset);
  CHECK(r.delivered == 0);
  reg.send("k", "m4");
  CHECK(log.pop() == "second:4:m4");
  CHECK(reg.stats().resets == 0);
}

TEST_CASE("registry replays exactly from the messages pending for an absent key",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto ids = send_n(reg, "k", 5); // nobody holds "k": all pending
  // The client saw m2 elsewhere (another node, an earlier stream).
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}), ids[1]);
  REQUIRE(r);
  CHECK_FALSE(r.reset);
  CHECK(r.delivered == 3);
  CHECK(pop_n(log, 3) == lines{"k:3:m3", "k:4:m4", "k:5:m5"});
  auto s = reg.stats();
  CHECK(s.pending == 0);
  CHECK(s.resets == 0);
  CHECK(s.delivered == 3); // m1 and m2 were not sent again
}

// -- resets ------------------------------------------------------------------------

TEST_CASE("registry resets with window_exceeded and the exact count when the replay window "
          "no longer holds what the client missed",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  auto cfg = quiet_config();
  cfg.replay_window = 3;
  registry reg{cfg};
  auto ids = delivered_then_left(n, log, reg, "k", 10); // window: m8, m9, m10
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"second"}), ids[1]);
  REQUIRE(r);
  REQUIRE(r.reset);
  CHECK(*r.reset == replay_reset{reset_reason::window_exceeded, 5}); // m3..m7
  CHECK(r.delivered == 3);
  // The reset first, then exactly what is still kept.
  CHECK(pop_n(log, 4)
        == lines{"second:reset:window_exceeded:5", "second:8:m8", "second:9:m9", "second:10:m10"});
  auto s = reg.stats();
  CHECK(s.resets == 1);
  CHECK(s.reset_lost == 5);
}

TEST_CASE("registry resets with window_exceeded and the exact count when max_pending dropped "
          "what the client missed",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  auto cfg = quiet_config();
  cfg.max_pending = 3;
  registry reg{cfg};
  auto ids = send_n(reg, "k", 10); // pending: m8, m9, m10
  CHECK(reg.stats().dropped_overflow == 7);
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}), ids[1]);
  REQUIRE(r.reset);
  CHECK(*r.reset == replay_reset{reset_reason::window_exceeded, 5});
  CHECK(r.delivered == 3);
  CHECK(pop_n(log, 4) == lines{"k:reset:window_exceeded:5", "k:8:m8", "k:9:m9", "k:10:m10"});
}

TEST_CASE("registry resets with window_exceeded and the exact count when max_age expired "
          "what the client missed",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  manual_clock clock;
  auto cfg = quiet_config();
  cfg.max_age = 100ms;
  cfg.clock = clock.function();
  registry reg{cfg};
  auto old = send_n(reg, "k", 3);
  clock.advance(60ms);
  reg.send("k", "m4");
  reg.send("k", "m5");
  clock.advance(60ms); // m1..m3 are 120 ms old: gone
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}), old[0]);
  REQUIRE(r.reset);
  CHECK(*r.reset == replay_reset{reset_reason::window_exceeded, 2}); // m2, m3
  CHECK(pop_n(log, 3) == lines{"k:reset:window_exceeded:2", "k:4:m4", "k:5:m5"});
}

TEST_CASE("registry resets with window_exceeded and the exact count when nothing is kept",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()}; // replay_window 0: delivered messages are not kept
  auto ids = delivered_then_left(n, log, reg, "k", 10);
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"second"}), ids[6]);
  REQUIRE(r.reset);
  CHECK(*r.reset == replay_reset{reset_reason::window_exceeded, 3});
  CHECK(r.delivered == 0);
  reg.send("k", "m11");
  CHECK(pop_n(log, 2) == lines{"second:reset:window_exceeded:3", "second:11:m11"});
}

TEST_CASE("registry cannot count what a client missed once another node's messages reached the key",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto ids = delivered_then_left(n, log, reg, "k", 3);
  // A message that entered the cluster elsewhere, with its own history's id.
  reg.send_local("k", "remote", message_id{ids.front().epoch ^ 1, 1});
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"second"}), ids[0]);
  REQUIRE(r.reset);
  CHECK(r.reset->reason == reset_reason::window_exceeded);
  CHECK_FALSE(r.reset->lost); // m2, m3 and maybe more: not a count to show
  reg.send("k", "m4");
  REQUIRE(log.wait_for("second:4:m4"));
  auto got = log.snapshot();
  CHECK(got.front() == "second:reset:window_exceeded:?"); // first, whatever follows
  CHECK(got.back() == "second:4:m4");
  CHECK(reg.stats().reset_lost == 0);
}

TEST_CASE("registry resets with history_reset for an id of another epoch and delivers what it keeps",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto ids = send_n(reg, "k", 2);
  message_id elsewhere{ids.front().epoch ^ 0x5a5a, 1};
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}), elsewhere);
  REQUIRE(r);
  REQUIRE(r.reset);
  CHECK(*r.reset == replay_reset{reset_reason::history_reset, std::nullopt});
  CHECK(r.delivered == 2);
  CHECK(pop_n(log, 3) == lines{"k:reset:history_reset:?", "k:1:m1", "k:2:m2"});
}

TEST_CASE("registry resets with history_reset for an id from before a restart", "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  message_id seen;
  {
    registry before{quiet_config()};
    seen = send_n(before, "k", 4).back();
  }
  registry reg{quiet_config()};
  SECTION("the key has a history here") {
    reg.send("k", "new");
    auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}), seen);
    REQUIRE(r.reset);
    CHECK(*r.reset == replay_reset{reset_reason::history_reset, std::nullopt});
    CHECK(pop_n(log, 2) == lines{"k:reset:history_reset:?", "k:1:new"});
  }
  SECTION("the key has nothing here yet") {
    auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}), seen);
    REQUIRE(r.reset);
    CHECK(*r.reset == replay_reset{reset_reason::history_reset, std::nullopt});
    CHECK(r.delivered == 0);
    reg.send("k", "first");
    CHECK(pop_n(log, 2) == lines{"k:reset:history_reset:?", "k:1:first"});
  }
}

TEST_CASE("registry resets with history_reset for an id of a key forgotten after max_age",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  manual_clock clock;
  auto cfg = quiet_config();
  cfg.clock = clock.function();
  cfg.replay_window = 8;
  registry reg{cfg};
  auto ids = delivered_then_left(n, log, reg, "k", 3);
  clock.advance(cfg.max_age);
  reg.expire();
  REQUIRE(reg.stats().entries == 0);
  reg.send("k", "new");
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"second"}), ids[1]);
  REQUIRE(r.reset);
  CHECK(*r.reset == replay_reset{reset_reason::history_reset, std::nullopt});
  CHECK(pop_n(log, 2) == lines{"second:reset:history_reset:?", "second:1:new"});
}

TEST_CASE("registry resets with unknown_id for a seq beyond the newest and for an unreadable id",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto beyond = GENERATE(true, false);
  auto ids = send_n(reg, "k", 3);
  // Seq 9 of the key's own history, or what a caller passes for an id
  // that could not be read.
  auto seen = beyond ? message_id{ids.front().epoch, 9} : message_id{};
  CAPTURE(beyond);
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}), seen);
  REQUIRE(r);
  REQUIRE(r.reset);
  CHECK(*r.reset == replay_reset{reset_reason::unknown_id, std::nullopt});
  // Everything kept, after the reset.
  CHECK(r.delivered == 3);
  CHECK(pop_n(log, 4) == lines{"k:reset:unknown_id:?", "k:1:m1", "k:2:m2", "k:3:m3"});
}

TEST_CASE("registry never resets a registration that names no last-seen id", "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  auto cfg = quiet_config();
  cfg.max_pending = 2;
  registry reg{cfg};
  send_n(reg, "k", 5); // three dropped: a fresh client has no position to miss them from
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}));
  CHECK_FALSE(r.reset);
  CHECK(pop_n(log, 2) == lines{"k:4:m4", "k:5:m5"});
  CHECK(reg.stats().resets == 0);
}

TEST_CASE("registry counts resets and the messages they reported lost", "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  auto cfg = quiet_config(registry_mode::duplicate);
  cfg.replay_window = 3;
  registry reg{cfg};
  auto ids = send_n(reg, "k", 2);
  REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"a"})));
  send_n(reg, "k", 8, "n"); // seqs 3..10; the window keeps 8..10
  // window_exceeded, 5 lost (3..7).
  CHECK(reg.register_process("k", spawn(n, session, &log, std::string{"b"}), ids[1]).reset
        == replay_reset{reset_reason::window_exceeded, 5});
  // history_reset and unknown_id: counted, with no count lost.
  CHECK(reg.register_process("k", spawn(n, session, &log, std::string{"c"}),
                             message_id{ids[0].epoch ^ 1, 2})
          .reset->reason
        == reset_reason::history_reset);
  CHECK(reg.register_process("k", spawn(n, session, &log, std::string{"d"}), message_id{})
          .reset->reason
        == reset_reason::unknown_id);
  // window_exceeded again, 1 lost (7).
  CHECK(reg.register_process("k", spawn(n, session, &log, std::string{"e"}),
                             message_id{ids[0].epoch, 6})
          .reset
        == replay_reset{reset_reason::window_exceeded, 1});
  auto s = reg.stats();
  CHECK(s.resets == 4);
  CHECK(s.reset_lost == 6);
}

// -- a crashed process's unread messages ---------------------------------------------

TEST_CASE("registry gives a crashed process's unread messages to the process that registers "
          "after the last one it handled",
          "[registry][delivery][exit]") {
  id_log log;
  node n{test::small_node()};
  auto window = GENERATE(std::size_t{0}, std::size_t{8});
  CAPTURE(window);
  auto cfg = quiet_config();
  cfg.replay_window = window;
  registry reg{cfg};
  test::log_capture quiet{log::level::none};
  auto g = std::make_shared<gate>();
  auto first = spawn(n, crash_on, &log, &reg, registry_key{"u"}, std::string{"first"},
                     std::uint64_t{2}, g);
  REQUIRE(log.pop() == "first:register:ok");
  auto m1 = reg.send_with_id("u", "m1").id;
  REQUIRE(log.pop() == "first:1:m1");
  auto m2 = reg.send_with_id("u", "m2").id;
  REQUIRE(log.pop() == "first:busy");
  send_n(reg, "u", 3, "q"); // seqs 3..5, queued behind m2
  g->open();
  REQUIRE(test::eventually([&] { return !alive(first) && reg.registration_count() == 0; }));
  CHECK(reg.stats().reclaimed == 3);
  SECTION("the crashing message counts as handled (as an HTTP session counts it)") {
    auto r = reg.register_process("u", spawn(n, session, &log, std::string{"next"}), m2);
    REQUIRE(r);
    CHECK_FALSE(r.reset);
    CHECK(r.delivered == 3);
    CHECK(pop_n(log, 3) == lines{"next:3:q1", "next:4:q2", "next:5:q3"});
  }
  SECTION("the crashing message counts as not handled") {
    auto r = reg.register_process("u", spawn(n, session, &log, std::string{"next"}), m1);
    REQUIRE(r);
    if (window == 0) {
      // m2 left with the crashed process and is kept nowhere: counted.
      REQUIRE(r.reset);
      CHECK(*r.reset == replay_reset{reset_reason::window_exceeded, 1});
      CHECK(pop_n(log, 4)
            == lines{"next:reset:window_exceeded:1", "next:3:q1", "next:4:q2", "next:5:q3"});
    } else {
      // The replay window still holds it.
      CHECK_FALSE(r.reset);
      CHECK(pop_n(log, 4) == lines{"next:2:m2", "next:3:q1", "next:4:q2", "next:5:q3"});
    }
  }
  reg.send("u", "after");
  CHECK(log.pop() == "next:6:after");
  CHECK(log.epochs() == std::vector<std::uint64_t>{m1.epoch});
}

TEST_CASE("registry resets with window_exceeded counting a crashed duplicate process's unread "
          "messages that its peers got",
          "[registry][delivery][exit]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config(registry_mode::duplicate)}; // replay_window 0
  test::log_capture quiet{log::level::none};
  REQUIRE(reg.register_process("u", spawn(n, session, &log, std::string{"peer"})));
  auto g = std::make_shared<gate>();
  auto first = spawn(n, crash_on, &log, &reg, registry_key{"u"}, std::string{"first"},
                     std::uint64_t{2}, g);
  REQUIRE(log.wait_for("first:register:ok"));
  reg.send("u", "m1");
  auto m2 = reg.send_with_id("u", "m2").id;
  REQUIRE(log.wait_for("first:busy"));
  send_n(reg, "u", 3, "q"); // seqs 3..5: the peer gets them, first has them queued
  g->open();
  REQUIRE(test::eventually([&] { return !alive(first) && reg.registration_count() == 1; }));
  CHECK(reg.stats().dropped_exit == 3);
  auto r = reg.register_process("u", spawn(n, session, &log, std::string{"next"}), m2);
  REQUIRE(r);
  REQUIRE(r.reset);
  CHECK(*r.reset == replay_reset{reset_reason::window_exceeded, 3});
  CHECK(r.delivered == 0);
  REQUIRE(log.wait_for("next:reset:window_exceeded:3"));
  reg.send("u", "after");
  REQUIRE(log.wait_for("next:6:after"));
  REQUIRE(log.wait_for("peer:6:after"));
  // The reset came before anything else for "next".
  std::vector<std::string> mine;
  for (auto& line : log.snapshot())
    if (line.rfind("next:", 0) == 0)
      mine.push_back(line);
  CHECK(mine == lines{"next:reset:window_exceeded:3", "next:6:after"});
  auto s = reg.stats();
  CHECK(s.resets == 1);
  CHECK(s.reset_lost == 3);
}

TEST_CASE("registry delivers an inbound message with the id it got where it entered and goes on "
          "numbering its own",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"k"})));
  auto own = reg.send_with_id("k", "a").id;
  message_id remote{own.epoch ^ 1, 7};
  CHECK(reg.send_local("k", "r", remote) == 1);
  CHECK(reg.send_with_id("k", "b").id == message_id{own.epoch, 2});
  CHECK(pop_n(log, 3) == lines{"k:1:a", "k:7:r", "k:2:b"});
  CHECK(log.epochs() == std::vector<std::uint64_t>{own.epoch, remote.epoch});
}

TEST_CASE("registry reports as baseline the newest message a registering process will not be sent",
          "[registry][delivery]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  SECTION("everything kept is pending: it gets all from the first") {
    send_n(reg, "k", 3);
    auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}));
    // The start of the history: seq 0 names no message.
    REQUIRE(r.baseline);
    CHECK(r.baseline->position());
    CHECK(r.baseline->seq == 0);
    CHECK(r.delivered == 3);
    CHECK(pop_n(log, 3) == lines{"k:1:m1", "k:2:m2", "k:3:m3"});
  }
  SECTION("a key with no history yet: the start of the one it now gets") {
    auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}));
    REQUIRE(r.baseline);
    CHECK(r.baseline->seq == 0);
    CHECK(reg.send_with_id("k", "first").id == message_id{r.baseline->epoch, 1});
  }
  SECTION("delivered before, pending since: it gets the pending ones") {
    auto ids = delivered_then_left(n, log, reg, "k", 3);
    send_n(reg, "k", 2, "p");
    auto r = reg.register_process("k", spawn(n, session, &log, std::string{"second"}));
    CHECK(r.baseline == ids.back());
    CHECK(r.delivered == 2);
    CHECK(pop_n(log, 2) == lines{"second:4:p1", "second:5:p2"});
  }
  SECTION("nothing pending: it gets only what comes next") {
    auto ids = delivered_then_left(n, log, reg, "k", 3);
    auto r = reg.register_process("k", spawn(n, session, &log, std::string{"second"}));
    CHECK(r.baseline == ids.back());
    CHECK(r.delivered == 0);
  }
}
