#include "libactor/registry.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <stdexcept>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <caf/atom.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "libactor/process.hpp"
#include "libactor/supervisor.hpp"
#include "support/event_log.hpp"
#include "support/registry_fixtures.hpp"
#include "support/log_capture.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;
using test::gate;
using test::id_log;
using test::manual_clock;
using test::quiet_config;

namespace {

using stop_atom = caf::atom_constant<caf::atom("stop")>;

/// Fixture protocol: logs each routed message and reset (id_log).
caf::behavior session(process& self, id_log* log, std::string name) {
  return {
    [log, name](routed_atom, const message_id& id, const std::string& payload) {
      log->routed(name, id, payload);
    },
    [log, name](reset_atom, const replay_reset& r) { log->reset(name, r); },
    [self](stop_atom) mutable { self.exit(); },
  };
}

/// Fixture: registers itself under `key` from its own body, records the
/// outcome, then behaves as `session`.
caf::behavior self_registering(process& self, id_log* log, registry* reg, registry_key key) {
  auto result = reg->register_process(key, self);
  log->push("register:" + to_string(result.status));
  return session(self, log, "self");
}

/// Fixture: records routed ids only, for high-volume tests.
caf::behavior counter(process&, std::shared_ptr<std::atomic<std::size_t>> n) {
  return {[n](routed_atom, const message_id&, const std::string&) { ++*n; }};
}

/// Fixture: registers itself under `key`, then records routed messages; on
/// seq 1 it says "busy", waits at `g` and crashes (a handler that throws).
caf::behavior crash_on_first(process& self, id_log* log, registry* reg, registry_key key,
                             std::string name, std::shared_ptr<gate> g) {
  auto result = reg->register_process(key, self);
  log->push(name + ":register:" + to_string(result.status));
  return {
    [log, name, g](routed_atom, const message_id& id, const std::string& payload) {
      if (id.seq == 1 && g) {
        log->push(name + ":busy");
        if (!g->wait())
          log->push(name + ":gate-timeout");
        throw std::runtime_error("crash on message 1");
      }
      log->routed(name, id, payload);
    },
    [log, name](reset_atom, const replay_reset& r) { log->reset(name, r); },
  };
}

/// Registers a crash_on_first process under "u", has it take message 1 and
/// wait while 2..`queued + 1` are queued behind it, then lets it crash; waits
/// until its registration is gone.
pid crash_with_queued(node& n, id_log& log, registry& reg, int queued) {
  auto g = std::make_shared<gate>();
  auto p = spawn(n, crash_on_first, &log, &reg, registry_key{"u"}, std::string{"first"}, g);
  REQUIRE(log.pop() == "first:register:ok");
  REQUIRE(reg.send("u", "m1") >= 1);
  REQUIRE(log.pop() == "first:busy");
  for (int i = 2; i <= queued + 1; ++i)
    REQUIRE(reg.send("u", fmt::format("m{}", i)) >= 1);
  g->open();
  REQUIRE(test::eventually([&] { return !alive(p); }));
  return p;
}

/// The seqs of kept messages, oldest first.
std::vector<std::uint64_t> seqs_of(const std::vector<routed_message>& xs) {
  std::vector<std::uint64_t> out;
  for (auto& m : xs)
    out.push_back(m.id.seq);
  return out;
}

/// Whether kept messages are all of one history (one epoch, never 0).
bool one_epoch(const std::vector<routed_message>& xs) {
  return std::all_of(xs.begin(), xs.end(), [&](const routed_message& m) {
    return m.id.epoch != 0 && m.id.epoch == xs.front().id.epoch;
  });
}

void kill_and_wait(const pid& p) {
  libactor::exit(p, exit_reason::kill());
  REQUIRE(test::eventually([&] { return !alive(p); }));
}

} // namespace

// -- configuration -----------------------------------------------------------

