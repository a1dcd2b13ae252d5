// Where processes run: each on one home I/O thread for its whole life
// (src/internal/io_pool.hpp). A process spawned by a process shares its
// parent's thread; processes started from outside spread over the threads;
// a sharded supervisor puts its shards, and so their children, on
// different threads.
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <caf/atom.hpp>
#include <catch2/catch.hpp>

#include "libactor/call.hpp"
#include "libactor/process.hpp"
#include "libactor/sharded_supervisor.hpp"
#include "libactor/supervisor.hpp"
#include "support/event_log.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

std::string this_thread() {
  std::ostringstream out;
  out << std::this_thread::get_id();
  return out.str();
}

/// Records `<tag> <thread>` when it starts and on every ping.
caf::behavior recorder(process&, event_log* log, std::string tag) {
  log->push(tag + " " + this_thread());
  return {[log, tag](ping_atom) { log->push(tag + " " + this_thread()); }};
}

/// Spawns a recorder and records itself the same way.
caf::behavior parent_of_recorder(process& self, event_log* log) {
  log->push("parent " + this_thread());
  auto child = self.spawn(recorder, log, std::string{"child"});
  return {[child, log](ping_atom) {
    log->push("parent " + this_thread());
    send(child, ping_atom::value);
  }};
}

/// A sharded supervisor whose children are recorders tagged by their
/// start argument.
sharded_supervisor_spec recorders(event_log* log, std::string name, std::size_t shards) {
  sharded_supervisor_spec spec;
  spec.name = std::move(name);
  spec.shards = shards;
  spec.child = child_spec{"recorder",
                          [log](process& sup, const std::any& args) {
                            return sup.spawn_link(recorder, log, std::any_cast<std::string>(args));
                          },
                          restart_type::temporary, brutal_kill, child_type::worker};
  return spec;
}

/// The distinct threads named by the next `count` events of `log`.
std::set<std::string> threads_of(event_log& log, std::size_t count) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < count; ++i) {
    auto ev = log.pop();
    REQUIRE(ev);
    seen.insert(ev->substr(ev->find(' ') + 1));
  }
  return seen;
}

} // namespace

TEST_CASE("a process spawned by a process runs on its parent's I/O thread, always", "[placement]") {
  event_log log;
  node n{test::small_node()};
  auto p = spawn(n, parent_of_recorder, &log);
  for (int i = 0; i < 20; ++i)
    send(p, ping_atom::value);
  // parent + child at start, then 20 x (parent, child).
  CHECK(threads_of(log, 42).size() == 1);
}

TEST_CASE("processes started from outside spread over the I/O threads", "[placement]") {
  event_log log;
  node n{test::small_node()}; // 2 I/O threads
  for (int i = 0; i < 4; ++i)
    spawn(n, recorder, &log, "p" + std::to_string(i));
  CHECK(threads_of(log, 4).size() == 2);
}

TEST_CASE("a sharded supervisor's shards and their children run on different I/O threads",
          "[placement][sharded_supervisor]") {
  event_log log;
  node n{test::small_node()}; // 2 I/O threads
  auto sup = sharded_supervisor::start(n, recorders(&log, "placed", 2));
  REQUIRE(sup);
  // Round robin: one child on each shard, twice.
  for (int i = 0; i < 4; ++i)
    REQUIRE(sup.value().start_child(std::any{"c" + std::to_string(i)}));
  std::map<std::string, std::string> where;
  for (int i = 0; i < 4; ++i) {
    auto ev = log.pop();
    REQUIRE(ev);
    where[ev->substr(0, ev->find(' '))] = ev->substr(ev->find(' ') + 1);
  }
  // c0 and c2 went to one shard, c1 and c3 to the other.
  CHECK(where["c0"] == where["c2"]);
  CHECK(where["c1"] == where["c3"]);
  CHECK(where["c0"] != where["c1"]);
}

TEST_CASE("a child cast from an I/O thread goes to a shard on that thread",
          "[placement][sharded_supervisor]") {
  // As a listener's accept does: the session then runs next to its socket.
  event_log log;
  node n{test::small_node()}; // 2 I/O threads
  auto sup = sharded_supervisor::start(n, recorders(&log, "near", 8));
  REQUIRE(sup);
  auto handle = sup.value();
  for (int starter = 0; starter < 2; ++starter) {
    // Two starters from outside: one lands on each thread.
    spawn(n, [handle, &log, starter](process&) -> caf::behavior {
      auto tag = "starter" + std::to_string(starter);
      log.push(tag + " " + this_thread());
      for (int i = 0; i < 6; ++i)
        handle.cast_start_child(std::any{tag + "-child"});
      return {[](ping_atom) {}};
    });
  }
  std::map<std::string, std::set<std::string>> where;
  for (int i = 0; i < 14; ++i) {
    auto ev = log.pop();
    REQUIRE(ev);
    auto tag = ev->substr(0, ev->find(' '));
    where[tag.substr(0, 8)].insert(ev->substr(ev->find(' ') + 1));
  }
  // Each starter and its 6 children (spread over 4 shards) share one thread.
  REQUIRE(where.size() == 2);
  CHECK(where["starter0"].size() == 1);
  CHECK(where["starter1"].size() == 1);
  CHECK(where["starter0"] != where["starter1"]);
}

TEST_CASE("blocking calls made on an I/O thread fail at once instead of waiting forever",
          "[placement]") {
  // A process they would spawn or wait for gets this thread as its home, and
  // this thread would be waiting.
  event_log log;
  node n{test::small_node()};
  auto target = spawn(n, recorder, &log, std::string{"target"});
  REQUIRE(log.pop()); // target started
  spawn(n, [&n, &log, target](process&) -> caf::behavior {
    log.push(n.on_io_thread() ? "on io thread" : "elsewhere");
    auto r = libactor::call<std::string>(n, target, 1s, ping_atom::value);
    log.push(!r && r.error().what() == call_error::kind::would_block ? "call: would_block" : "call: other");
    supervisor_spec spec;
    spec.name = "nested";
    auto s = supervisor::start(n, spec);
    log.push(!s && s.error().message().find("I/O thread") != std::string::npos ? "start: refused"
                                                                                 : "start: other");
    return {[](ping_atom) {}};
  });
  CHECK(log.pop() == std::optional<std::string>{"on io thread"});
  CHECK(log.pop() == std::optional<std::string>{"call: would_block"});
  CHECK(log.pop() == std::optional<std::string>{"start: refused"});
  CHECK_FALSE(n.on_io_thread());
}
