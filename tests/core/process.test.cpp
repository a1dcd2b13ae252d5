#include "libactor/process.hpp"

#include <any>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include <caf/atom.hpp>
#include <caf/delegated.hpp>
#include <caf/response_promise.hpp>
#include <catch2/catch.hpp>

#include "libactor/call.hpp"
#include "libactor/supervisor.hpp"

#include "support/event_log.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

/// Fixture protocol: answers ping, throws on crash, exits normally on stop.
caf::behavior worker(process& self, event_log* log) {
  return {
    [log](ping_atom) {
      log->push("ping");
      return std::string{"pong"};
    },
    [](crash_atom, const std::string& why) -> std::string { throw std::runtime_error(why); },
    [self](stop_atom) mutable { self.exit(); },
  };
}

/// Fixture: watches one pid, records its down or exit signal.
caf::behavior watcher(process& self, event_log* log, pid target, bool trap, bool use_link) {
  self.trap_exit(trap);
  self.on_exit([log](const pid&, const exit_reason& why) { log->push("exit:" + to_string(why)); });
  self.on_down([log](const pid&, const exit_reason& why) { log->push("down:" + to_string(why)); });
  if (use_link)
    self.link(target);
  else
    self.monitor(target);
  log->push("watching");
  return {[log](ping_atom) { log->push("watcher-ping"); }};
}

} // namespace

TEST_CASE("a spawned process runs its body and handles messages", "[process]") {
  event_log log;
  node n{test::small_node()};
  auto w = spawn(n, worker, &log);
  REQUIRE(alive(w));
  send(w, ping_atom::value);
  REQUIRE(log.wait_for("ping"));
  CHECK(n.process_count() == 1);
}

TEST_CASE("a process lives on when nobody holds its pid", "[process]") {
  event_log log;
  node n{test::small_node()};
  std::uint64_t id = 0;
  {
    auto w = spawn(n, worker, &log);
    id = w.id();
  }
  CHECK(id != 0);
  // BEAM semantics: processes are not garbage-collected by reference count.
  CHECK(n.process_count() == 1);
}

TEST_CASE("a throwing handler ends only its own process with the exception text", "[process][crash]") {
  event_log log;
  node n{test::small_node()};
  auto victim = spawn(n, worker, &log);
  auto bystander = spawn(n, worker, &log);
  auto mon = spawn(n, watcher, &log, victim, false, false);
  REQUIRE(log.wait_for("watching"));
  send(victim, crash_atom::value, std::string{"bad input"});
  REQUIRE(log.wait_for("down:error(bad input)"));
  CHECK_FALSE(alive(victim));
  CHECK(alive(bystander));
  CHECK(alive(mon));
  send(bystander, ping_atom::value);
  CHECK(log.wait_for("ping"));
}

TEST_CASE("a crash propagates over a link to a process that does not trap exits", "[process][link]") {
  event_log log;
  node n{test::small_node()};
  auto victim = spawn(n, worker, &log);
  auto partner = spawn(n, watcher, &log, victim, false, true);
  auto observer = spawn(n, watcher, &log, partner, false, false);
  REQUIRE(log.wait_count(2));
  send(victim, crash_atom::value, std::string{"boom"});
  // The partner dies with the same reason, as in Erlang.
  REQUIRE(log.wait_for("down:error(boom)"));
  CHECK(test::eventually([&] { return !alive(partner); }));
  CHECK(alive(observer));
}

TEST_CASE("a trapping process receives a linked crash as a message and lives on", "[process][link]") {
  event_log log;
  node n{test::small_node()};
  auto victim = spawn(n, worker, &log);
  auto partner = spawn(n, watcher, &log, victim, true, true);
  REQUIRE(log.wait_for("watching"));
  send(victim, crash_atom::value, std::string{"boom"});
  REQUIRE(log.wait_for("exit:error(boom)"));
  CHECK(alive(partner));
  send(partner, ping_atom::value);
  CHECK(log.wait_for("watcher-ping"));
}

TEST_CASE("a normal exit does not end a linked process that does not trap", "[process][link]") {
  event_log log;
  node n{test::small_node()};
  auto victim = spawn(n, worker, &log);
  auto partner = spawn(n, watcher, &log, victim, false, true);
  auto observer = spawn(n, watcher, &log, victim, false, false);
  REQUIRE(log.wait_count(2));
  send(victim, stop_atom::value);
  REQUIRE(log.wait_for("down:normal"));
  send(partner, ping_atom::value);
  REQUIRE(log.wait_for("watcher-ping"));
  CHECK(alive(partner));
  (void) observer;
}