TEST_CASE("registry limits have their documented defaults", "[registry]") {
  registry_config cfg;
  CHECK(cfg.mode == registry_mode::unique);
  CHECK(cfg.partitions == 64);
  CHECK(cfg.max_pending == 256);
  CHECK(cfg.max_age == 30'000ms);
  CHECK(cfg.replay_window == 0);
  CHECK(cfg.sweep_interval == 1'000ms);
  CHECK(cfg.transport == nullptr);
}

// -- keys and modes ------------------------------------------------------------

TEST_CASE("registry unique key holds one process and a second registration fails naming the holder",
          "[registry]") {
  id_log log; // outlives the node: processes push into it until it stops
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto a = spawn(n, session, &log, std::string{"a"});
  auto b = spawn(n, session, &log, std::string{"b"});
  REQUIRE(reg.register_process("alice", a));
  auto second = reg.register_process("alice", b);
  CHECK_FALSE(second);
  CHECK(second.status == register_status::taken);
  CHECK(to_string(second.status) == "taken");
  CHECK(second.holder == a);
  CHECK(reg.register_process("alice", a).status == register_status::already_registered);
  CHECK(reg.lookup("alice") == std::vector<pid>{a});
  CHECK(reg.key_count() == 1);
  CHECK(reg.registration_count() == 1);
  CHECK(reg.send("alice", "hi") == 1);
  CHECK(log.pop() == "a:1:hi");
}

TEST_CASE("registry duplicate key holds several processes and send reaches every one", "[registry]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config(registry_mode::duplicate)};
  std::vector<pid> tabs;
  for (int i = 0; i < 3; ++i) {
    tabs.push_back(spawn(n, session, &log, fmt::format("tab{}", i)));
    REQUIRE(reg.register_process(std::uint64_t{7}, tabs.back()));
  }
  CHECK(reg.register_process(7, tabs[0]).status == register_status::already_registered);
  CHECK(reg.lookup(7) == tabs);
  CHECK(reg.key_count() == 1);
  CHECK(reg.registration_count() == 3);
  CHECK(reg.send(7, "news") == 3);
  REQUIRE(log.wait_count(3));
  for (int i = 0; i < 3; ++i)
    CHECK(log.contains(fmt::format("tab{}:1:news", i)));
}

TEST_CASE("registry string and integer keys are distinct even when they read alike", "[registry]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto by_int = spawn(n, session, &log, std::string{"int"});
  auto by_str = spawn(n, session, &log, std::string{"str"});
  REQUIRE(reg.register_process(42, by_int));
  REQUIRE(reg.register_process("42", by_str));
  CHECK(reg.key_count() == 2);
  CHECK(to_string(registry_key{42}) == "42");
  CHECK(to_string(registry_key{"42"}) == "\"42\"");
  CHECK(reg.send(42, "x") == 1);
  CHECK(log.pop() == "int:1:x");
  CHECK(reg.send("42", "y") == 1);
  CHECK(log.pop() == "str:1:y");
  CHECK(reg.lookup(std::string{"42"}) == std::vector<pid>{by_str});
}

TEST_CASE("registry accepts a process registering itself from its own body", "[registry]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto p = spawn(n, self_registering, &log, &reg, registry_key{"me"});
  REQUIRE(log.pop() == "register:ok");
  CHECK(reg.lookup("me") == std::vector<pid>{p});
  CHECK(reg.send("me", "hello") == 1);
  CHECK(log.pop() == "self:1:hello");
}

TEST_CASE("registry refuses an empty pid with no_process", "[registry]") {
  registry reg{quiet_config()};
  auto r = reg.register_process("k", pid{});
  CHECK(r.status == register_status::no_process);
  CHECK(reg.stats().entries == 0);
}

TEST_CASE("registry unregister stops delivery and frees a unique key", "[registry]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto a = spawn(n, session, &log, std::string{"a"});
  auto b = spawn(n, session, &log, std::string{"b"});
  REQUIRE(reg.register_process("k", a));
  CHECK(reg.unregister_process("k", a));
  CHECK_FALSE(reg.unregister_process("k", a));
  CHECK(reg.lookup("k").empty());
  CHECK(reg.registration_count() == 0);
  REQUIRE(reg.register_process("k", b));
  CHECK(reg.send("k", "m") == 1);
  CHECK(log.pop() == "b:1:m");
  // `a` unregistered but alive: nothing was enqueued to it.
  CHECK(reg.stats().delivered == 1);
  // Its exit later must not remove b's registration of the same key.
  kill_and_wait(a);
  CHECK(reg.lookup("k") == std::vector<pid>{b});
}

// -- send and broadcast --------------------------------------------------------

TEST_CASE("registry send returns how many processes were reached", "[registry]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config(registry_mode::duplicate)};
  auto a = spawn(n, session, &log, std::string{"a"});
  auto b = spawn(n, session, &log, std::string{"b"});
  REQUIRE(reg.register_process("two", a));
  REQUIRE(reg.register_process("two", b));
  REQUIRE(reg.register_process("one", a));
  CHECK(reg.send("two", "x") == 2);
  CHECK(reg.send("one", "y") == 1);
  CHECK(reg.send("none", "z") == 0);
  REQUIRE(log.wait_count(3));
  auto s = reg.stats();
  CHECK(s.routed == 3);
  CHECK(s.delivered == 3);
  CHECK(s.buffered == 1);
  CHECK(s.pending == 1);
}

TEST_CASE("registry broadcast reaches every registered process once and returns the count",
          "[registry]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config(registry_mode::duplicate)};
  for (int i = 0; i < 5; ++i)
    REQUIRE(reg.register_process(i, spawn(n, session, &log, fmt::format("p{}", i))));
  auto both = spawn(n, session, &log, std::string{"both"});
  REQUIRE(reg.register_process(0, both));
  REQUIRE(reg.register_process("absent", spawn(n, session, &log, std::string{"gone"})));
  REQUIRE(reg.unregister_process("absent", reg.lookup("absent").front()));
  REQUIRE(reg.send("absent", "waiting") == 0);
  CHECK(reg.broadcast("all") == 6);
  REQUIRE(log.wait_count(6));
  for (int i = 0; i < 5; ++i)
    CHECK(log.contains(fmt::format("p{}:1:all", i)));
  CHECK(log.contains("both:1:all"));
  // An absent key with pending messages keeps the broadcast for its return.
  CHECK(reg.stats().pending == 2);
  CHECK(reg.stats().delivered == 6);
}

// -- automatic unregistration --------------------------------------------------

TEST_CASE("registry holds no entry for any of 10,000 killed processes", "[registry][exit]") {
  node n{test::small_node()};
  manual_clock clock;
  auto cfg = quiet_config();
  cfg.clock = clock.function();
  registry reg{cfg};
  constexpr int count = 10'000;
  auto received = std::make_shared<std::atomic<std::size_t>>(0);
  std::vector<pid> procs;
  procs.reserve(count);
  for (int i = 0; i < count; ++i) {
    procs.push_back(spawn(n, counter, received));
    REQUIRE(reg.register_process(i, procs.back()));
  }
  REQUIRE(reg.registration_count() == count);
  REQUIRE(reg.broadcast("before") == count);
  test::log_capture quiet{log::level::none}; // 10,000 crash reports otherwise
  for (auto& p : procs)
    libactor::exit(p, exit_reason::kill());
  REQUIRE(test::eventually([&] { return reg.registration_count() == 0; }));
  CHECK(reg.key_count() == 0);
  for (int i = 0; i < count; ++i)
    REQUIRE(reg.lookup(i).empty());
  CHECK(reg.broadcast("after") == 0);
  // Each key's id counter outlives its process by `max_age`, then goes.
  CHECK(reg.stats().entries == count);
  clock.advance(cfg.max_age);
  reg.expire();
  CHECK(reg.stats().entries == 0);
  CHECK(test::eventually([&] { return n.process_count() == 0; }));
}

TEST_CASE("registry drops a registration before a monitor made earlier hears of the exit",
          "[registry][exit]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto victim = spawn(n, session, &log, std::string{"victim"});
  auto watcher = spawn(n, [&log](process& self, pid target) -> caf::behavior {
    self.monitor(target);
    self.on_down([&log](const pid&, const exit_reason&) { log.push("down"); });
    log.push("watching");
    return {[](stop_atom) {}};
  }, victim);
  REQUIRE(log.pop() == "watching");
  REQUIRE(reg.register_process("user", victim));
  libactor::exit(victim, exit_reason::error("crash"));
  REQUIRE(log.pop() == "down");
  // No polling: a supervisor restarting on this down would find the key free.
  CHECK(reg.lookup("user").empty());
  auto replacement = spawn(n, session, &log, std::string{"new"});
  CHECK(reg.register_process("user", replacement));
  (void) watcher;
}

TEST_CASE("registry frees a unique key before a monitor made later hears of the exit, every round",
          "[registry][exit]") {
  // Erlang frees a name before any DOWN is delivered. A registration's guard
  // used to run among the attachables, after monitors made later than it.
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  test::log_capture quiet{log::level::none};
  int ok = 0;
  for (int round = 0; round < 300; ++round) {
    auto victim = spawn(n, self_registering, &log, &reg, registry_key{"k"});
    REQUIRE(log.pop() == "register:ok");
    auto watcher = spawn(n, [&log, &reg](process& self, pid target) -> caf::behavior {
      self.monitor(target);
      self.on_down([&log, &reg, self](const pid&, const exit_reason&) {
        log.push("down:" + to_string(reg.register_process("k", self).status));
      });
      log.push("watching");
      return {[self](stop_atom) mutable { self.exit(); }};
    }, victim);
    REQUIRE(log.pop() == "watching");
    libactor::exit(victim, exit_reason::error("crash"));
    auto down = log.pop();
    REQUIRE(down);
    if (*down == "down:ok")
      ++ok;
    // The watcher holds the key now; its exit frees it for the next round.
    libactor::send(watcher, stop_atom::value);
    REQUIRE(test::eventually([&] { return reg.lookup("k").empty(); }));
  }
  CHECK(ok == 300);
}

TEST_CASE("registry frees a unique key before a linked trapping process gets the exit signal",
          "[registry][exit]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  test::log_capture quiet{log::level::none};
  int ok = 0;
  for (int round = 0; round < 300; ++round) {
    auto victim = spawn(n, self_registering, &log, &reg, registry_key{"k"});
    REQUIRE(log.pop() == "register:ok");
    auto trapper = spawn(n, [&log, &reg](process& self, pid target) -> caf::behavior {
      self.trap_exit(true);
      self.link(target);
      self.on_exit([&log, &reg, self](const pid&, const exit_reason&) {
        log.push("exit:" + to_string(reg.register_process("k", self).status));
      });
      log.push("linked");
      return {[self](stop_atom) mutable { self.exit(); }};
    }, victim);
    REQUIRE(log.pop() == "linked");
    libactor::exit(victim, exit_reason::error("crash"));
    auto signal = log.pop();
    REQUIRE(signal);
    if (*signal == "exit:ok")
      ++ok;
    libactor::send(trapper, stop_atom::value);
    REQUIRE(test::eventually([&] { return reg.lookup("k").empty(); }));
  }
  CHECK(ok == 300);
}

TEST_CASE("registry exit hooks are isolated: a transport throwing in key_removed skips nothing",
          "[registry][exit]") {
  struct throwing_transport : registry_transport {
    std::size_t forward(const registry_key&, message_id, const std::string&) override { return 0; }
    std::size_t forward_broadcast(const std::string&) override { return 0; }
    void key_removed(const registry_key&) override { throw std::runtime_error("transport down"); }
  };
  id_log log;
  node n{test::small_node()};
  auto cfg = quiet_config();
  cfg.transport = std::make_shared<throwing_transport>();
  registry reg{cfg};
  test::log_capture captured{log::level::error};
  auto victim = spawn(n, session, &log, std::string{"victim"});
  REQUIRE(reg.register_process("a", victim));
  REQUIRE(reg.register_process("b", victim));
  auto watcher = spawn(n, [&log](process& self, pid target) -> caf::behavior {
    self.monitor(target);
    self.on_down([&log](const pid&, const exit_reason&) { log.push("down"); });
    log.push("watching");
    return {[](stop_atom) {}};
  }, victim);
  REQUIRE(log.pop() == "watching");
  auto before = n.process_count();
  libactor::exit(victim, exit_reason::error("crash"));
  // Both registrations go although each hook throws, the monitor fires and
  // the process table forgets the process.
  REQUIRE(log.pop() == "down");
  CHECK(reg.lookup("a").empty());
  CHECK(reg.lookup("b").empty());
  CHECK(reg.registration_count() == 0);
  CHECK(test::eventually([&] { return n.process_count() == before - 1; }));
  auto lines = captured.lines();
  CHECK(std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
          return l.find("exit_hook_failed") != std::string::npos;
        }) == 2);
  (void) watcher;
}

