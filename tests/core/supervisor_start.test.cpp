// The supervisor's start semantics, as proc_lib's start handshake gives
// them in OTP: a child counts as started once its init has completed; a
// start fails with the reason of a child whose init failed; children start
// one after the other, each subtree up before the next; a start that times
// out leaves nothing behind.
#include "libactor/supervisor.hpp"

#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <catch2/catch.hpp>

#include "libactor/process.hpp"
#include "support/event_log.hpp"
#include "support/stop_fixtures.hpp"
#include "support/log_capture.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;
using test::eventually;

namespace {

using finish_atom = caf::atom_constant<caf::atom("finish")>;

/// A worker whose init (its body) logs `init:<id>` and then, if told to,
/// fails: by throwing, or by exiting before it returns its behaviour.
enum class init_outcome { ok, throws, exits };

caf::behavior worker(process& self, event_log* log, std::string id, init_outcome how) {
  log->push("init:" + id);
  if (how == init_outcome::throws)
    throw std::runtime_error("init of " + id + " failed");
  if (how == init_outcome::exits)
    self.exit(exit_reason::error("gave up in init"));
  return {[](finish_atom) {}};
}

child_spec worker_spec(event_log* log, std::string id, init_outcome how = init_outcome::ok,
                       restart_type restart = restart_type::permanent) {
  auto start = [log, id, how](process& sup, const std::any&) {
    log->push("spawn:" + id); // runs in the supervisor, in start order
    return sup.spawn_with(detail::spawn_mode::link, spawn_options{id}, worker, log, id, how);
  };
  return child_spec{id, start, restart, {}, child_type::worker};
}

supervisor_spec spec_of(std::string name, restart_strategy s, std::vector<child_spec> xs) {
  supervisor_spec spec;
  spec.name = std::move(name);
  spec.flags = supervisor_flags{s, 10, 60s};
  spec.children = std::move(xs);
  return spec;
}

std::ptrdiff_t position(const std::vector<std::string>& xs, const std::string& event) {
  auto i = std::find(xs.begin(), xs.end(), event);
  return i == xs.end() ? -1 : i - xs.begin();
}

/// A worker whose init completes only when it receives `finish`: it holds
/// back its acknowledgement (proc_lib's `init_ack`) until then, as a
/// process whose init waits for something would.
child_spec deferred_spec(event_log* log, test::pid_slot* where, std::string id,
                         restart_type restart = restart_type::permanent) {
  auto start = [log, where, id](process& sup, const std::any&) {
    log->push("spawn:" + id);
    auto p = sup.spawn_link([log, id](process& self) -> caf::behavior {
      log->push("init:" + id);
      self.caf_self()->defer_init_ack();
      return {[self, log, id](finish_atom) {
        log->push("ack:" + id);
        self.caf_self()->ack_init();
      }};
    });
    where->set(p);
    return p;
  };
  return child_spec{id, start, restart, {}, child_type::worker};
}

/// A start function that blocks its supervisor until the test opens the
/// gate: a child whose start takes as long as the test wants.
child_spec gated_spec(event_log* log, std::string id, std::shared_future<void> gate) {
  auto start = [log, id, gate](process& sup, const std::any&) {
    gate.wait();
    return sup.spawn_with(detail::spawn_mode::link, spawn_options{id}, worker, log, id,
                          init_outcome::ok);
  };
  return child_spec{id, start, restart_type::permanent, {}, child_type::worker};
}

} // namespace

