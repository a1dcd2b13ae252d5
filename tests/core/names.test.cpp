#include "libactor/names.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "libactor/process.hpp"
#include "support/event_log.hpp"
#include "support/log_capture.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;

namespace {

using stop_atom = caf::atom_constant<caf::atom("stop")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;

/// Fixture: records whatever it is sent, of several types.
caf::behavior echo(process& self, event_log* log, std::string name) {
  return {
    [log, name](int x) { log->push(fmt::format("{}:int:{}", name, x)); },
    [log, name](const std::string& x) { log->push(fmt::format("{}:string:{}", name, x)); },
    [log, name](ping_atom) { log->push(name + ":ping"); },
    [self](stop_atom) mutable { self.exit(); },
  };
}

void kill_and_wait(const pid& p) {
  libactor::exit(p, exit_reason::kill());
  REQUIRE(test::eventually([&] { return !alive(p); }));
}

} // namespace

TEST_CASE("names register whereis send and unregister as Erlang's", "[names]") {
  event_log log;
  node n{test::small_node()};
  auto p = spawn(n, echo, &log, std::string{"p"});
  CHECK_FALSE(whereis(n, "server"));
  REQUIRE(register_name(n, "server", p) == name_status::ok);
  CHECK(whereis(n, "server") == p);
  CHECK(registered(n) == std::vector<std::string>{"server"});
  // Any message type, not only routed strings.
  CHECK(send(n, "server", 42));
  CHECK(send(n, "server", std::string{"hello"}));
  CHECK(log.pop() == "p:int:42");
  CHECK(log.pop() == "p:string:hello");
  CHECK(unregister_name(n, "server"));
  CHECK_FALSE(whereis(n, "server"));
  CHECK_FALSE(unregister_name(n, "server"));
  CHECK(registered(n).empty());
}

TEST_CASE("names report a send to an unregistered name and send nothing", "[names]") {
  event_log log;
  node n{test::small_node()};
  auto p = spawn(n, echo, &log, std::string{"p"});
  CHECK_FALSE(send(n, "nobody", 1));
  REQUIRE(register_name(n, "p", p) == name_status::ok);
  CHECK(send(n, "p", 2));
  CHECK(log.pop() == "p:int:2"); // 1 never arrived
}

TEST_CASE("names refuse a taken name, a second name, a dead or empty pid and the empty name", "[names]") {
  event_log log;
  node n{test::small_node()};
  auto a = spawn(n, echo, &log, std::string{"a"});
  auto b = spawn(n, echo, &log, std::string{"b"});
  REQUIRE(register_name(n, "x", a) == name_status::ok);
  CHECK(register_name(n, "x", b) == name_status::taken);
  CHECK(to_string(name_status::taken) == "taken");
  CHECK(register_name(n, "y", a) == name_status::already_named);
  CHECK(register_name(n, "x", a) == name_status::taken);
  CHECK(register_name(n, "", b) == name_status::invalid_name);
  CHECK(register_name(n, "z", pid{}) == name_status::no_process);
  kill_and_wait(b);
  CHECK(register_name(n, "z", b) == name_status::no_process);
  CHECK_FALSE(whereis(n, "z"));
  CHECK(whereis(n, "x") == a);
  // Unregistered, a process may take another name.
  REQUIRE(unregister_name(n, "x"));
  CHECK(register_name(n, "y", a) == name_status::ok);
}

TEST_CASE("names are freed when their process exits", "[names]") {
  event_log log;
  node n{test::small_node()};
  test::log_capture quiet{log::level::none};
  auto p = spawn(n, echo, &log, std::string{"p"});
  REQUIRE(register_name(n, "p", p) == name_status::ok);
  kill_and_wait(p);
  CHECK_FALSE(whereis(n, "p"));
  CHECK_FALSE(send(n, "p", 1));
  auto q = spawn(n, echo, &log, std::string{"q"});
  CHECK(register_name(n, "p", q) == name_status::ok);
  // A normal exit too.
  libactor::send(q, stop_atom::value);
  REQUIRE(test::eventually([&] { return !alive(q); }));
  CHECK_FALSE(whereis(n, "p"));
}

TEST_CASE("names are freed before a monitor hears of the exit, every round", "[names]") {
  // Erlang frees a name before any DOWN or 'EXIT' is delivered: a DOWN
  // handler may register the name again at once.
  event_log log;
  node n{test::small_node()};
  test::log_capture quiet{log::level::none};
  int ok = 0;
  for (int round = 0; round < 300; ++round) {
    auto victim = spawn(n, echo, &log, std::string{"victim"});
    auto watcher = spawn(n, [&log](process& self, pid target) -> caf::behavior {
      self.monitor(target);
      self.on_down([&log, self](const pid&, const exit_reason&) {
        log.push("down:" + to_string(register_name(self.owner(), "svc", self.self())));
      });
      log.push("watching");
      return {[self](stop_atom) mutable { self.exit(); }};
    }, victim);
    REQUIRE(log.pop() == "watching");
    // Named after the monitor: a name freed among the attachables would be
    // freed after this monitor fires.
    REQUIRE(register_name(n, "svc", victim) == name_status::ok);
    libactor::exit(victim, exit_reason::error("crash"));
    auto down = log.pop();
    REQUIRE(down);
    if (*down == "down:ok")
      ++ok;
    libactor::send(watcher, stop_atom::value);
    REQUIRE(test::eventually([&] { return !whereis(n, "svc"); }));
  }
  CHECK(ok == 300);
}

TEST_CASE("names are freed before a linked trapping process gets the exit signal", "[names]") {
  event_log log;
  node n{test::small_node()};
  test::log_capture quiet{log::level::none};
  auto victim = spawn(n, echo, &log, std::string{"victim"});
  auto trapper = spawn(n, [&log](process& self, pid target) -> caf::behavior {
    self.trap_exit(true);
    self.link(target);
    self.on_exit([&log, self](const pid&, const exit_reason&) {
      log.push("exit:" + to_string(register_name(self.owner(), "svc", self.self())));
    });
    log.push("linked");
    return {[self](stop_atom) mutable { self.exit(); }};
  }, victim);
  REQUIRE(log.pop() == "linked");
  REQUIRE(register_name(n, "svc", victim) == name_status::ok);
  libactor::exit(victim, exit_reason::error("crash"));
  CHECK(log.pop() == "exit:ok");
  CHECK(whereis(n, "svc") == trapper);
}

TEST_CASE("names send from inside a process reaches the named process", "[names]") {
  event_log log;
  node n{test::small_node()};
  auto server = spawn(n, echo, &log, std::string{"server"});
  REQUIRE(register_name(n, "server", server) == name_status::ok);
  spawn(n, [](process& self) -> caf::behavior {
    send(self, "server", ping_atom::value);
    self.exit();
    return {};
  });
  CHECK(log.pop() == "server:ping");
}

TEST_CASE("names are local to their node", "[names]") {
  event_log log;
  node a{test::small_node()};
  node b{test::small_node()};
  auto p = spawn(a, echo, &log, std::string{"p"});
  REQUIRE(register_name(a, "svc", p) == name_status::ok);
  CHECK_FALSE(whereis(b, "svc"));
  CHECK_FALSE(send(b, "svc", 1));
}