// -- messages an exiting process left unread ----------------------------------

TEST_CASE("registry hands a crashed session's unread messages to its restarted successor in order",
          "[registry][exit][supervisor]") {
  // Issue #13, item 2: crash on message 1 with 2..5 queued; the supervisor
  // restarts the session, which registers again and must get 2..5, then 6.
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  test::log_capture quiet{log::level::none};
  auto g = std::make_shared<gate>();
  auto generation = std::make_shared<std::atomic<int>>(0);
  auto start = [&log, &reg, g, generation](process& sup, const std::any&) {
    auto name = fmt::format("gen{}", ++*generation);
    return sup.spawn_link(crash_on_first, &log, &reg, registry_key{"u"}, name, g);
  };
  supervisor_spec spec;
  spec.name = "sessions";
  spec.children = {child_spec{"session", start, restart_type::permanent, {}, child_type::worker}};
  auto sup = supervisor::start(n, std::move(spec));
  REQUIRE(sup.ok());
  REQUIRE(log.pop() == "gen1:register:ok");
  REQUIRE(reg.send("u", "m1") == 1);
  REQUIRE(log.pop() == "gen1:busy");
  for (int i = 2; i <= 5; ++i)
    REQUIRE(reg.send("u", fmt::format("m{}", i)) == 1);
  g->open();
  REQUIRE(log.pop() == "gen2:register:ok");
  reg.send("u", "m6");
  for (int i = 2; i <= 6; ++i)
    CHECK(log.pop() == fmt::format("gen2:{}:m{}", i, i));
  CHECK(log.epochs().size() == 1);
  auto s = reg.stats();
  CHECK(s.routed == 6);
  CHECK(s.delivered == 6); // m1 once, m2..m5 once (to gen2), m6
  CHECK(s.reclaimed == 4);
  CHECK(s.dropped_exit == 0);
  CHECK(s.dropped_overflow == 0);
  CHECK(s.expired == 0);
  CHECK(s.pending == 0);
}

