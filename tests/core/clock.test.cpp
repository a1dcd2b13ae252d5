// Timers: one schedule per I/O thread (src/internal/asio_actor_clock.hpp).
// A process's timeouts, delayed sends and call timeouts fire on its home
// thread, so a busy thread delays only its own processes' timers; answered
// calls leave nothing in the clock; send_after returns a timer reference
// that cancel_timer cancels, as erlang:send_after / erlang:cancel_timer.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/after.hpp>
#include <caf/atom.hpp>
#include <caf/send.hpp>
#include <catch2/catch.hpp>

#include "internal/asio_actor_clock.hpp"
#include "internal/node_impl.hpp"
#include "libactor/call.hpp"
#include "libactor/process.hpp"
#include "support/event_log.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::event_log;
using test::eventually;

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using tock_atom = caf::atom_constant<caf::atom("tock")>;
using go_atom = caf::atom_constant<caf::atom("go")>;
using echo_atom = caf::atom_constant<caf::atom("echo")>;

/// Calls one caller makes in a row.
constexpr int calls = 100;

detail::asio_actor_clock& clock_of(node& n) {
  return static_cast<detail::asio_actor_clock&>(n.system().clock());
}

detail::io_pool& pool_of(node& n) {
  return *n.internals().io;
}

/// Spawns from outside with home thread `home`.
template <class F, class... Ts>
pid spawn_on(node& n, std::size_t home, F f, Ts&&... xs) {
  detail::io_pool::placement pin{pool_of(n), home};
  return spawn(n, std::move(f), std::forward<Ts>(xs)...);
}

/// Keeps its I/O thread busy (without sleeping) until `release` is set:
/// stands for a process that hogs its thread. Bounded, so that a broken
/// clock fails the test rather than hanging the suite.
caf::behavior hog(process& self, std::atomic<bool>* started, std::atomic<bool>* release) {
  return {[self, started, release](go_atom) mutable {
    started->store(true);
    auto until = std::chrono::steady_clock::now() + 2 * test::deadline;
    while (!release->load() && std::chrono::steady_clock::now() < until) {
    }
    self.exit();
  }};
}

/// Answers every echo with its argument; ignores nothing else.
caf::behavior echo(process&) {
  return {[](echo_atom, int x) { return x; }};
}

/// Never answers a call: keeps each request's promise undelivered.
caf::behavior silent(process& self) {
  auto kept = std::make_shared<std::vector<caf::response_promise>>();
  return {[self, kept](tick_atom) mutable {
    kept->push_back(self.caf_self()->make_response_promise());
  }};
}

/// Sets up the three kinds of timer a process can have and records each as
/// it fires, together with whether it runs on the process's home thread.
caf::behavior timed(process& self, event_log* log, pid silent_one, std::string tag) {
  auto* pool = &pool_of(self.owner());
  auto here = [self, pool] { return pool->thread_index() == self.caf_self()->home(); };
  self.send_after(1ms, tick_atom::value);
  self.call(silent_one, 1ms, tick_atom::value)
    .then([](int) {},
          [log, tag, here](const call_error& e) {
            if (e.what() == call_error::kind::timeout)
              log->push(tag + " call_timeout " + (here() ? "home" : "away"));
          });
  auto on_tick = [log, tag, here](tick_atom) {
    log->push(tag + " send_after " + (here() ? "home" : "away"));
  };
  return {
    on_tick,
    caf::after(std::chrono::milliseconds{1}) >>
      [self, log, tag, here, on_tick]() mutable {
        log->push(tag + " after " + (here() ? "home" : "away"));
        // Once: a receive timeout repeats while the process stays idle.
        self.become({on_tick});
      },
  };
}

} // namespace

