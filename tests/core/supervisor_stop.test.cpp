// supervisor::stop, OTP's supervisor:stop/3.
#include <future>
#include <memory>
#include <string>
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
using test::eventually;

namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;

} // namespace

TEST_CASE("supervisor stop stops the tree top-down and returns once all of it is gone",
          "[supervisor][supervisor_stop]") {
  event_log log;
  node n{test::small_node()};
  auto sup = supervisor::start(
    n, tree("app", {lingering_child(&log, "db"),
                    supervisor::child("web", tree("web", {lingering_child(&log, "listener"),
                                                          lingering_child(&log, "sessions")}))}));
  REQUIRE(sup.ok());
  REQUIRE(eventually([&] { return n.process_count() == 5; }));
  auto r = supervisor::stop(n, sup.value());
  REQUIRE(r.ok());
  CHECK(n.process_count() == 0);
  CHECK_FALSE(alive(sup.value()));
  CHECK(log.snapshot() == std::vector<std::string>{
                            "shutdown:sessions:shutdown", "stopped:sessions",
                            "shutdown:listener:shutdown", "stopped:listener",
                            "shutdown:db:shutdown", "stopped:db"});
}

TEST_CASE("supervisor stop of a dead pid is not_found", "[supervisor][supervisor_stop]") {
  node n{test::small_node()};
  auto sup = supervisor::start(n, tree("app", {}));
  REQUIRE(sup.ok());
  exit(sup.value(), exit_reason::shutdown());
  REQUIRE(eventually([&] { return !alive(sup.value()); }));
  auto r = supervisor::stop(n, sup.value());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == supervisor_error::kind::not_found);
  auto none = supervisor::stop(n, pid{});
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().what() == supervisor_error::kind::not_found);
}

TEST_CASE("supervisor stop is refused on an I/O thread", "[supervisor][supervisor_stop]") {
  node n{test::small_node()};
  auto sup = supervisor::start(n, tree("app", {}));
  REQUIRE(sup.ok());
  auto answer = std::make_shared<std::promise<supervisor_result<ok_t>>>();
  auto result = answer->get_future();
  auto caller = spawn(n, [&n, answer, s = sup.value()](process&) -> caf::behavior {
    return {[&n, answer, s](go_atom) { answer->set_value(supervisor::stop(n, s)); }};
  });
  send(caller, go_atom::value);
  REQUIRE(result.wait_for(test::deadline) == std::future_status::ready);
  auto r = result.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == supervisor_error::kind::call_failed);
  CHECK(alive(sup.value()));
}

TEST_CASE("supervisor stop kills a supervisor that does not stop in time",
          "[supervisor][supervisor_stop]") {
  node n{test::small_node()};
  // A child that ignores `shutdown`, with shutdown infinity: the supervisor
  // would wait for it forever.
  auto stubborn = [](process& sup, const std::any&) {
    return sup.spawn_link([](process& self) -> caf::behavior {
      self.trap_exit(true);
      return {[](int) {}};
    });
  };
  auto sup = supervisor::start(
    n, tree("app", {child_spec{"stubborn", stubborn, restart_type::permanent, infinity,
                               child_type::worker}}));
  REQUIRE(sup.ok());
  auto r = supervisor::stop(n, sup.value(), 100ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == supervisor_error::kind::call_failed);
  CHECK(eventually([&] { return !alive(sup.value()); }));
}