TEST_CASE("registry counts unread messages of an exited session that overflow the key's buffer",
          "[registry][exit]") {
  id_log log;
  node n{test::small_node()};
  auto cfg = quiet_config();
  cfg.max_pending = 2;
  registry reg{cfg};
  test::log_capture quiet{log::level::none};
  crash_with_queued(n, log, reg, 4);
  auto s = reg.stats();
  CHECK(s.reclaimed == 4);
  CHECK(s.dropped_overflow == 2); // the oldest two, m2 and m3
  CHECK(s.pending == 2);
  CHECK(s.delivered == 1);
  CHECK(s.routed == s.delivered + s.pending + s.dropped_overflow);
  auto next = spawn(n, session, &log, std::string{"next"});
  CHECK(reg.register_process("u", next).delivered == 2);
  CHECK(log.pop() == "next:4:m4");
  CHECK(log.pop() == "next:5:m5");
}

TEST_CASE("registry counts unread messages of an exited session as expired when no one comes back",
          "[registry][exit]") {
  id_log log;
  node n{test::small_node()};
  manual_clock clock;
  auto cfg = quiet_config();
  cfg.clock = clock.function();
  registry reg{cfg};
  test::log_capture quiet{log::level::none};
  crash_with_queued(n, log, reg, 4);
  CHECK(reg.stats().pending == 4);
  clock.advance(cfg.max_age);
  CHECK(reg.expire() == 4);
  auto s = reg.stats();
  CHECK(s.expired == 4);
  CHECK(s.pending == 0);
  CHECK(s.routed == s.delivered + s.expired);
  CHECK(s.entries == 0);
}

