#include "libactor/sharded_supervisor.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>

#include <caf/atom.hpp>
#include <catch2/catch.hpp>

#include "libactor/process.hpp"
#include "support/event_log.hpp"
#include "support/log_capture.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;
using test::eventually;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;

/// A session stand-in: records its start under the id it was given.
caf::behavior session(process&, event_log* log, std::string id) {
  log->push("start:" + id);
  return {[id](crash_atom) -> void { throw std::runtime_error("crash " + id); }};
}

sharded_supervisor_spec spec_of(event_log* log, std::size_t shards, int shard_intensity = 1) {
  sharded_supervisor_spec spec;
  spec.name = "sessions";
  spec.shards = shards;
  spec.shard_intensity = shard_intensity;
  spec.shard_period = 60s;
  spec.child = child_spec{"session",
                          [log](process& sup, const std::any& args) {
                            auto id = *std::any_cast<std::shared_ptr<const std::string>>(args);
                            return sup.spawn_link(session, log, id);
                          },
                          restart_type::permanent, {}, child_type::worker};
  return spec;
}

std::any arg(std::string id) {
  return std::make_shared<const std::string>(std::move(id));
}

std::set<pid> children_of(node& n, const pid& shard) {
  auto r = supervisor::which_children(n, shard);
  REQUIRE(r.ok());
  std::set<pid> out;
  for (auto& c : r.value())
    out.insert(c.child);
  return out;
}

sharded_supervisor started(node& n, sharded_supervisor_spec spec) {
  auto r = sharded_supervisor::start(n, std::move(spec));
  REQUIRE(r.ok());
  return r.value();
}

} // namespace

