// Every public call that waits (the `node&` forms: calls, supervisor and
// sharded supervisor calls, the HTTP server's and listener's drain) refuses
// at once on one of the node's I/O threads, inside a process: waiting there
// would stall every process on the thread, possibly the one waited for.
// None may sleep-poll first.
#include <any>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <caf/atom.hpp>
#include <catch2/catch.hpp>

#include "libactor/call.hpp"
#include "libactor/http/server.hpp"
#include "libactor/net/listener.hpp"
#include "libactor/process.hpp"
#include "libactor/sharded_supervisor.hpp"
#include "libactor/supervisor.hpp"
#include "support/event_log.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;

namespace {

using echo_atom = caf::atom_constant<caf::atom("echo")>;

/// Long enough that a call which waits instead of refusing misses the
/// test's deadline (test::deadline) by far.
constexpr auto patience = std::chrono::milliseconds{3 * test::deadline};

/// Runs `f` inside a new process (on an I/O thread) and returns what it
/// returned, or nullopt if it has not returned by the test's deadline.
template <class F>
std::optional<std::string> in_process(node& n, F f) {
  auto out = std::make_shared<std::promise<std::string>>();
  auto result = out->get_future();
  spawn(n, [out, f](process& self) mutable -> caf::behavior {
    std::string what = self.owner().on_io_thread() ? "" : "not on an I/O thread: ";
    try {
      what += f();
    } catch (const std::exception& e) {
      what += std::string{"threw: "} + e.what();
    }
    out->set_value(std::move(what));
    return {};
  });
  if (result.wait_for(test::deadline) != std::future_status::ready)
    return std::nullopt;
  return result.get();
}

template <class R>
std::string outcome(const supervisor_result<R>& r) {
  if (r)
    return "ok";
  return std::string{to_string(r.error().what())} + ": " + r.error().message();
}

child_spec worker_spec() {
  return child_spec{"worker",
                    [](process& sup, const std::any&) {
                      return sup.spawn_link([](process&) -> caf::behavior {
                        return {[](echo_atom, int x) { return x; }};
                      });
                    },
                    restart_type::temporary, brutal_kill, child_type::worker};
}

sharded_supervisor_spec sharded_spec() {
  sharded_supervisor_spec spec;
  spec.name = "blocking_shards";
  spec.shards = 2;
  spec.child = worker_spec();
  return spec;
}

} // namespace

TEST_CASE("libactor::call refuses on an I/O thread", "[blocking_api]") {
  node n{test::small_node()};
  auto server = spawn(n, [](process&) -> caf::behavior { return {[](echo_atom, int x) { return x; }}; });
  auto r = in_process(n, [&n, server] {
    auto res = call<int>(n, server, patience, echo_atom::value, 1);
    return res ? std::string{"ok"} : to_string(res.error().what());
  });
  REQUIRE(r);
  CHECK(*r == "would_block");
}

TEST_CASE("the supervisor's node& calls refuse on an I/O thread", "[blocking_api][supervisor]") {
  node n{test::small_node()};
  supervisor_spec spec;
  spec.name = "blocking_sup";
  auto sup = supervisor::start(n, spec);
  REQUIRE(sup);
  auto s = sup.value();
  auto fails = [](const std::optional<std::string>& r) {
    return r && r->rfind("call_failed", 0) == 0;
  };
  INFO("start");
  CHECK(fails(in_process(n, [&n, spec] { return outcome(supervisor::start(n, spec, patience)); })));
  CHECK(fails(in_process(n, [&n, s] {
    return outcome(supervisor::start_child(n, s, worker_spec(), patience));
  })));
  CHECK(fails(in_process(n, [&n, s] {
    return outcome(supervisor::start_child(n, s, std::any{}, patience));
  })));
  CHECK(fails(in_process(n, [&n, s] {
    return outcome(supervisor::terminate_child(n, s, std::string{"worker"}, patience));
  })));
  CHECK(fails(in_process(n, [&n, s] {
    return outcome(supervisor::terminate_child(n, s, s, patience));
  })));
  CHECK(fails(in_process(n, [&n, s] {
    return outcome(supervisor::restart_child(n, s, "worker", patience));
  })));
  CHECK(fails(in_process(n, [&n, s] {
    return outcome(supervisor::delete_child(n, s, "worker", patience));
  })));
  CHECK(fails(in_process(n, [&n, s] { return outcome(supervisor::which_children(n, s, patience)); })));
  CHECK(fails(in_process(n, [&n, s] { return outcome(supervisor::count_children(n, s, patience)); })));
  // Still usable from outside.
  CHECK(supervisor::count_children(n, s));
}