TEST_CASE("registry counts unread messages of an exited duplicate-key process whose peers got them",
          "[registry][exit]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config(registry_mode::duplicate)};
  test::log_capture quiet{log::level::none};
  auto peer = spawn(n, session, &log, std::string{"peer"});
  REQUIRE(reg.register_process("u", peer));
  auto g = std::make_shared<gate>();
  auto p = spawn(n, crash_on_first, &log, &reg, registry_key{"u"}, std::string{"first"}, g);
  REQUIRE(log.pop() == "first:register:ok");
  REQUIRE(reg.send("u", "m1") == 2);
  REQUIRE(log.wait_for("first:busy"));
  for (int i = 2; i <= 5; ++i)
    REQUIRE(reg.send("u", fmt::format("m{}", i)) == 2);
  g->open();
  REQUIRE(test::eventually([&] { return !alive(p) && reg.registration_count() == 1; }));
  auto s = reg.stats();
  CHECK(s.dropped_exit == 4);
  CHECK(s.reclaimed == 0);
  CHECK(s.pending == 0);
  CHECK(s.delivered == 5 + 1); // the peer's five and first's m1
}

TEST_CASE("registry with a replay window keeps each reclaimed message once", "[registry][exit][replay]") {
  id_log log;
  node n{test::small_node()};
  auto cfg = quiet_config();
  cfg.replay_window = 10;
  registry reg{cfg};
  test::log_capture quiet{log::level::none};
  crash_with_queued(n, log, reg, 4);
  auto kept = reg.replay("u");
  CHECK(seqs_of(kept) == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  CHECK(one_epoch(kept));
  auto next = spawn(n, session, &log, std::string{"next"});
  CHECK(reg.register_process("u", next).delivered == 4);
  for (int i = 2; i <= 5; ++i)
    CHECK(log.pop() == fmt::format("next:{}:m{}", i, i));
  auto again = reg.replay("u");
  CHECK(seqs_of(again) == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  CHECK(one_epoch(again));
  CHECK(again.front().id.epoch == kept.front().id.epoch);
  CHECK(log.epochs().size() == 1);
  CHECK(reg.stats().replayed == 0);
}

TEST_CASE("registry hands back only the exiting key's messages, not another key's or a plain send's",
          "[registry][exit]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  test::log_capture quiet{log::level::none};
  auto g = std::make_shared<gate>();
  auto p = spawn(n, crash_on_first, &log, &reg, registry_key{"u"}, std::string{"first"}, g);
  REQUIRE(log.pop() == "first:register:ok");
  REQUIRE(reg.register_process("other", p));
  REQUIRE(reg.send("u", "m1") == 1);
  REQUIRE(log.pop() == "first:busy");
  REQUIRE(reg.send("other", "o1") == 1);
  REQUIRE(reg.send("u", "m2") == 1);
  libactor::send(p, routed_atom::value, message_id{0x99, 99}, std::string{"not routed by the registry"});
  g->open();
  REQUIRE(test::eventually([&] { return !alive(p) && reg.registration_count() == 0; }));
  auto u = reg.replay("u");
  REQUIRE(u.size() == 1);
  CHECK(u[0].id.seq == 2);
  CHECK(u[0].payload == "m2");
  auto other = reg.replay("other");
  REQUIRE(other.size() == 1);
  CHECK(other[0].id.seq == 1);
  CHECK(other[0].payload == "o1");
  // Two keys, two histories.
  CHECK(u[0].id.epoch != other[0].id.epoch);
  CHECK(reg.stats().reclaimed == 2);
}

TEST_CASE("registry refuses a process that already exited and keeps its pending messages", "[registry][exit]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto p = spawn(n, session, &log, std::string{"p"});
  reg.send("late", "kept for a live process");
  kill_and_wait(p);
  CHECK(reg.register_process("late", p).status == register_status::no_process);
  CHECK(reg.lookup("late").empty());
  CHECK(reg.stats().pending == 1);
  CHECK(reg.registration_count() == 0);
}

// -- buffering while absent ------------------------------------------------------

TEST_CASE("registry buffers messages for an absent key and delivers them in order on registration",
          "[registry][buffer]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  for (int i = 1; i <= 5; ++i)
    REQUIRE(reg.send("bob", fmt::format("m{}", i)) == 0);
  auto s = reg.stats();
  CHECK(s.buffered == 5);
  CHECK(s.pending == 5);
  CHECK(s.keys == 0);
  auto kept = reg.replay("bob");
  CHECK(seqs_of(kept) == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  CHECK(one_epoch(kept));
  auto p = spawn(n, session, &log, std::string{"bob"});
  auto r = reg.register_process("bob", p);
  REQUIRE(r);
  CHECK(r.delivered == 5);
  CHECK(reg.send("bob", "m6") == 1);
  for (int i = 1; i <= 6; ++i)
    CHECK(log.pop() == fmt::format("bob:{}:m{}", i, i));
  CHECK(log.epochs() == std::vector<std::uint64_t>{kept.front().id.epoch});
  CHECK(reg.stats().pending == 0);
  // Delivered and no replay window: nothing is kept.
  CHECK(reg.replay("bob").empty());
}

TEST_CASE("registry lets a restarted session continue its key's ids and get what was sent meanwhile",
          "[registry][buffer]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto first = spawn(n, session, &log, std::string{"first"});
  REQUIRE(reg.register_process("u", first));
  REQUIRE(reg.send("u", "a") == 1);
  REQUIRE(log.pop() == "first:1:a");
  libactor::exit(first, exit_reason::error("crash"));
  REQUIRE(test::eventually([&] { return reg.registration_count() == 0; }));
  CHECK(reg.send("u", "b") == 0);
  CHECK(reg.send("u", "c") == 0);
  auto second = spawn(n, session, &log, std::string{"second"});
  REQUIRE(reg.register_process("u", second));
  CHECK(reg.send("u", "d") == 1);
  CHECK(log.pop() == "second:2:b");
  CHECK(log.pop() == "second:3:c");
  CHECK(log.pop() == "second:4:d");
  CHECK(log.epochs().size() == 1); // one history across the restart
}

TEST_CASE("registry keeps a broadcast for a key whose process is restarting, not for one gone past max_age",
          "[registry][buffer]") {
  id_log log;
  node n{test::small_node()};
  manual_clock clock;
  auto cfg = quiet_config();
  cfg.clock = clock.function();
  registry reg{cfg};
  auto first = spawn(n, session, &log, std::string{"first"});
  REQUIRE(reg.register_process("u", first));
  REQUIRE(reg.register_process("gone", spawn(n, session, &log, std::string{"gone"})));
  REQUIRE(reg.broadcast("a") == 2);
  REQUIRE(log.wait_count(2));
  REQUIRE(reg.unregister_process("gone", reg.lookup("gone").front()));
  clock.advance(cfg.max_age + 1ms); // "gone" left long ago
  libactor::exit(first, exit_reason::error("crash"));
  REQUIRE(test::eventually([&] { return reg.registration_count() == 0; }));
  // "u" is between its crash and its restart: the broadcast waits for it.
  CHECK(reg.broadcast("b") == 0);
  CHECK(reg.stats().pending == 1);
  auto second = spawn(n, session, &log, std::string{"second"});
  REQUIRE(reg.register_process("u", second));
  REQUIRE(log.wait_count(3));
  CHECK(log.contains("second:2:b"));
  CHECK(log.epochs().size() == 2); // "u" and "gone", each its one history
  // Broadcasts do not keep an absent key alive: past max_age it goes.
  REQUIRE(reg.unregister_process("u", second));
  clock.advance(cfg.max_age + 1ms);
  CHECK(reg.broadcast("c") == 0);
  CHECK(reg.stats().pending == 0);
  reg.expire();
  CHECK(reg.stats().entries == 0);
}

TEST_CASE("registry overflow of max_pending drops the oldest and counts each drop", "[registry][buffer]") {
  id_log log;
  node n{test::small_node()};
  auto cfg = quiet_config();
  cfg.max_pending = 3;
  registry reg{cfg};
  for (int i = 1; i <= 5; ++i)
    reg.send("k", fmt::format("m{}", i));
  auto s = reg.stats();
  CHECK(s.buffered == 5);
  CHECK(s.dropped_overflow == 2);
  CHECK(s.pending == 3);
  REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"k"})).delivered == 3);
  // The gap in ids (1, 2 missing) tells the receiver what was lost.
  CHECK(log.pop() == "k:3:m3");
  CHECK(log.pop() == "k:4:m4");
  CHECK(log.pop() == "k:5:m5");
  CHECK(log.epochs().size() == 1);
}

