#include "libactor/call.hpp"

#include <string>

#include <caf/atom.hpp>
#include <caf/response_promise.hpp>
#include <catch2/catch.hpp>

#include "support/event_log.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;

namespace {

using add_atom = caf::atom_constant<caf::atom("add")>;
using hold_atom = caf::atom_constant<caf::atom("hold")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;

/// Fixture server: `add` replies, `hold` never replies (keeps the promise),
/// `crash` throws while the request is being handled.
caf::behavior server(process& self, event_log* log) {
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  return {
    [](add_atom, int x, int y) { return x + y; },
    [self, log, held](hold_atom) mutable -> caf::response_promise {
      held->push_back(self.caf_self()->make_response_promise());
      log->push("holding");
      return held->back();
    },
    [](crash_atom) -> int { throw std::runtime_error("crashed mid-call"); },
  };
}

/// An hour: a call that fails before the test deadline did not fail by timeout.
constexpr auto never = std::chrono::milliseconds{3'600'000};

} // namespace

TEST_CASE("a call returns the callee's reply", "[call]") {
  event_log log;
  node n{test::small_node()};
  auto s = spawn(n, server, &log);
  auto r = call<int>(n, s, 5s, add_atom::value, 2, 3);
  REQUIRE(r.ok());
  CHECK(r.value() == 5);
}

TEST_CASE("a call without a reply fails with timeout", "[call]") {
  event_log log;
  node n{test::small_node()};
  auto s = spawn(n, server, &log);
  auto r = call<int>(n, s, 50ms, hold_atom::value);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == call_error::kind::timeout);
  CHECK(alive(s));
}

TEST_CASE("a call fails at once when the callee is killed while holding it", "[call]") {
  event_log log;
  node n{test::small_node()};
  auto s = spawn(n, server, &log);
  auto result = std::async(std::launch::async, [&] { return call<int>(n, s, never, hold_atom::value); });
  REQUIRE(log.wait_for("holding"));
  exit(s, exit_reason::error("operator stopped it"));
  REQUIRE(result.wait_for(test::deadline) == std::future_status::ready);
  auto r = result.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == call_error::kind::callee_down);
  CHECK(r.error().reason() == exit_reason::error("operator stopped it"));
}

TEST_CASE("a call fails at once when the handler throws (CAF issue 1047)", "[call][crash]") {
  event_log log;
  node n{test::small_node()};
  auto s = spawn(n, server, &log);
  auto result = std::async(std::launch::async, [&] { return call<int>(n, s, never, crash_atom::value); });
  REQUIRE(result.wait_for(test::deadline) == std::future_status::ready);
  auto r = result.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == call_error::kind::callee_down);
  CHECK(r.error().reason() == exit_reason::error("crashed mid-call"));
  CHECK(r.error().message().find("crashed mid-call") != std::string::npos);
}

TEST_CASE("a call to a process that already ended fails at once", "[call]") {
  event_log log;
  node n{test::small_node()};
  auto s = spawn(n, server, &log);
  exit(s, exit_reason::kill());
  REQUIRE(test::eventually([&] { return !alive(s); }));
  auto result = std::async(std::launch::async, [&] { return call<int>(n, s, never, add_atom::value, 1, 1); });
  REQUIRE(result.wait_for(test::deadline) == std::future_status::ready);
  auto r = result.get();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == call_error::kind::callee_down);
}

TEST_CASE("a call to the empty pid fails with no_process", "[call]") {
  node n{test::small_node()};
  auto r = call<int>(n, pid{}, never, add_atom::value, 1, 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == call_error::kind::no_process);
}

TEST_CASE("a call with a message the callee cannot handle fails with rejected", "[call]") {
  event_log log;
  node n{test::small_node()};
  auto s = spawn(n, server, &log);
  auto r = call<int>(n, s, never, std::string{"unknown"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().what() == call_error::kind::rejected);
  CHECK(alive(s));
}

TEST_CASE("a process calls another asynchronously and the caller's own monitors are kept",
          "[call]") {
  event_log log;
  node n{test::small_node()};
  auto s = spawn(n, server, &log);
  auto caller = spawn(n, [&log](process& self, pid target) -> caf::behavior {
    self.monitor(target);
    self.on_down([&log](const pid&, const exit_reason& why) { log.push("down:" + to_string(why)); });
    self.call(target, never, add_atom::value, 20, 22)
      .then([&log](int sum) { log.push("sum:" + std::to_string(sum)); },
            [&log](const call_error& e) { log.push("error:" + e.message()); });
    return {[](int) {}};
  }, s);
  REQUIRE(log.wait_for("sum:42"));
  // The call's own monitor is gone, the user's monitor must remain.
  exit(s, exit_reason::shutdown());
  CHECK(log.wait_for("down:shutdown"));
  (void) caller;
}