TEST_CASE("a supervisor's start fails with the reason of a child whose init fails",
          "[supervisor][start][handshake]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  test::log_capture logs{log::level::error};
  SECTION("its init throws") {
    auto r = supervisor::start(n, spec_of("top", restart_strategy::one_for_one,
                                          {worker_spec(&log, "a"),
                                           worker_spec(&log, "bad", init_outcome::throws),
                                           worker_spec(&log, "c")}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().what() == supervisor_error::kind::start_failed);
    CHECK(r.error().reason().find("failed_to_start_child id=bad") != std::string::npos);
    CHECK(r.error().reason().find("init of bad failed") != std::string::npos);
  }
  SECTION("it exits before acknowledging") {
    auto r = supervisor::start(n, spec_of("top", restart_strategy::one_for_one,
                                          {worker_spec(&log, "a"),
                                           worker_spec(&log, "bad", init_outcome::exits),
                                           worker_spec(&log, "c")}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().what() == supervisor_error::kind::start_failed);
    CHECK(r.error().reason().find("gave up in init") != std::string::npos);
  }
  // The next child was never started, the one before was stopped again.
  CHECK_FALSE(log.contains("spawn:c"));
  CHECK(eventually([&] { return n.process_count() == 0; }));
}

TEST_CASE("a supervisor starts each child only once the previous one's subtree is up",
          "[supervisor][start][handshake]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  test::pid_slot a1;
  // app = [A (a supervisor with child A1), B]: A1's init completes only
  // when the test says so, and B must not start before.
  auto a = supervisor::child("A", spec_of("A", restart_strategy::one_for_one,
                                          {deferred_spec(&log, &a1, "A1")}));
  auto starting = std::async(std::launch::async, [&] {
    return supervisor::start(n, spec_of("app", restart_strategy::one_for_one,
                                        {a, worker_spec(&log, "B")}));
  });
  REQUIRE(log.wait_for("init:A1"));
  send(a1.get(), finish_atom::value);
  auto r = starting.get();
  REQUIRE(r.ok());
  REQUIRE(log.wait_for("init:B"));
  auto events = log.snapshot();
  CHECK(position(events, "ack:A1") >= 0);
  CHECK(position(events, "ack:A1") < position(events, "spawn:B"));
  exit(r.value(), exit_reason::shutdown());
  CHECK(eventually([&] { return n.process_count() == 0; }));
}

TEST_CASE("a nested supervisor whose child fails to start fails its parent's start",
          "[supervisor][start][handshake]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  test::log_capture logs{log::level::error};
  auto a = supervisor::child("A", spec_of("A", restart_strategy::one_for_one,
                                          {worker_spec(&log, "A1", init_outcome::throws)}));
  auto r = supervisor::start(n, spec_of("app", restart_strategy::one_for_one,
                                        {worker_spec(&log, "W"), a, worker_spec(&log, "B")}));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == supervisor_error::kind::start_failed);
  CHECK(r.error().reason().find("failed_to_start_child id=A") != std::string::npos);
  CHECK(r.error().reason().find("init of A1 failed") != std::string::npos);
  CHECK_FALSE(log.contains("spawn:B"));
  CHECK(eventually([&] { return n.process_count() == 0; }));
}

TEST_CASE("a supervisor start that times out kills the whole tree it started",
          "[supervisor][start][handshake]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  std::promise<void> open;
  std::shared_future<void> gate = open.get_future().share();
  // top = [W1, S = [W2, G]]: G's start function waits for the gate, past
  // the start's timeout.
  auto s = supervisor::child("S", spec_of("S", restart_strategy::one_for_one,
                                          {worker_spec(&log, "W2"), gated_spec(&log, "G", gate)}));
  auto r = supervisor::start(n, spec_of("top", restart_strategy::one_for_one,
                                        {worker_spec(&log, "W1"), s}),
                             100ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == supervisor_error::kind::call_failed);
  open.set_value(); // G starts now, after its tree was told to die
  REQUIRE(log.wait_for("init:W2"));
  CHECK(eventually([&] { return n.process_count() == 0; }));
}

TEST_CASE("a supervisor's start_child fails with the reason of a child whose init fails",
          "[supervisor][start][handshake]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  test::log_capture logs{log::level::error};
  SECTION("a static child") {
    auto r = supervisor::start(n, spec_of("top", restart_strategy::one_for_one, {}));
    REQUIRE(r.ok());
    auto c = supervisor::start_child(n, r.value(), worker_spec(&log, "bad", init_outcome::throws));
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().what() == supervisor_error::kind::start_failed);
    CHECK(c.error().reason().find("init of bad failed") != std::string::npos);
    // It was not added: the same id starts once it can.
    auto ok = supervisor::start_child(n, r.value(), worker_spec(&log, "bad"));
    CHECK(ok.ok());
    exit(r.value(), exit_reason::shutdown());
  }
  SECTION("a dynamic child") {
    auto dyn = child_spec{"session",
                          [&log](process& sup, const std::any& args) {
                            auto how = std::any_cast<init_outcome>(args);
                            return sup.spawn_link(worker, &log, std::string{"s"}, how);
                          },
                          restart_type::permanent, {}, child_type::worker};
    auto r = supervisor::start(n, spec_of("dyn", restart_strategy::simple_one_for_one, {dyn}));
    REQUIRE(r.ok());
    auto bad = supervisor::start_child(n, r.value(), std::any{init_outcome::throws});
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().what() == supervisor_error::kind::start_failed);
    CHECK(bad.error().reason().find("init of s failed") != std::string::npos);
    auto good = supervisor::start_child(n, r.value(), std::any{init_outcome::ok});
    REQUIRE(good.ok());
    // The failed one is not a child, and was not restarted.
    auto counts = supervisor::count_children(n, r.value());
    REQUIRE(counts.ok());
    CHECK(counts.value().active == 1);
    exit(r.value(), exit_reason::shutdown());
  }
  CHECK(eventually([&] { return n.process_count() == 0; }));
}

