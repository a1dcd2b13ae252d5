/// @file
/// Fixtures shared by the stop tests (node::stop, supervisor::stop): a tree
/// of workers that record each `shutdown` they get and end a little later,
/// so that a second signal would still find them running and be recorded;
/// and a slot through which a test reads a pid set on another thread.
#pragma once

#include <any>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <caf/atom.hpp>

#include "libactor/process.hpp"
#include "libactor/supervisor.hpp"
#include "support/event_log.hpp"

namespace libactor::test {

using linger_atom = caf::atom_constant<caf::atom("linger")>;

/// Traps exits, logs `shutdown:<id>:<reason>`, ends 20 ms later (`stopped:<id>`).
inline caf::behavior lingering_worker(libactor::process& self, event_log* log, std::string id) {
  using namespace std::chrono_literals;
  self.trap_exit(true);
  self.on_exit([self, log, id](const libactor::pid&, const libactor::exit_reason& why) mutable {
    log->push("shutdown:" + id + ":" + to_string(why));
    self.send_after(20ms, linger_atom::value);
  });
  return {[self, log, id](linger_atom) mutable {
    log->push("stopped:" + id);
    self.exit(libactor::exit_reason::shutdown());
  }};
}

inline libactor::child_spec lingering_child(event_log* log, std::string id) {
  auto start = [log, id](libactor::process& sup, const std::any&) {
    return sup.spawn_link(lingering_worker, log, id);
  };
  return libactor::child_spec{id, start, libactor::restart_type::permanent, {},
                              libactor::child_type::worker};
}

inline libactor::supervisor_spec tree(std::string name, std::vector<libactor::child_spec> children) {
  libactor::supervisor_spec spec;
  spec.name = std::move(name);
  spec.children = std::move(children);
  return spec;
}

/// A pid written by one thread (a start function) and read by the test.
struct pid_slot {
  std::mutex mtx;
  libactor::pid value;
  void set(libactor::pid x) {
    std::lock_guard<std::mutex> guard{mtx};
    value = std::move(x);
  }
  libactor::pid get() {
    std::lock_guard<std::mutex> guard{mtx};
    return value;
  }
};

} // namespace libactor::test
