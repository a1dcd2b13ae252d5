// The registry as a router: sessions register under their user's id and
// receive what is sent to that id. Alice has two browser tabs (duplicate
// keys); Bob's session crashes, and what is sent to him meanwhile waits in
// the registry's buffer until his new session registers.
// Run it: ./registry_router
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "libactor/libactor.hpp"
#include "libactor/registry.hpp"

using libactor::process;
using libactor::routed_atom;

namespace {

/// Counts deliveries so that main can wait for them (no sleeps).
struct inbox {
  std::mutex mtx;
  std::condition_variable cv;
  int received = 0;

  void arrived() {
    std::lock_guard<std::mutex> guard{mtx};
    ++received;
    cv.notify_all();
  }
  void wait_for(int n) {
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait(guard, [&] { return received >= n; });
  }
};

/// A stand-in for an HTTP session: registers under its user id and prints
/// what is routed to it.
caf::behavior session(process& self, libactor::registry* reg, std::string user, std::string tab,
                      inbox* box) {
  reg->register_process(user, self);
  return {[=](routed_atom, const libactor::message_id& id, const std::string& payload) {
    // The id as a client would hand it back (epoch-seq): per user, one
    // history, seqs from 1.
    fmt::print("{}/{} got #{}: {}\n", user, tab, to_string(id), payload);
    box->arrived();
  }};
}

} // namespace

int main() {
  inbox box; // outlives the node, whose processes report into it
  libactor::node node;
  libactor::registry_config cfg;
  cfg.mode = libactor::registry_mode::duplicate; // one user, several tabs
  libactor::registry reg{cfg};

  libactor::spawn(node, session, &reg, std::string{"alice"}, std::string{"tab1"}, &box);
  libactor::spawn(node, session, &reg, std::string{"alice"}, std::string{"tab2"}, &box);
  auto bob = libactor::spawn(node, session, &reg, std::string{"bob"}, std::string{"tab1"}, &box);
  while (reg.registration_count() < 3) // the sessions register from their own bodies
    std::this_thread::yield();

  fmt::print("send to alice reached {} sessions\n", reg.send("alice", "hello alice"));
  fmt::print("broadcast reached {} sessions\n", reg.broadcast("hello everyone"));
  box.wait_for(5);

  // Bob's session crashes; the registry drops it by itself.
  libactor::exit(bob, libactor::exit_reason::error("simulated crash"));
  while (reg.registration_count() > 2)
    std::this_thread::yield();
  auto reached = reg.send("bob", "you missed this");
  fmt::print("send to bob while he is away reached {} sessions (pending: {})\n", reached,
             reg.stats().pending);

  // His new session gets the buffered message first, ids continuing.
  libactor::spawn(node, session, &reg, std::string{"bob"}, std::string{"tab1-restarted"}, &box);
  box.wait_for(6);
  auto s = reg.stats();
  fmt::print("keys {} registrations {} routed {} delivered {} dropped {} expired {}\n", s.keys,
             s.registrations, s.routed, s.delivered, s.dropped_overflow, s.expired);
}