TEST_CASE("a simple_one_for_one supervisor serves other calls while a start_child waits for its "
          "child's init",
          "[supervisor][start][handshake]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  test::pid_slot slow_child;
  // Started with `true`, a child acknowledges its init only when told to.
  auto dyn = child_spec{"session",
                        [&log, &slow_child](process& sup, const std::any& args) {
                          if (std::any_cast<bool>(args))
                            return deferred_spec(&log, &slow_child, "slow").start(sup, args);
                          return sup.spawn_link(worker, &log, std::string{"quick"}, init_outcome::ok);
                        },
                        restart_type::temporary, {}, child_type::worker};
  auto r = supervisor::start(n, spec_of("sessions", restart_strategy::simple_one_for_one, {dyn}));
  REQUIRE(r.ok());
  auto sup = r.value();
  auto slow = std::async(std::launch::async,
                         [&] { return supervisor::start_child(n, sup, std::any{true}, 10s); });
  REQUIRE(log.wait_for("init:slow"));
  // The slow start is pending; another start and a count are answered.
  auto quick = supervisor::start_child(n, sup, std::any{false});
  CHECK(quick.ok());
  auto counts = supervisor::count_children(n, sup);
  REQUIRE(counts.ok());
  CHECK(counts.value().active == 2);
  CHECK_FALSE(log.contains("ack:slow"));
  CHECK(slow.wait_for(0ms) == std::future_status::timeout);
  send(slow_child.get(), finish_atom::value);
  auto done = slow.get();
  REQUIRE(done.ok());
  CHECK(done.value() == slow_child.get());
  CHECK(log.contains("ack:slow"));
  exit(sup, exit_reason::shutdown());
  CHECK(eventually([&] { return n.process_count() == 0; }));
}

TEST_CASE("a cast_start_child does not wait for the child's init and a failed init is a crash",
          "[supervisor][start][handshake]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  test::log_capture logs{log::level::error};
  auto dyn = child_spec{"session",
                        [&log](process& sup, const std::any& args) {
                          return sup.spawn_link(worker, &log, std::string{"s"},
                                                std::any_cast<init_outcome>(args));
                        },
                        restart_type::temporary, {}, child_type::worker};
  auto r = supervisor::start(n, spec_of("sessions", restart_strategy::simple_one_for_one, {dyn}));
  REQUIRE(r.ok());
  supervisor::cast_start_child(r.value(), std::any{init_outcome::throws});
  REQUIRE(eventually([&] {
    return !logs.matching({"event=child_terminated", "init of s failed"}).empty();
  }));
  CHECK(alive(r.value()));
  exit(r.value(), exit_reason::shutdown());
  CHECK(eventually([&] { return n.process_count() == 0; }));
}
