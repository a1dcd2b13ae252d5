// How `node::stop` shuts processes down: in OTP's order (init:stop stops the
// applications in reverse start order, each supervision tree top-down), each
// process signalled once, and the processes spawned meanwhile signalled too.
#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/atom.hpp>
#include <catch2/catch.hpp>

#include "libactor/node.hpp"
#include "libactor/process.hpp"
#include "libactor/supervisor.hpp"
#include "support/event_log.hpp"
#include "support/stop_fixtures.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;
using test::lingering_child;
using test::tree;

namespace {

using more_atom = caf::atom_constant<caf::atom("more")>;

/// Runs `fn` on a thread of its own: true if it returns within the suite's
/// deadline. If not, the thread is left running (and what it uses leaked):
/// a failure, not a hung suite.
template <class F>
bool returns_in_time(F fn) {
  auto finished = std::make_shared<std::promise<void>>();
  auto done = finished->get_future();
  std::thread runner{[finished, fn = std::move(fn)]() mutable {
    fn();
    finished->set_value();
  }};
  if (done.wait_for(test::deadline) != std::future_status::ready) {
    runner.detach();
    return false;
  }
  runner.join();
  return true;
}

} // namespace

TEST_CASE("node stop stops a tree top-down, children in reverse start order, each signalled once",
          "[node][node_stop]") {
  event_log log;
  node n{test::small_node()};
  auto app = supervisor::start(n, tree("app", {lingering_child(&log, "db"), lingering_child(&log, "web")}));
  REQUIRE(app.ok());
  n.stop();
  CHECK(log.snapshot() == std::vector<std::string>{"shutdown:web:shutdown", "stopped:web",
                                                   "shutdown:db:shutdown", "stopped:db"});
}

TEST_CASE("node stop stops the top-level supervisors in reverse start order, one after the other",
          "[node][node_stop]") {
  event_log log;
  node n{test::small_node()};
  REQUIRE(supervisor::start(n, tree("a", {lingering_child(&log, "a1")})).ok());
  REQUIRE(supervisor::start(n, tree("b", {lingering_child(&log, "b1")})).ok());
  n.stop();
  CHECK(log.snapshot() == std::vector<std::string>{"shutdown:b1:shutdown", "stopped:b1",
                                                   "shutdown:a1:shutdown", "stopped:a1"});
}

TEST_CASE("node stop gives a process spawned while it stops shutdown at once", "[node][node_stop]") {
  event_log log;
  auto cfg = test::small_node();
  cfg.shutdown_timeout = 1000ms;
  node n{cfg};
  // On `shutdown` the parent starts a helper and waits for it to end; the
  // helper ends on the first exit signal it gets. Unsignalled, the helper
  // would only end through its link when the parent is killed.
  spawn(n, [&log](process& self, int) -> caf::behavior {
    self.trap_exit(true);
    self.on_exit([self, &log](const pid& from, const exit_reason&) mutable {
      if (from == self.self()) {
        self.spawn_link([&log](process& helper) -> caf::behavior {
          helper.trap_exit(true);
          helper.on_exit([helper, &log](const pid&, const exit_reason& why) mutable {
            log.push("helper:" + to_string(why));
            helper.exit(why);
          });
          return {[](int) {}};
        });
        return;
      }
      self.exit(exit_reason::shutdown()); // the helper has ended
    });
    return {[](int) {}};
  }, 0);
  n.stop();
  CHECK(log.snapshot() == std::vector<std::string>{"helper:shutdown"});
}

TEST_CASE("node stop returns although a process keeps spawning past the kill deadline",
          "[node][node_stop]") {
  auto cfg = test::small_node();
  cfg.shutdown_timeout = 100ms;
  auto left = std::make_shared<std::atomic<std::size_t>>(1);
  CHECK(returns_in_time([cfg, left] {
    node n{cfg};
    // On `shutdown` it starts spawning processes that ignore `shutdown`,
    // one per message, for as long as it lives.
    spawn(n, [](process& self, int) -> caf::behavior {
      self.trap_exit(true);
      self.on_exit([self](const pid&, const exit_reason&) mutable {
        self.send(self.self(), more_atom::value);
      });
      return {
        [self](more_atom) mutable {
          self.spawn([](process& child) -> caf::behavior {
            child.trap_exit(true);
            return {[](int) {}};
          });
          self.send(self.self(), more_atom::value);
        },
        [](int) {},
      };
    }, 0);
    n.stop();
    *left = n.process_count();
  }));
  CHECK(*left == 0);
}

TEST_CASE("a node built on one thread stops on another", "[node][node_stop]") {
  auto n = std::make_shared<node>(test::small_node());
  spawn(*n, [](process&) -> caf::behavior { return {[](int) {}}; });
  CHECK(returns_in_time([n] { n->stop(); }));
}