TEST_CASE("a sharded supervisor's start_child with a key always lands on the key's shard",
          "[sharded_supervisor]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  auto sup = started(n, spec_of(&log, 4));
  REQUIRE(sup.shard_count() == 4);
  auto shard = sup.shard_of("user-42");
  CHECK(shard == sup.shard_of("user-42"));
  auto a = sup.start_child("user-42", arg("a"));
  auto b = sup.start_child("user-42", arg("b"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto kids = children_of(n, sup.shard(shard));
  CHECK(kids.count(a.value()) == 1);
  CHECK(kids.count(b.value()) == 1);
}

TEST_CASE("a sharded supervisor's start_child without a key spreads children round robin",
          "[sharded_supervisor]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  auto sup = started(n, spec_of(&log, 3));
  for (int i = 0; i < 9; ++i)
    REQUIRE(sup.start_child(arg(std::to_string(i))).ok());
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(children_of(n, sup.shard(i)).size() == 3);
}

TEST_CASE("a sharded supervisor's which_children and count_children aggregate every shard",
          "[sharded_supervisor]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  auto sup = started(n, spec_of(&log, 3));
  for (int i = 0; i < 7; ++i)
    REQUIRE(sup.start_child(std::to_string(i), arg(std::to_string(i))).ok());
  auto which = sup.which_children();
  REQUIRE(which.ok());
  CHECK(which.value().size() == 7);
  auto counts = sup.count_children();
  REQUIRE(counts.ok());
  CHECK(counts.value().specs == 3);
  CHECK(counts.value().active == 7);
  CHECK(counts.value().workers == 7);
  CHECK(counts.value().supervisors == 0);
  auto victim = which.value().front().child;
  REQUIRE(sup.terminate_child(victim).ok());
  CHECK_FALSE(alive(victim));
  CHECK(sup.count_children().value().active == 6);
  CHECK(sup.terminate_child(victim).error().what() == supervisor_error::kind::not_found);
}

TEST_CASE("a sharded supervisor's default shard count is the node's io_threads times four",
          "[sharded_supervisor]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  auto sup = started(n, spec_of(&log, 0));
  CHECK(sup.shard_count() == n.config().io_threads * 4);
  auto counts = sup.count_children();
  REQUIRE(counts.ok());
  CHECK(counts.value().specs == sup.shard_count());
}

TEST_CASE("a crash storm in one shard escalates only that shard, which the parent supervisor restarts",
          "[sharded_supervisor]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  test::log_capture logs{log::level::warning};
  auto sup = started(n, spec_of(&log, 3, 1));
  // Two children on every shard, placed round robin.
  std::map<std::size_t, std::vector<pid>> by_shard;
  for (int i = 0; i < 6; ++i) {
    auto r = sup.start_child(arg(std::to_string(i)));
    REQUIRE(r.ok());
  }
  for (std::size_t i = 0; i < 3; ++i)
    for (auto& p : children_of(n, sup.shard(i)))
      by_shard[i].push_back(p);
  REQUIRE(by_shard[0].size() == 2);
  auto old_shard = sup.shard(0);
  auto top = sup.top();
  // Shard 0's budget is one restart: two crashes make it give up.
  send(by_shard[0][0], crash_atom::value);
  REQUIRE(eventually([&] { return children_of(n, sup.shard(0)).size() == 2
                                  && children_of(n, sup.shard(0)).count(by_shard[0][0]) == 0; }));
  auto restarted = children_of(n, sup.shard(0));
  for (auto& p : restarted)
    send(p, crash_atom::value);
  REQUIRE(eventually([&] { return !alive(old_shard); }));
  REQUIRE(eventually([&] { return sup.shard(0) != old_shard && alive(sup.shard(0)); }));
  CHECK(children_of(n, sup.shard(0)).empty());
  CHECK(alive(top));
  for (std::size_t i = 1; i < 3; ++i)
    for (auto& p : by_shard[i])
      CHECK(alive(p));
  CHECK(sup.count_children().value().active == 4);
  CHECK(logs.matching({"event=reached_max_restart_intensity", "name=sessions_shard"}).size() == 1);
  // The restarted shard takes children again.
  CHECK(sup.start_child(arg("after")).ok());
}

TEST_CASE("a sharded supervisor sits in an application tree through as_child",
          "[sharded_supervisor]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  auto shards = sharded_supervisor::prepare(n, spec_of(&log, 2));
  supervisor_spec app;
  app.name = "app";
  app.children.push_back(shards.as_child("sessions"));
  auto root = supervisor::start(n, app);
  REQUIRE(root.ok());
  auto which = supervisor::which_children(n, root.value());
  REQUIRE(which.ok());
  REQUIRE(which.value().size() == 1);
  CHECK(which.value()[0].child == shards.top());
  CHECK(which.value()[0].type == child_type::supervisor);
  REQUIRE(shards.start_child("k", arg("x")).ok());
  REQUIRE(log.wait_for("start:x"));
  exit(root.value(), exit_reason::shutdown());
  CHECK(eventually([&] { return n.process_count() == 0; }));
}

TEST_CASE("a process starts children on a sharded supervisor without blocking",
          "[sharded_supervisor]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  auto sup = started(n, spec_of(&log, 2));
  auto starter = spawn(n, [&log](process& self, sharded_supervisor target) -> caf::behavior {
    for (int i = 0; i < 4; ++i)
      target.start_child(self, "key" + std::to_string(i), arg("p" + std::to_string(i)),
                         [&log](supervisor_result<pid> r) { log.push(r ? "ok" : "failed"); });
    return {[](int) {}};
  }, sup);
  REQUIRE(log.wait_for("start:p3"));
  REQUIRE(eventually([&] { return sup.count_children().value().active == 4; }));
  // The replies reach the starter after the children run: wait for them too.
  CHECK(eventually([&] {
    auto events = log.snapshot();
    return std::count(events.begin(), events.end(), std::string{"ok"}) == 4;
  }));
  (void) starter;
}

TEST_CASE("a sharded supervisor's shards delay their children's restarts by the shard backoff",
          "[sharded_supervisor][backoff]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  auto spec = spec_of(&log, 2);
  restart_backoff b;
  SECTION("an hour: the crashed child waits as restarting on its own shard") {
    b.min = 1h;
    b.max = 1h;
    spec.shard_backoff = b;
    auto sup = started(n, spec);
    auto a = sup.start_child("user-a", arg("a"));
    auto other = sup.start_child("user-a", arg("other"));
    REQUIRE(a.ok());
    REQUIRE(other.ok());
    send(a.value(), crash_atom::value);
    REQUIRE(eventually([&] { return sup.count_children().value().active == 1; }));
    auto counts = sup.count_children().value();
    CHECK(counts.workers == 2);
    CHECK(counts.specs == 2);
    auto which = supervisor::which_children(n, sup.shard(sup.shard_of("user-a")));
    REQUIRE(which.ok());
    std::multiset<child_info::state> states;
    for (auto& c : which.value())
      states.insert(c.status);
    CHECK(states == std::multiset<child_info::state>{child_info::state::running,
                                                     child_info::state::restarting});
    CHECK(alive(other.value()));
    // One crash is within the shard's intensity: nothing escalated.
    CHECK(alive(sup.shard(sup.shard_of("user-a"))));
  }
  SECTION("a millisecond: the crashed child is back soon") {
    b.min = 1ms;
    b.max = 1ms;
    spec.shard_backoff = b;
    auto sup = started(n, spec);
    auto a = sup.start_child(arg("a"));
    REQUIRE(a.ok());
    REQUIRE(log.wait_for("start:a"));
    send(a.value(), crash_atom::value);
    REQUIRE(eventually([&] {
      auto events = log.snapshot();
      return std::count(events.begin(), events.end(), std::string{"start:a"}) == 2;
    }));
    REQUIRE(eventually([&] { return sup.count_children().value().active == 1; }));
  }
}

TEST_CASE("a sharded supervisor with an invalid shard backoff does not start",
          "[sharded_supervisor][backoff]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  auto spec = spec_of(&log, 2);
  spec.shard_backoff = restart_backoff{2s, 1s}; // max below min
  auto r = sharded_supervisor::start(n, spec);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == supervisor_error::kind::bad_spec);
  CHECK(r.error().reason() == "backoff max (1000ms) must not be less than min (2000ms)");
  CHECK(n.process_count() == 0);
}

TEST_CASE("a sharded supervisor started as a child with an invalid shard backoff fails that start",
          "[sharded_supervisor][backoff]") {
  event_log log; // outlives the node
  node n{test::small_node()};
  auto spec = spec_of(&log, 2);
  spec.shard_backoff = restart_backoff{2s, 1s}; // max below min
  supervisor_spec top;
  top.name = "app";
  top.children.push_back(sharded_supervisor::prepare(n, spec).as_child("conns"));
  auto r = supervisor::start(n, top);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == supervisor_error::kind::start_failed);
  CHECK_THAT(r.error().reason(), Catch::Contains("shard_backoff: backoff max (1000ms) must not be less than min"));
  CHECK(eventually([&] { return n.process_count() == 0; }));
}