TEST_CASE("registry expires pending messages older than max_age and counts them", "[registry][buffer]") {
  id_log log;
  node n{test::small_node()};
  manual_clock clock;
  auto cfg = quiet_config();
  cfg.max_age = 100ms;
  cfg.clock = clock.function();
  registry reg{cfg};
  reg.send("k", "old1");
  reg.send("k", "old2");
  clock.advance(60ms);
  reg.send("k", "young");
  clock.advance(60ms); // old ones are now 120 ms old, "young" 60 ms
  auto kept = reg.replay("k");
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].id.seq == 3);
  CHECK(kept[0].payload == "young");
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}));
  CHECK(r.delivered == 1);
  CHECK(log.pop() == "k:3:young");
  CHECK(log.epochs() == std::vector<std::uint64_t>{kept[0].id.epoch});
  auto s = reg.stats();
  CHECK(s.expired == 2);
  CHECK(s.pending == 0);
  // expire() ages keys nobody touches.
  reg.send("other", "x");
  clock.advance(100ms);
  CHECK(reg.expire() == 1);
  CHECK(reg.stats().expired == 3);
}

TEST_CASE("registry sweep thread expires messages of keys nobody touches", "[registry][buffer]") {
  manual_clock clock;
  auto cfg = quiet_config();
  cfg.max_age = 100ms;
  cfg.sweep_interval = 5ms;
  cfg.clock = clock.function();
  registry reg{cfg};
  reg.send("idle", "x");
  clock.advance(100ms);
  CHECK(test::eventually([&] { return reg.stats().expired == 1; }));
  CHECK(test::eventually([&] { return reg.stats().entries == 0; }));
}