TEST_CASE("spawn_link links the child and unlink undoes it", "[process][link]") {
  event_log log;
  node n{test::small_node()};
  auto parent = spawn(n, [&log](process& self, bool do_unlink) -> caf::behavior {
    self.trap_exit(true);
    self.on_exit([&log](const pid&, const exit_reason& why) { log.push("exit:" + to_string(why)); });
    auto child = self.spawn_link(worker, &log);
    if (do_unlink)
      self.unlink(child);
    self.send(child, crash_atom::value, std::string{"child failed"});
    self.monitor(child);
    self.on_down([&log](const pid&, const exit_reason&) { log.push("child-down"); });
    return {[](int) {}};
  }, true);
  REQUIRE(log.wait_for("child-down"));
  CHECK_FALSE(log.contains("exit:error(child failed)"));
  auto parent2 = spawn(n, [&log](process& self, bool) -> caf::behavior {
    self.trap_exit(true);
    self.on_exit([&log](const pid&, const exit_reason& why) { log.push("exit2:" + to_string(why)); });
    auto child = self.spawn_link(worker, &log);
    self.send(child, crash_atom::value, std::string{"child failed"});
    return {[](int) {}};
  }, false);
  CHECK(log.wait_for("exit2:error(child failed)"));
  (void) parent;
  (void) parent2;
}

TEST_CASE("exit signals follow OTP: normal is ignored, shutdown ends, kill cannot be trapped",
          "[process][exit]") {
  event_log log;
  node n{test::small_node()};
  SECTION("normal is ignored by a process that does not trap") {
    auto w = spawn(n, worker, &log);
    auto mon = spawn(n, watcher, &log, w, false, false);
    REQUIRE(log.wait_for("watching"));
    exit(w, exit_reason::normal());
    send(w, ping_atom::value);
    REQUIRE(log.wait_for("ping"));
    CHECK(alive(w));
    (void) mon;
  }
  SECTION("shutdown ends a process that does not trap") {
    auto w = spawn(n, worker, &log);
    auto mon = spawn(n, watcher, &log, w, false, false);
    REQUIRE(log.wait_for("watching"));
    exit(w, exit_reason::shutdown());
    CHECK(log.wait_for("down:shutdown"));
    (void) mon;
  }
  SECTION("an error reason sent as a signal becomes the exit reason") {
    auto w = spawn(n, worker, &log);
    auto mon = spawn(n, watcher, &log, w, false, false);
    REQUIRE(log.wait_for("watching"));
    exit(w, exit_reason::error("told to die"));
    CHECK(log.wait_for("down:error(told to die)"));
    (void) mon;
  }
  SECTION("a trapping process gets shutdown as a message") {
    auto target = spawn(n, watcher, &log, pid{}, true, false);
    REQUIRE(log.wait_for("watching"));
    exit(target, exit_reason::shutdown());
    CHECK(log.wait_for("exit:shutdown"));
    CHECK(alive(target));
  }
  SECTION("kill ends even a trapping process, with reason killed") {
    auto target = spawn(n, watcher, &log, pid{}, true, false);
    REQUIRE(log.wait_for("watching"));
    auto mon = spawn(n, watcher, &log, target, false, false);
    REQUIRE(log.wait_count(2));
    exit(target, exit_reason::kill());
    CHECK(log.wait_for("down:killed"));
    CHECK_FALSE(log.contains("exit:killed"));
    (void) mon;
  }
}

TEST_CASE("a monitor reports the reason once, demonitor silences it, and a dead target reports at once",
          "[process][monitor]") {
  event_log log;
  node n{test::small_node()};
  SECTION("demonitor") {
    auto w = spawn(n, worker, &log);
    auto mon = spawn(n, [&log](process& self, pid target) -> caf::behavior {
      self.monitor(target);
      self.demonitor(target);
      self.on_down([&log](const pid&, const exit_reason&) { log.push("down"); });
      return {[&log](ping_atom) { log.push("mon-ping"); }};
    }, w);
    send(w, crash_atom::value, std::string{"x"});
    REQUIRE(test::eventually([&] { return !alive(w); }));
    // The down notification would have been enqueued before this ping.
    send(mon, ping_atom::value);
    REQUIRE(log.wait_for("mon-ping"));
    CHECK_FALSE(log.contains("down"));
  }
  SECTION("monitoring a process that already ended") {
    auto w = spawn(n, worker, &log);
    send(w, crash_atom::value, std::string{"early"});
    REQUIRE(test::eventually([&] { return !alive(w); }));
    auto mon = spawn(n, watcher, &log, w, false, false);
    CHECK(log.wait_for("down:error(early)"));
    (void) mon;
  }
  SECTION("spawn_monitor") {
    auto parent = spawn(n, [&log](process& self, int) -> caf::behavior {
      self.on_down([&log](const pid&, const exit_reason& why) { log.push("down:" + to_string(why)); });
      auto child = self.spawn_monitor(worker, &log);
      self.send(child, stop_atom::value);
      return {[](int) {}};
    }, 0);
    CHECK(log.wait_for("down:normal"));
    (void) parent;
  }
}