TEST_CASE("a process's timers fire on its home thread while another I/O thread is busy",
          "[clock]") {
  event_log log;
  // Each round's flags outlive the node: a hog may still read them while
  // it ends.
  std::vector<std::unique_ptr<std::atomic<bool>>> flags;
  auto cfg = test::small_node();
  cfg.io_threads = 3;
  node n{cfg};
  auto threads = pool_of(n).size();
  for (std::size_t busy = 0; busy < threads; ++busy) {
    auto& started = *flags.emplace_back(std::make_unique<std::atomic<bool>>(false));
    auto& release = *flags.emplace_back(std::make_unique<std::atomic<bool>>(false));
    auto h = spawn_on(n, busy, hog, &started, &release);
    send(h, go_atom::value);
    REQUIRE(eventually([&] { return started.load(); }));
    for (std::size_t t = 0; t < threads; ++t) {
      if (t == busy)
        continue;
      auto tag = std::to_string(busy) + "/" + std::to_string(t);
      auto quiet = spawn_on(n, t, silent);
      spawn_on(n, t, timed, &log, quiet, tag);
      for (auto kind : {"send_after", "after", "call_timeout"}) {
        INFO("busy thread " << busy << ", " << kind << " of a process on thread " << t);
        CHECK(log.wait_for(tag + " " + kind + " home"));

      }
    }
    release.store(true);
    // Gone before the next round: its thread is the next one to be busy.
    REQUIRE(eventually([&] { return !alive(h); }));
    for (auto& ev : log.snapshot())
      CHECK(ev.find("away") == std::string::npos);
  }
}

TEST_CASE("a pending timer is held by its process's home lane of the clock", "[clock]") {
  auto cfg = test::small_node();
  cfg.io_threads = 3;
  node n{cfg};
  auto& clock = clock_of(n);
  auto threads = pool_of(n).size();
  REQUIRE(clock.lanes() == threads);
  std::vector<pid> procs;
  for (std::size_t t = 0; t < threads; ++t) {
    std::atomic<bool> armed{false};
    procs.push_back(spawn_on(n, t, [&armed](process& self) -> caf::behavior {
      self.send_after(1h, tick_atom::value);
      armed.store(true);
      return {[](tick_atom) {}};
    }));
    REQUIRE(eventually([&] { return armed.load(); }));
    for (std::size_t l = 0; l < threads; ++l) {
      INFO("timer of a process on thread " << t << ", lane " << l);
      CHECK(clock.pending(l) == (l <= t ? 1u : 0u));
    }
  }
  // Each timer ends with its process (erlang:send_after to a pid).
  for (auto& p : procs)
    exit(p, exit_reason::kill());
  CHECK(eventually([&] {
    for (std::size_t l = 0; l < threads; ++l)
      if (clock.pending(l) != 0)
        return false;
    return true;
  }));
}

TEST_CASE("answered calls leave no request timeout in the clock", "[clock][call]") {
  event_log log;
  node n{test::small_node()};
  auto& clock = clock_of(n);
  auto server = spawn(n, echo);
  // Calls one after another with a long timeout, half answered and half
  // rejected (no handler: an error reply), then waits, still alive.
  auto caller = spawn(n, [&log, server](process& self) -> caf::behavior {
    auto left = std::make_shared<int>(calls);
    // Owned by the behaviour; the call handlers run only while it lives.
    auto next = std::make_shared<std::function<void()>>();
    auto* again_p = next.get();
    *next = [self, server, left, again_p, &log]() mutable {
      if (*left == 0) {
        log.push("done");
        return;
      }
      auto i = (*left)--;
      auto again = [again_p] { (*again_p)(); };
      if (i % 2 == 0)
        self.call(server, 1h, echo_atom::value, i)
          .then([again](int) { again(); },
                [&log](const call_error& e) { log.push("failed " + e.message()); });
      else
        self.call(server, 1h, tick_atom::value)
          .then([](int) {}, [again](const call_error&) { again(); });
    };
    return {[next](go_atom) { (*next)(); }, [](tick_atom) {}};
  });
  send(caller, go_atom::value);
  REQUIRE(log.wait_for("done"));
  CHECK(alive(caller));
  CHECK(clock.request_timeouts() == 0);
  // The blocking form too: its caller process asks with a timeout as well.
  for (int i = 0; i < 20; ++i) {
    auto r = call<int>(n, server, 1h, echo_atom::value, i);
    REQUIRE(r);
  }
  CHECK(eventually([&] { return clock.request_timeouts() == 0; }));
  exit(caller, exit_reason::kill());
}

