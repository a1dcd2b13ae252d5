// The smallest tour of libactor's process layer: a counter server answered by
// calls, a worker that crashes, and a parent that traps the crash through its
// link and lives on. Run it: ./hello_processes
#include <chrono>
#include <string>

#include <caf/atom.hpp>

#include "libactor/libactor.hpp"

using namespace std::chrono_literals;
using libactor::process;

using add_atom = caf::atom_constant<caf::atom("add")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;

/// A gen_server-like counter: `add` returns the running total.
caf::behavior counter(process&, int total) {
  return {[total](add_atom, int n) mutable { return total += n; }};
}

/// A worker that throws when told to, ending only itself.
caf::behavior worker(process&, std::string job) {
  return {[job](crash_atom) -> std::string { throw std::runtime_error("worker failed at " + job); }};
}

int main() {
  libactor::node node{libactor::node_config{}};

  auto ctr = libactor::spawn(node, libactor::spawn_options{"counter"}, counter, 0);
  for (int i = 1; i <= 3; ++i) {
    auto r = libactor::call<int>(node, ctr, 1s, add_atom::value, i);
    libactor::log::info("counter_reply", libactor::log::kv("added", i),
                        libactor::log::kv("total", r ? std::to_string(r.value()) : r.error().message()));
  }

  // A parent that traps exits sees its linked worker crash, and survives.
  auto parent = libactor::spawn(node, libactor::spawn_options{"parent"}, [](process& self, int) -> caf::behavior {
    self.trap_exit(true);
    self.on_exit([self](const libactor::pid& from, const libactor::exit_reason& why) mutable {
      libactor::log::info("parent_saw_exit", libactor::log::kv("from", from),
                          libactor::log::kv("reason", why));
      self.exit(libactor::exit_reason::normal());
    });
    auto w = self.spawn_with(libactor::detail::spawn_mode::link, {"worker"}, worker, std::string{"job-1"});
    self.send(w, crash_atom::value);
    return {[](int) {}};
  }, 0);

  // The calling thread waits for the parent to finish with a monitor-free poll
  // bounded in time; a real program would let the node run.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (libactor::alive(parent) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  libactor::log::info("demo_done", libactor::log::kv("counter_alive", libactor::alive(ctr)));
  return 0;
}