TEST_CASE("mailbox_length counts messages waiting and alive turns false at exit", "[process]") {
  event_log log;
  node n{test::small_node()};
  std::promise<void> release;
  auto gate = release.get_future().share();
  auto w = spawn(n, [&log, gate](process& self, int) -> caf::behavior {
    return {
      [&log, gate](ping_atom) {
        log.push("blocked");
        gate.wait(); // holds this process inside a handler
      },
      [&log](int x) { log.push("int:" + std::to_string(x)); },
      [self](stop_atom) mutable { self.exit(); },
    };
  }, 0);
  send(w, ping_atom::value);
  REQUIRE(log.wait_for("blocked"));
  for (int i = 0; i < 5; ++i)
    send(w, i);
  CHECK(mailbox_length(w) == std::optional<std::size_t>{5});
  release.set_value();
  REQUIRE(log.wait_for("int:4"));
  CHECK(test::eventually([&] { return mailbox_length(w) == std::optional<std::size_t>{0}; }));
  send(w, stop_atom::value);
  CHECK(test::eventually([&] { return !alive(w); }));
  CHECK_FALSE(mailbox_length(w).has_value());
  CHECK_FALSE(alive(pid{}));
}

TEST_CASE("a killed process sends its links a trappable killed, not kill", "[process][link][exit]") {
  event_log log;
  node n{test::small_node()};
  auto victim = spawn(n, worker, &log);
  auto partner = spawn(n, watcher, &log, victim, true, true);
  REQUIRE(log.wait_for("watching"));
  exit(victim, exit_reason::kill());
  // As in Erlang: the trapping partner hears `killed` and lives on.
  REQUIRE(log.wait_for("exit:killed"));
  CHECK(alive(partner));
}

TEST_CASE("killed is an ordinary trappable reason: passed on with exit/2 it kills nobody",
          "[process][exit]") {
  event_log log;
  node n{test::small_node()};
  auto third = spawn(n, watcher, &log, pid{}, true, false);
  REQUIRE(log.wait_for("watching"));
  auto victim = spawn(n, worker, &log);
  auto relay = spawn(n, [&log](process& self, pid victim, pid third) -> caf::behavior {
    self.trap_exit(true);
    self.link(victim);
    self.on_exit([&log, self, third](const pid&, const exit_reason& why) mutable {
      log.push("relay:" + to_string(why));
      self.exit(third, why);
    });
    log.push("relaying");
    return {[](int) {}};
  }, victim, third);
  REQUIRE(log.wait_for("relaying"));
  exit(victim, exit_reason::kill());
  REQUIRE(log.wait_for("relay:killed"));
  // What the relay received is `killed`, not the signal `kill`: the
  // trapping third process hears it and lives on.
  CHECK(log.wait_for("exit:killed"));
  CHECK(alive(third));
  CHECK(alive(relay));
}

TEST_CASE("killing a supervisor gives its trapping child a trappable killed, so its cleanup runs",
          "[process][exit][supervisor]") {
  event_log log;
  node n{test::small_node()};
  auto child_body = [&log](process& self, int) -> caf::behavior {
    self.trap_exit(true);
    self.on_exit([&log, self](const pid&, const exit_reason& why) mutable {
      log.push("child-cleanup:" + to_string(why));
      self.exit(why);
    });
    log.push("child-up");
    return {[](int) {}};
  };
  pid child;
  std::mutex mtx;
  auto start = [&](process& sup, const std::any&) {
    auto p = sup.spawn_link(child_body, 0);
    std::lock_guard<std::mutex> guard{mtx};
    child = p;
    return p;
  };
  supervisor_spec spec;
  spec.name = "killed_sup";
  spec.children = {child_spec{"trapper", start, restart_type::permanent, {}, child_type::worker}};
  auto r = supervisor::start(n, std::move(spec));
  REQUIRE(r.ok());
  auto sup = r.value();
  REQUIRE(log.wait_for("child-up"));
  pid c;
  {
    std::lock_guard<std::mutex> guard{mtx};
    c = child;
  }
  exit(sup, exit_reason::kill());
  CHECK(log.wait_for("child-cleanup:killed"));
  CHECK(test::eventually([&] { return !alive(c); }));
}