TEST_CASE("a caller whose calls had a long timeout is destroyed soon after it exits",
          "[clock][call]") {
  event_log log;
  node n{test::small_node()};
  auto server = spawn(n, echo);
  caf::actor_addr weak;
  {
    auto caller = spawn(n, [&log, server](process& self) -> caf::behavior {
      return {[self, server, &log](go_atom) mutable {
        self.call(server, 1h, echo_atom::value, 1).then([&log](int) { log.push("answered"); },
                                                        [](const call_error&) {});
      }};
    });
    weak = caller.handle().address();
    send(caller, go_atom::value);
    REQUIRE(log.wait_for("answered"));
    exit(caller, exit_reason::shutdown());
  }
  CHECK(eventually([&] { return caf::actor_cast<caf::strong_actor_ptr>(weak) == nullptr; }));
}

TEST_CASE("cancel_timer before the timer fires: the message never arrives", "[clock][timer]") {
  event_log log;
  node n{test::small_node()};
  spawn(n, [&log](process& self) -> caf::behavior {
    auto ref = self.send_after(20ms, tick_atom::value);
    // Due after the cancelled one, on the same schedule: when it arrives,
    // the cancelled one would have arrived first.
    self.send_after(60ms, tock_atom::value);
    auto left = cancel_timer(ref);
    log.push(left ? "pending" : "not pending");
    if (left && *left <= 20ms)
      log.push("left in range");
    log.push(cancel_timer(ref) ? "cancelled twice" : "second cancel: not pending");
    log.push(read_timer(ref) ? "readable" : "unreadable");
    return {[&log](tick_atom) { log.push("tick"); },
            [&log, self](tock_atom) mutable {
              log.push("tock");
              self.exit();
            }};
  });
  REQUIRE(log.wait_for("tock"));
  CHECK(log.contains("pending"));
  CHECK(log.contains("left in range"));
  CHECK(log.contains("second cancel: not pending"));
  CHECK(log.contains("unreadable"));
  CHECK_FALSE(log.contains("tick"));
}

TEST_CASE("cancel_timer after the timer fired says it was not pending", "[clock][timer]") {
  event_log log;
  node n{test::small_node()};
  spawn(n, [&log](process& self) -> caf::behavior {
    auto ref = std::make_shared<timer_ref>(self.send_after(1ms, tick_atom::value));
    log.push(read_timer(*ref) ? "readable" : "unreadable");
    return {[&log, ref, self](tick_atom) mutable {
      log.push(cancel_timer(*ref) ? "cancelled late" : "fired");
      self.exit();
    }};
  });
  REQUIRE(log.wait_for("fired"));
  CHECK(log.contains("readable"));
  CHECK_FALSE(log.contains("cancelled late"));
}

TEST_CASE("cancel_timer from outside the process: exactly the uncancelled messages arrive",
          "[clock][timer]") {
  event_log log;
  node n{test::small_node()};
  constexpr int timers = 200;
  std::vector<timer_ref> refs(timers);
  std::atomic<bool> armed{false};
  std::atomic<int> received{0};
  auto p = spawn(n, [&](process& self) -> caf::behavior {
    // Due in a spread of 0-3 ms: some fire before the test cancels them,
    // some after; the last message waits for all.
    for (int i = 0; i < timers; ++i)
      refs[static_cast<std::size_t>(i)] =
        self.send_after(std::chrono::microseconds{(i % 30) * 100}, tick_atom::value);
    self.send_after(100ms, tock_atom::value);
    armed.store(true);
    return {[&received](tick_atom) { ++received; }, [&log](tock_atom) { log.push("tock"); }};
  });
  REQUIRE(eventually([&] { return armed.load(); }));
  int cancelled = 0;
  for (auto& ref : refs)
    if (cancel_timer(ref))
      ++cancelled;
  REQUIRE(log.wait_for("tock"));
  CHECK(received.load() + cancelled == timers);
  exit(p, exit_reason::kill());
}