// -- replay --------------------------------------------------------------------------

TEST_CASE("registry replay returns the kept messages and a last-seen registration gets those after its id",
          "[registry][replay]") {
  id_log log;
  node n{test::small_node()};
  auto cfg = quiet_config();
  cfg.replay_window = 4;
  registry reg{cfg};
  auto first = spawn(n, session, &log, std::string{"first"});
  REQUIRE(reg.register_process("sse", first));
  for (int i = 1; i <= 6; ++i)
    REQUIRE(reg.send("sse", fmt::format("e{}", i)) == 1);
  for (int i = 1; i <= 6; ++i)
    REQUIRE(log.pop() == fmt::format("first:{}:e{}", i, i));
  // The window keeps the 4 newest delivered messages.
  auto kept = reg.replay("sse");
  CHECK(seqs_of(kept) == std::vector<std::uint64_t>{3, 4, 5, 6});
  CHECK(kept.back().payload == "e6");
  CHECK(one_epoch(kept));
  auto epoch = kept.front().id.epoch;
  kill_and_wait(first);
  REQUIRE(test::eventually([&] { return reg.registration_count() == 0; }));
  REQUIRE(reg.send("sse", "e7") == 0);
  REQUIRE(reg.send("sse", "e8") == 0);
  // Delivered and pending, one sequence.
  kept = reg.replay("sse");
  CHECK(seqs_of(kept) == std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8});
  CHECK(one_epoch(kept));
  CHECK(kept.front().id.epoch == epoch);
  // The client saw up to 5 (6 was lost with the old session's socket).
  auto second = spawn(n, session, &log, std::string{"second"});
  auto r = reg.register_process("sse", second, message_id{epoch, 5});
  REQUIRE(r);
  CHECK_FALSE(r.reset);
  CHECK(r.delivered == 3);
  for (auto id : {6, 7, 8})
    CHECK(log.pop() == fmt::format("second:{}:e{}", id, id));
  CHECK(log.epochs() == std::vector<std::uint64_t>{epoch});
  auto s = reg.stats();
  CHECK(s.replayed == 1);
  CHECK(s.pending == 0);
  CHECK(s.resets == 0);
}

TEST_CASE("registry gives a history_reset and everything kept to a last-seen id of a forgotten history",
          "[registry][replay]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto fresh = reg.send_with_id("k", "fresh");
  // The client's id 57 comes from before the key was forgotten: another epoch.
  auto r = reg.register_process("k", spawn(n, session, &log, std::string{"k"}),
                                message_id{fresh.id.epoch + 1, 57});
  REQUIRE(r.reset);
  CHECK(*r.reset == replay_reset{reset_reason::history_reset, std::nullopt});
  CHECK(r.delivered == 1);
  CHECK(log.pop() == "k:reset:history_reset:?");
  CHECK(log.pop() == "k:1:fresh");
}

// -- transport seam -----------------------------------------------------------------

