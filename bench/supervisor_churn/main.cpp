// Supervisor churn: children started, crashed and restarted per second under
// one simple_one_for_one supervisor versus N shards, in one run.
//
// Every child crashes in its body (`lives - 1` times, each crash followed by
// a restart; with `--start call`, just after its body, see churn_child) and then exits normally (transient: not restarted). A single
// supervisor handles every exit and every restart one at a time, so it caps
// the rate whatever the core count; shards spread that work over the
// scheduler threads. The sampled mailbox length of the busiest supervisor
// shows where the work queues up.
//
//   supervisor_churn [--children N] [--lives K] [--shards S] [--rounds R] [--crash throw|exit]
//                    [--start cast|call]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "libactor/libactor.hpp"
#include "libactor/sharded_supervisor.hpp"

using namespace std::chrono_literals;
using libactor::process;

namespace {

struct run_state {
  std::atomic<std::size_t> finished{0};
  std::size_t children = 0;
  std::promise<void> done;
};

/// One child's remaining lives, shared by its incarnations through the
/// start argument (as a session's socket will be).
struct child_state {
  std::atomic<int> lives;
  run_state* run;
};

/// How a child crashes: `throw` (an exception in its body, the realistic
/// case, whose unwinding costs the child several microseconds) or `exit`
/// (an abnormal exit without an exception, which leaves mostly the
/// supervisor's share of the work and so shows its limit).
bool crash_by_throw = true;

/// How children are started: `cast` (default) by a starter on every I/O
/// thread through `cast_start_child`, the listener's path; `call` by one
/// driver process through `start_child` with a reply.
bool start_by_cast = true;

/// One life's end: a crash (`lives - 1` times), then a normal exit.
void end_life(process& self, child_state& st) {
  if (st.lives.fetch_sub(1, std::memory_order_relaxed) > 1) {
    if (crash_by_throw)
      throw std::runtime_error("churn"); // crash: the supervisor restarts it
    self.exit(libactor::exit_reason::error("churn"));
    return;
  }
  if (st.run->finished.fetch_add(1, std::memory_order_acq_rel) + 1 == st.run->children)
    st.run->done.set_value();
  self.exit(); // normal exit: a transient child stays down
}

caf::behavior churn_child(process& self, std::shared_ptr<child_state> st) {
  if (!start_by_cast) {
    // Started by a call, a child counts as started once its body (its init)
    // has returned: a crash in the body would be a failed start_child, not
    // a crash to restart. So it ends each life just after its init, on a
    // message to itself.
    self.send(self.self(), 0);
    return {[self, st](int) mutable { end_life(self, *st); }};
  }
  end_life(self, *st);
  return {[](int) {}};
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct figures {
  double seconds;
  double rate;
  double cpu_cores;
  std::size_t peak_mailbox;
};

figures run(libactor::node& node, std::size_t shards, std::size_t children, int lives) {
  run_state state;
  state.children = children;
  auto done = state.done.get_future();
  libactor::sharded_supervisor_spec spec;
  spec.name = "churn";
  spec.shards = shards;
  spec.shard_intensity = 1'000'000'000; // churn is the point here, not escalation
  spec.shard_period = 1000ms;
  spec.child = libactor::child_spec{
    "churn_child",
    [](process& sup, const std::any& args) {
      return sup.spawn_link(churn_child, std::any_cast<std::shared_ptr<child_state>>(args));
    },
    libactor::restart_type::transient, libactor::brutal_kill, libactor::child_type::worker};
  auto sup = libactor::sharded_supervisor::start(node, spec);
  if (!sup) {
    std::fprintf(stderr, "start failed: %s\n", sup.error().message().c_str());
    std::exit(1);
  }
  auto handle = sup.value();
  auto cpu0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  if (start_by_cast) {
    // The listener's path (docs/architecture.md): one starter on every I/O
    // thread, as acceptors run on every thread, casting its share of the
    // children to the supervisor. Sharded, a cast from a thread goes to a
    // shard on that thread; with one shard every cast goes to it, as every
    // Ranch acceptor called its one connection supervisor. The same
    // starters in both runs keep the start path identical.
    auto threads = node.config().io_threads;
    for (std::size_t t = 0; t < threads; ++t) {
      auto share = children / threads + (t < children % threads ? 1 : 0);
      // Started from outside: round robin puts one on each thread.
      libactor::spawn(node, [handle, share, lives, &state](process&, int) -> caf::behavior {
        for (std::size_t i = 0; i < share; ++i) {
          auto st = std::make_shared<child_state>();
          st->lives = lives;
          st->run = &state;
          handle.cast_start_child(std::any{st});
        }
        return {[](int) {}};
      }, 0);
    }
  } else {
    // One driver process calling start_child (request and reply, with a
    // timeout) for every child, on whichever thread it landed.
    libactor::spawn(node, [handle, children, lives, &state](process& self, int) -> caf::behavior {
      for (std::size_t i = 0; i < children; ++i) {
        auto st = std::make_shared<child_state>();
        st->lives = lives;
        st->run = &state;
        handle.start_child(self, std::any{st}, [](libactor::supervisor_result<libactor::pid> r) {
          if (!r)
            std::fprintf(stderr, "start_child failed: %s\n", r.error().message().c_str());
        }, 60s);
      }
      return {[](int) {}};
    }, 0);
  }
  std::size_t peak = 0;
  while (done.wait_for(5ms) != std::future_status::ready) {
    for (std::size_t i = 0; i < handle.shard_count(); ++i)
      peak = std::max(peak, libactor::mailbox_length(handle.shard(i)).value_or(0));
    if (std::chrono::steady_clock::now() - t0 > 120s) {
      std::fprintf(stderr, "gave up after 120 s: %zu of %zu children finished\n",
                   state.finished.load(), children);
      std::exit(1);
    }
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto cpu = cpu_seconds() - cpu0;
  libactor::exit(handle.top(), libactor::exit_reason::shutdown());
  while (libactor::alive(handle.top()))
    std::this_thread::sleep_for(1ms);
  auto lifecycles = static_cast<double>(children) * lives;
  return {secs, lifecycles / secs, cpu / secs, peak};
}

std::size_t flag(int argc, char** argv, const char* name, std::size_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return std::strtoull(argv[i + 1], nullptr, 10);
  return fallback;
}

} // namespace

int main(int argc, char** argv) {
  libactor::node_config cfg;
  cfg.log_level = libactor::log::level::none; // one crash report per crash would dominate
  libactor::node node{cfg};
  auto children = flag(argc, argv, "--children", 10000);
  auto lives = static_cast<int>(flag(argc, argv, "--lives", 10));
  auto shards = flag(argc, argv, "--shards", node.config().io_threads * 4);
  std::printf("supervisor_churn: %zu children x %d lives (start, crash, restart; last life exits), "
              "%zu io threads, %u cores\n",
              children, lives, node.config().io_threads, std::thread::hardware_concurrency());
  auto rounds = flag(argc, argv, "--rounds", 3);
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--crash") == 0)
      crash_by_throw = std::strcmp(argv[i + 1], "exit") != 0;
    else if (std::strcmp(argv[i], "--start") == 0)
      start_by_cast = std::strcmp(argv[i + 1], "call") != 0;
  std::printf("crash by %s, start by %s\n", crash_by_throw ? "throw" : "exit",
              start_by_cast ? "cast from every I/O thread" : "call from one process");
  // Warm-up: the allocator and CAF's scheduler, so that neither run pays for them.
  run(node, shards, children / 10, 2);
  // Alternate the two configurations so that a burst of load from elsewhere
  // on this shared machine hits both alike; report the median ratio.
  std::vector<double> ratios;
  for (std::size_t r = 0; r < rounds; ++r) {
    auto single = run(node, 1, children, lives);
    std::printf("round %zu  1 shard:  %7.3f s  %9.0f lifecycles/s  cpu %.2f cores  peak supervisor mailbox %zu\n",
                r + 1, single.seconds, single.rate, single.cpu_cores, single.peak_mailbox);
    auto sharded = run(node, shards, children, lives);
    std::printf("round %zu  %zu shards: %7.3f s  %9.0f lifecycles/s  cpu %.2f cores  peak supervisor mailbox %zu\n",
                r + 1, shards, sharded.seconds, sharded.rate, sharded.cpu_cores, sharded.peak_mailbox);
    ratios.push_back(sharded.rate / single.rate);
    std::printf("round %zu  ratio sharded/single: %.2fx\n", r + 1, ratios.back());
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("median ratio sharded/single over %zu rounds: %.2fx (min %.2fx, max %.2fx)\n", rounds,
              ratios[ratios.size() / 2], ratios.front(), ratios.back());
  return 0;
}
