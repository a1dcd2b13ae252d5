// A three-level supervision tree, written as OTP child-spec lists, that shows
// a crash, a restart and an escalation, then stops by itself:
//
//   app_sup            one_for_one, intensity 2 in 5 s
//   ├── config         worker, permanent
//   └── conns_sup      supervisor, rest_for_one, intensity 1 in 5 s
//       ├── acceptor   worker, permanent
//       └── sessions   supervisor, simple_one_for_one, intensity 1 in 5 s
//           └── session (one per user, started with the user's name)
//
// Run it: ./supervisor_tree   (the supervisor reports go to stderr)
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <caf/atom.hpp>

#include "libactor/libactor.hpp"
#include "libactor/supervisor.hpp"

using namespace std::chrono_literals;
using namespace libactor;

using crash_atom = caf::atom_constant<caf::atom("crash")>;

// -- the workers ----------------------------------------------------------------

caf::behavior config_server(process&) {
  return {[](crash_atom) -> void { throw std::runtime_error("config corrupted"); }};
}

caf::behavior acceptor(process&) {
  return {[](crash_atom) -> void { throw std::runtime_error("accept failed"); }};
}

/// A session, started with its user's name. On a restart the supervisor passes
/// the same argument again, as it will pass the same socket.
caf::behavior session(process&, std::string user) {
  return {[user](crash_atom) -> void { throw std::runtime_error("handler bug for " + user); }};
}

/// Start functions spawn the child linked to the supervisor that calls them.
template <class F>
start_function worker(std::string name, F body) {
  return [name, body](process& sup, const std::any&) {
    return sup.spawn_with(detail::spawn_mode::link, spawn_options{name}, body);
  };
}

// -- the tree, as OTP child-spec lists --------------------------------------------

supervisor_spec sessions_spec() {
  supervisor_spec s;
  s.name = "sessions";
  s.flags = {restart_strategy::simple_one_for_one, 1, 5000ms};
  s.children = {
    {"session",
     [](process& sup, const std::any& args) {
       return sup.spawn_with(detail::spawn_mode::link, spawn_options{"session"}, session,
                             std::any_cast<std::string>(args));
     },
     restart_type::transient, 2000ms, child_type::worker},
  };
  return s;
}

supervisor_spec conns_spec() {
  supervisor_spec s;
  s.name = "conns_sup";
  s.flags = {restart_strategy::rest_for_one, 1, 5000ms};
  s.children = {
    {"acceptor", worker("acceptor", acceptor), restart_type::permanent, brutal_kill, child_type::worker},
    supervisor::child("sessions", sessions_spec()),
  };
  return s;
}

supervisor_spec app_spec() {
  supervisor_spec s;
  s.name = "app_sup";
  s.flags = {restart_strategy::one_for_one, 2, 5000ms};
  s.children = {
    {"config", worker("config", config_server), restart_type::permanent, 5000ms, child_type::worker},
    supervisor::child("conns_sup", conns_spec()),
  };
  return s;
}

// -- the demo -----------------------------------------------------------------------

/// The child `id` of `sup`, or an empty pid.
pid child_of(node& n, const pid& sup, const std::string& id) {
  auto r = supervisor::which_children(n, sup);
  if (r)
    for (auto& c : r.value())
      if (c.id == id)
        return c.child;
  return {};
}

/// Polls until `pred` holds (a demo, not a test: a bounded wait is enough).
template <class Pred>
bool wait_until(Pred pred) {
  for (int i = 0; i < 300 && !pred(); ++i)
    std::this_thread::sleep_for(10ms);
  return pred();
}

void print_tree(node& n, const pid& sup, int depth = 0) {
  auto r = supervisor::which_children(n, sup);
  if (!r)
    return;
  for (auto& c : r.value()) {
    std::printf("%*s%s %s (%s)\n", depth * 2 + 2, "", c.id.empty() ? "session" : c.id.c_str(),
                to_string(c.child).c_str(), std::string{to_string(c.type)}.c_str());
    if (c.type == child_type::supervisor && c.child)
      print_tree(n, c.child, depth + 1);
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0); // keep the narration in step with the reports on stderr
  node n{node_config{}};
  auto app = supervisor::start(n, app_spec());
  if (!app) {
    std::printf("app_sup failed to start: %s\n", app.error().message().c_str());
    return 1;
  }
  auto conns = child_of(n, app.value(), "conns_sup");
  auto sessions = child_of(n, conns, "sessions");
  for (auto user : {"alice", "bob", "carol"})
    supervisor::start_child(n, sessions, std::any{std::string{user}});
  std::printf("app_sup %s\n", to_string(app.value()).c_str());
  print_tree(n, app.value());

  // 1. A crash and a restart: one session crashes; only it restarts, with
  // the same argument.
  auto victim = supervisor::which_children(n, sessions).value().at(0).child;
  std::printf("\n-- crash one session (%s): simple_one_for_one restarts only it\n",
              to_string(victim).c_str());
  send(victim, crash_atom::value);
  wait_until([&] { return !alive(victim) && supervisor::count_children(n, sessions).value().active == 3; });
  print_tree(n, app.value());

  // 2. An escalation: two more crashes within 5 s exceed the sessions
  // supervisor's intensity (1); it stops its sessions and exits with
  // `shutdown`; conns_sup (rest_for_one) restarts it, empty.
  std::printf("\n-- two more session crashes: sessions gives up, conns_sup restarts it\n");
  for (int i = 0; i < 2; ++i) {
    auto kids = supervisor::which_children(n, sessions);
    if (kids && !kids.value().empty())
      send(kids.value().front().child, crash_atom::value);
    wait_until([&] {
      auto c = supervisor::count_children(n, sessions);
      return !c || c.value().active == 3;
    });
  }
  wait_until([&] { return !alive(sessions) && child_of(n, conns, "sessions"); });
  std::printf("sessions %s -> %s\n", to_string(sessions).c_str(),
              to_string(child_of(n, conns, "sessions")).c_str());
  print_tree(n, app.value());

  // 3. A second escalation, one level up: the acceptor crashes. conns_sup
  // already restarted `sessions` within these 5 s, so this restart exceeds
  // its intensity (1): it stops its children (rest_for_one order: newest
  // first) and exits with `shutdown`; app_sup restarts the whole subtree.
  std::printf("\n-- the acceptor crashes: conns_sup's second restart in 5 s exceeds its "
              "intensity; app_sup restarts conns_sup and its subtree\n");
  send(child_of(n, conns, "acceptor"), crash_atom::value);
  wait_until([&] {
    auto fresh = child_of(n, app.value(), "conns_sup");
    return !alive(conns) && fresh && child_of(n, fresh, "sessions");
  });
  std::printf("conns_sup %s -> %s\n", to_string(conns).c_str(),
              to_string(child_of(n, app.value(), "conns_sup")).c_str());
  print_tree(n, app.value());

  std::printf("\n-- stop: the tree shuts down newest first\n");
  exit(app.value(), exit_reason::shutdown());
  wait_until([&] { return !alive(app.value()); });
  std::printf("done, %zu processes left\n", n.process_count());
  return 0;
}