TEST_CASE("registry transport receives sends and broadcasts and local delivery does not echo",
          "[registry][transport]") {
  struct fake_transport : registry_transport {
    std::atomic<int> sends{0};
    std::atomic<int> broadcasts{0};
    message_id forwarded;
    std::size_t forward(const registry_key&, message_id id, const std::string&) override {
      ++sends;
      forwarded = id; // called under the key's lock, once here
      return 10;
    }
    std::size_t forward_broadcast(const std::string&) override {
      ++broadcasts;
      return 20;
    }
  };
  id_log log;
  node n{test::small_node()};
  auto transport = std::make_shared<fake_transport>();
  auto cfg = quiet_config();
  cfg.transport = transport;
  registry reg{cfg};
  REQUIRE(reg.register_process("k", spawn(n, session, &log, std::string{"k"})));
  // The counts are of this node's processes: what other nodes reach is
  // theirs to count.
  auto sent = reg.send_with_id("k", "a");
  CHECK(sent.reached == 1);
  CHECK(sent.id.seq == 1);
  CHECK(transport->forwarded == sent.id); // other nodes deliver it with this id
  CHECK(reg.broadcast("b") == 1);
  CHECK(reg.send_local("k", "c") == 1);
  CHECK(reg.broadcast_local("d") == 1);
  CHECK(transport->sends == 1);
  CHECK(transport->broadcasts == 1);
  REQUIRE(log.wait_count(4));
  CHECK(log.snapshot() == std::vector<std::string>{"k:1:a", "k:2:b", "k:3:c", "k:4:d"});
  CHECK(log.epochs() == std::vector<std::uint64_t>{sent.id.epoch});
}

// -- concurrency ------------------------------------------------------------------

TEST_CASE("registry delivers concurrent sends to one key in id order and keeps each sender's order",
          "[registry][race]") {
  id_log log;
  node n{test::small_node()};
  registry reg{quiet_config()};
  auto p = spawn(n, session, &log, std::string{"p"});
  REQUIRE(reg.register_process("hot", p));
  constexpr int senders = 4;
  constexpr int per_sender = 2'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t)
    threads.emplace_back([&reg, t] {
      for (int i = 0; i < per_sender; ++i)
        reg.send("hot", fmt::format("{}.{}", t, i));
    });
  for (auto& t : threads)
    t.join();
  REQUIRE(log.wait_count(senders * per_sender));
  auto events = log.snapshot();
  std::vector<int> next(senders, 0);
  std::uint64_t expected_id = 1;
  bool ids_in_order = true;
  bool senders_in_order = true;
  for (auto& ev : events) {
    unsigned long long id = 0;
    int t = 0, i = 0;
    REQUIRE(std::sscanf(ev.c_str(), "p:%llu:%d.%d", &id, &t, &i) == 3);
    ids_in_order = ids_in_order && id == expected_id++;
    senders_in_order = senders_in_order && i == next[t]++;
  }
  CHECK(ids_in_order);
  CHECK(senders_in_order);
  CHECK(log.epochs().size() == 1);
  CHECK(reg.stats().delivered == senders * per_sender);
}

TEST_CASE("registry leaves no stale entry when register, unregister, exit and send race on several threads",
          "[registry][race]") {
  auto mode = GENERATE(registry_mode::unique, registry_mode::duplicate);
  node n{test::small_node()};
  auto cfg = quiet_config(mode);
  cfg.partitions = 4; // more collisions on each partition lock
  registry reg{cfg};
  constexpr int procs_count = 2'000;
  constexpr int keys = 50;
  auto received = std::make_shared<std::atomic<std::size_t>>(0);
  std::vector<pid> procs;
  for (int i = 0; i < procs_count; ++i)
    procs.push_back(spawn(n, counter, received));
  test::log_capture quiet{log::level::none}; // 2,000 crash reports otherwise
  std::atomic<bool> go{false};
  std::atomic<std::size_t> sends{0};
  auto wait_go = [&] {
    while (!go.load())
      std::this_thread::yield();
  };
  std::thread registrar{[&] {
    wait_go();
    for (int i = 0; i < procs_count; ++i)
      reg.register_process(i % keys, procs[i]);
  }};
  std::thread unregistrar{[&] {
    wait_go();
    for (int i = 0; i < procs_count; i += 3)
      reg.unregister_process(i % keys, procs[i]);
  }};
  std::thread killer{[&] {
    wait_go();
    for (int i = procs_count - 1; i >= 0; --i)
      libactor::exit(procs[i], exit_reason::kill());
  }};
  std::thread sender{[&] {
    wait_go();
    for (int round = 0; round < 20; ++round)
      for (int k = 0; k < keys; ++k) {
        reg.send(k, "x");
        ++sends;
      }
    reg.broadcast("y");
  }};
  go = true;
  registrar.join();
  unregistrar.join();
  killer.join();
  sender.join();
  REQUIRE(test::eventually([&] { return n.process_count() == 0; }));
  REQUIRE(test::eventually([&] { return reg.registration_count() == 0; }));
  CHECK(reg.key_count() == 0);
  for (int k = 0; k < keys; ++k)
    CHECK(reg.lookup(k).empty());
  auto s = reg.stats();
  CHECK(s.routed >= sends.load());
  // Kept messages came in as buffered sends or as messages an exiting
  // process left unread.
  CHECK(s.pending + s.dropped_overflow + s.expired <= s.buffered + s.reclaimed);
  if (mode == registry_mode::unique) {
    // One process per key: every message is delivered or accounted for.
    CHECK(s.routed == s.delivered + s.pending + s.dropped_overflow + s.expired);
    CHECK(s.dropped_exit == 0);
  }
}