TEST_CASE("the sharded supervisor's blocking calls refuse on an I/O thread before waiting",
          "[blocking_api][sharded_supervisor]") {
  node n{test::small_node()};
  // Never started: its shards have no pid, which the blocking calls would
  // wait for (within their timeout) before anything else.
  auto idle = sharded_supervisor::prepare(n, sharded_spec());
  auto refused = [](const std::optional<std::string>& r) {
    return r && r->rfind("call_failed", 0) == 0 && r->find("would block") != std::string::npos;
  };
  CHECK(refused(in_process(n, [&n] {
    auto r = sharded_supervisor::start(n, sharded_spec(), patience);
    return r ? std::string{"ok"} : std::string{to_string(r.error().what())} + ": " + r.error().message();
  })));
  CHECK(refused(in_process(n, [idle] { return outcome(idle.start_child("key", std::any{}, patience)); })));
  CHECK(refused(in_process(n, [idle] { return outcome(idle.start_child(std::any{}, patience)); })));
  CHECK(refused(in_process(n, [idle] { return outcome(idle.terminate_child(pid{}, patience)); })));
  CHECK(refused(in_process(n, [idle] { return outcome(idle.which_children(patience)); })));
  CHECK(refused(in_process(n, [idle] { return outcome(idle.count_children(patience)); })));

  auto started = sharded_supervisor::start(n, sharded_spec());
  REQUIRE(started);
  auto tree = started.value();
  CHECK(refused(in_process(n, [tree] { return outcome(tree.start_child(std::any{}, patience)); })));
  CHECK(refused(in_process(n, [tree] { return outcome(tree.count_children(patience)); })));
  // From outside, the same calls work.
  CHECK(tree.start_child(std::any{}));
  CHECK(tree.count_children());
}

TEST_CASE("the HTTP server and the listener refuse to drain on an I/O thread",
          "[blocking_api][http]") {
  node n{test::small_node()};
  http::server_options opts;
  opts.shards = 2;
  opts.drain_timeout = patience;
  http::http_router routes;
  routes.add("GET", "/", [](http::context& ctx) { ctx.reply(200, "hi\n"); });
  auto srv = std::make_shared<http::server>(n, opts, routes);
  auto r = in_process(n, [srv] {
    srv->stop();
    return std::string{"stopped"};
  });
  REQUIRE(r);
  CHECK(r->rfind("threw: ", 0) == 0);
  CHECK(r->find("would block") != std::string::npos);
  // Starting one there refuses too (its connection supervisor would wait).
  auto started = in_process(n, [&n, opts, routes] {
    http::server inner{n, opts, routes};
    return std::string{"started"};
  });
  REQUIRE(started);
  CHECK(started->rfind("threw: ", 0) == 0);
  // From outside the server still stops.
  srv->stop();

  auto listen = std::make_shared<net::listener>(n, net::listener_options{}, [](net::connection_ptr) {});
  auto l = in_process(n, [listen] {
    listen->stop(patience);
    return std::string{"stopped"};
  });
  REQUIRE(l);
  CHECK(l->rfind("threw: ", 0) == 0);
  listen->stop(0ms);
}

TEST_CASE("node stop refuses on one of the node's I/O threads and the node runs on",
          "[blocking_api][node]") {
  node n{test::small_node()};
  auto r = in_process(n, [&n] {
    n.stop();
    return std::string{"stopped"};
  });
  REQUIRE(r);
  CHECK(r->rfind("threw: ", 0) == 0);
  CHECK(r->find("would wait for itself") != std::string::npos);
  CHECK(n.running());
  // Still serving: a process spawned now runs.
  auto again = in_process(n, [] { return std::string{"ran"}; });
  REQUIRE(again);
  CHECK(*again == "ran");
  n.stop();
  CHECK_FALSE(n.running());
}