TEST_CASE("exit/2 leaves links in place: a trapping process still hears of its linked sender's crash",
          "[process][link][exit]") {
  event_log log;
  node n{test::small_node()};
  auto b = spawn(n, watcher, &log, pid{}, true, false);
  REQUIRE(log.wait_for("watching"));
  auto a = spawn(n, [&log](process& self, pid b) -> caf::behavior {
    self.link(b);
    self.exit(b, exit_reason::error("note"));
    return {
      [](crash_atom, const std::string& why) -> std::string { throw std::runtime_error(why); },
    };
  }, b);
  REQUIRE(log.wait_for("exit:error(note)"));
  send(a, crash_atom::value, std::string{"later"});
  CHECK(log.wait_for("exit:error(later)"));
  CHECK(alive(b));
}

TEST_CASE("exit/2 from outside leaves the target's links in place", "[process][link][exit]") {
  event_log log;
  node n{test::small_node()};
  auto a = spawn(n, worker, &log);
  auto b = spawn(n, watcher, &log, a, true, true);
  REQUIRE(log.wait_for("watching"));
  // A signal from outside any process, then one that names a as its source.
  exit(b, exit_reason::shutdown());
  REQUIRE(log.wait_for("exit:shutdown"));
  send(a, crash_atom::value, std::string{"after"});
  CHECK(log.wait_for("exit:error(after)"));
}

namespace {

/// Fixture: holds `held` and its own pid in every kind of handler it has
/// (exit, down, behaviour, a pending call's failure handler), the cycle
/// that kept a process alive forever.
caf::behavior self_holder(process& self, std::shared_ptr<int> held, pid callee, event_log* log) {
  auto me = self.self();
  self.trap_exit(true);
  self.on_exit([me, held](const pid&, const exit_reason&) {});
  self.on_down([me, held](const pid&, const exit_reason&) {});
  self.monitor(callee);
  self.call(callee, std::chrono::hours{1}, ping_atom::value)
    .then([me, held](const std::string&) {}, [me, held](const call_error&) {});
  log->push("holding");
  return {[me, held, self](stop_atom) mutable { self.exit(); }};
}

/// Fixture: answers nothing, so a call to it stays pending.
caf::behavior mute(process&, int) {
  return {[](ping_atom) -> caf::result<std::string> { return caf::delegated<std::string>{}; }};
}

} // namespace

TEST_CASE("a process's handlers are released at exit, breaking cycles through its own pid",
          "[process][exit][leak]") {
  event_log log;
  node n{test::small_node()};
  auto held = std::make_shared<int>(42);
  std::weak_ptr<int> observed = held;
  auto callee = spawn(n, mute, 0);
  auto p = spawn(n, self_holder, std::move(held), callee, &log);
  REQUIRE(log.wait_for("holding"));
  send(p, stop_atom::value);
  REQUIRE(test::eventually([&] { return !alive(p); }));
  p = pid{};
  CHECK(test::eventually([&] { return observed.expired(); }));
  CHECK(alive(callee));
}

TEST_CASE("two processes holding each other's pids in their handlers are both released at exit",
          "[process][exit][leak]") {
  event_log log;
  node n{test::small_node()};
  auto held = std::make_shared<int>(7);
  std::weak_ptr<int> observed = held;
  auto holder = [&log](process& self, std::shared_ptr<int> held, std::string name) -> caf::behavior {
    return {[&log, self, held, name](const caf::actor& hdl) mutable {
      pid other{hdl};
      self.on_exit([other, held](const pid&, const exit_reason&) {});
      self.on_down([other, held](const pid&, const exit_reason&) {});
      log.push(name + " holds");
    }};
  };
  auto a = spawn(n, holder, held, std::string{"a"});
  auto b = spawn(n, holder, held, std::string{"b"});
  held.reset();
  send(a, b.handle());
  send(b, a.handle());
  REQUIRE(log.wait_for("a holds"));
  REQUIRE(log.wait_for("b holds"));
  exit(a, exit_reason::shutdown());
  exit(b, exit_reason::shutdown());
  REQUIRE(test::eventually([&] { return !alive(a) && !alive(b); }));
  a = pid{};
  b = pid{};
  CHECK(test::eventually([&] { return observed.expired(); }));
}
