// registry_send: throughput of registry::send and latency of registry::broadcast.
//
// Usage: registry_send [keys=100000] [messages=1000000] [rounds=3]
//
// Every figure is quoted against a baseline measured in the same run:
// - send: `messages` sends from 2 threads to `keys` registered processes,
//   timed until every process has received its share, against the same
//   number of plain `caf::anon_send`s of the same message to the same
//   processes (the floor: a registry send is a lookup plus that enqueue).
//   Also: the registry with 1 partition (one lock); the alternative design,
//   N shard actors that own the maps and forward each message; and the
//   floor of any routing by key, an unsynchronised `std::unordered_map`
//   lookup followed by `anon_send`. Variants rotate their order per round.
// - broadcast: one `broadcast` to `keys` processes, timed until all have
//   received it, against a loop of `anon_send`s to the same processes.
// Each run is bounded: it stops after its message count or a 60 s deadline.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sys/resource.h>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <fmt/format.h>

#include "libactor/libactor.hpp"
#include "libactor/registry.hpp"

using namespace libactor;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int sender_threads = 2;
const std::string payload = "0123456789abcdef0123456789abcdef"; // 32 bytes, one heap string

/// Deliveries counted per receiving thread, each count on its own cache
/// line: one counter shared by the I/O threads was a cache-line transfer
/// between the cores on every delivery, a cost of the benchmark rather than
/// of what it measures. `total` sums the lines.
struct received_counter {
  struct alignas(64) line {
    std::atomic<std::uint64_t> n{0};
  };
  static constexpr std::size_t lines = 16;
  line per_thread[lines];

  void add() noexcept {
    static std::atomic<std::size_t> next_line{0};
    thread_local std::size_t mine = next_line.fetch_add(1) % lines;
    per_thread[mine].n.fetch_add(1, std::memory_order_relaxed);
  }

  std::uint64_t total() const noexcept {
    std::uint64_t sum = 0;
    for (auto& l : per_thread)
      sum += l.n.load(std::memory_order_relaxed);
    return sum;
  }
};

caf::behavior receiver(process&, received_counter* received) {
  return {[received](routed_atom, const message_id&, const std::string&) { received->add(); }};
}

/// Waits until `received` reaches `target`; false after 60 s. Polls with
/// short sleeps, not a spin: on 2 cores a spinning waiter would take CPU
/// from the threads it waits for.
bool wait_received(received_counter& received, std::uint64_t target) {
  auto deadline = clock_type::now() + std::chrono::seconds{60};
  while (received.total() < target) {
    if (clock_type::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::microseconds{100});
  }
  return true;
}

struct run_result {
  double seconds = 0;  ///< until every message was received
  double enqueue = 0;  ///< until the senders returned
  double cpu_us = 0;   ///< process CPU time (user + system) per message, all threads
  bool complete = true;
};

/// CPU time of the whole process: less sensitive than wall time to other
/// load on a shared machine.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

/// Runs `send_one(thread, i)` for `messages` messages split over the sender
/// threads, then waits for delivery.
template <class F>
run_result timed_sends(received_counter& received, std::uint64_t messages, F send_one) {
  auto base = received.total();
  auto cpu_start = cpu_seconds();
  auto start = clock_type::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < sender_threads; ++t)
    threads.emplace_back([&, t] {
      for (std::uint64_t i = t; i < messages; i += sender_threads)
        send_one(i);
    });
  for (auto& th : threads)
    th.join();
  run_result r;
  r.enqueue = std::chrono::duration<double>(clock_type::now() - start).count();
  r.complete = wait_received(received, base + messages);
  r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  r.cpu_us = (cpu_seconds() - cpu_start) * 1e6 / static_cast<double>(messages);
  return r;
}

// -- the alternative design: shard actors ------------------------------------------

using put_atom = caf::atom_constant<caf::atom("put")>;
using route_atom = caf::atom_constant<caf::atom("route")>;

struct shard_state {
  std::unordered_map<std::uint64_t, caf::actor> procs;
  std::unordered_map<std::uint64_t, std::uint64_t> ids;
};

/// Owns a slice of the keys; every send is a message to it, then a second
/// message from it to the process (no locks, one extra hop).
caf::behavior shard(caf::stateful_actor<shard_state>* self) {
  return {
    [self](put_atom, std::uint64_t key, const caf::actor& who) {
      self->state.procs[key] = who;
      return true;
    },
    [self](route_atom, std::uint64_t key, const std::string& msg) {
      auto i = self->state.procs.find(key);
      if (i != self->state.procs.end())
        self->send(i->second, routed_atom::value, message_id{1, ++self->state.ids[key]}, msg);
    },
  };
}

long rss_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::strtol(line.c_str() + 6, nullptr, 10);
  return 0;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  std::uint64_t keys = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100'000;
  std::uint64_t messages = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000'000;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  // For profiling one variant alone: all (default), anon, registry, single, shards.
  std::string only = argc > 4 ? argv[4] : "all";
  auto runs = [&](const char* name) { return only == "all" || only == name; };

  received_counter received; // outlives the node, whose processes count into it
  node_config cfg;            // one I/O thread per core, which run the processes
  cfg.log_level = log::level::warning;
  node n{cfg};

  std::vector<pid> procs;
  procs.reserve(keys);
  for (std::uint64_t i = 0; i < keys; ++i)
    procs.push_back(spawn(n, receiver, &received));

  registry_config striped_cfg;
  striped_cfg.sweep_interval = std::chrono::milliseconds{0};
  auto rss_before = rss_kib();
  registry striped{striped_cfg};
  for (std::uint64_t i = 0; i < keys; ++i)
    striped.register_process(i, procs[i]);
  auto rss_after = rss_kib();
  registry_config single_cfg = striped_cfg;
  single_cfg.partitions = 1;
  registry single{single_cfg};
  for (std::uint64_t i = 0; i < keys; ++i)
    single.register_process(i, procs[i]);

  // The floor for any routing by key: a plain, unsynchronised hash map from
  // key to actor, read-only during the run.
  std::unordered_map<std::uint64_t, caf::actor> plain_map;
  plain_map.reserve(keys);
  for (std::uint64_t i = 0; i < keys; ++i)
    plain_map.emplace(i, procs[i].handle());

  constexpr std::size_t shard_count = 64;
  std::vector<caf::actor> shards;
  {
    caf::scoped_actor self{n.system()};
    for (std::size_t s = 0; s < shard_count; ++s)
      shards.push_back(n.system().spawn(shard));
    for (std::uint64_t i = 0; i < keys; ++i)
      self->request(shards[registry_key{i}.hash() % shard_count], caf::infinite, put_atom::value, i,
                    procs[i].handle())
        .receive([](bool) {}, [](caf::error&) {});
  }

  fmt::print("registry_send: {} keys, {} messages per run, {} sender threads, {} rounds, "
             "{} I/O threads running processes\n",
             keys, messages, sender_threads, rounds, n.config().io_threads);
  fmt::print("memory: {:.0f} bytes per registration (RSS delta over {} registrations, "
             "64 partitions)\n",
             (rss_after - rss_before) * 1024.0 / static_cast<double>(keys), keys);

  std::vector<double> base_rate, reg_rate, single_rate, shard_rate, reg_enq, base_enq;
  std::vector<double> base_cpu, reg_cpu, single_cpu, shard_cpu, map_rate;
  bool all_complete = true;
  auto rate = [&](const run_result& r) {
    all_complete = all_complete && r.complete;
    return static_cast<double>(messages) / r.seconds;
  };
  for (int round = 0; round < rounds; ++round) {
    run_result b, r, s1, sh, m;
    // Each round starts with a different variant: a phase runs measurably
    // differently depending on what ran just before it (allocator state,
    // idle I/O threads), which a fixed order would bias.
    for (int phase = 0; phase < 5; ++phase) {
      switch ((phase + round) % 5) {
        case 0:
          if (runs("anon"))
            b = timed_sends(received, messages, [&](std::uint64_t i) {
              caf::anon_send(procs[i % keys].handle(), routed_atom::value, message_id{1, i + 1}, payload);
            });
          break;
        case 1:
          if (runs("registry"))
            r = timed_sends(received, messages,
                            [&](std::uint64_t i) { striped.send(i % keys, payload); });
          break;
        case 2:
          if (runs("single"))
            s1 = timed_sends(received, messages,
                             [&](std::uint64_t i) { single.send(i % keys, payload); });
          break;
        case 3:
          if (runs("map"))
            m = timed_sends(received, messages, [&](std::uint64_t i) {
              caf::anon_send(plain_map.find(i % keys)->second, routed_atom::value, message_id{1, i + 1},
                             payload);
            });
          break;
        default:
          if (runs("shards"))
            sh = timed_sends(received, messages, [&](std::uint64_t i) {
              auto key = i % keys;
              caf::anon_send(shards[registry_key{key}.hash() % shard_count], route_atom::value,
                             key, payload);
            });
          break;
      }
    }
    base_rate.push_back(rate(b));
    reg_rate.push_back(rate(r));
    single_rate.push_back(rate(s1));
    shard_rate.push_back(rate(sh));
    map_rate.push_back(rate(m));
    base_cpu.push_back(b.cpu_us);
    reg_cpu.push_back(r.cpu_us);
    single_cpu.push_back(s1.cpu_us);
    shard_cpu.push_back(sh.cpu_us);
    base_enq.push_back(static_cast<double>(messages) / b.enqueue);
    reg_enq.push_back(static_cast<double>(messages) / r.enqueue);
    fmt::print("round {}: anon_send {:.2f} M/s | registry (64 partitions) {:.2f} M/s = {:.2f}x | "
               "registry (1 partition) {:.2f} M/s = {:.2f}x | shard actors {:.2f} M/s = {:.2f}x | "
               "unordered_map + anon_send {:.2f} M/s = {:.2f}x\n",
               round + 1, base_rate.back() / 1e6, reg_rate.back() / 1e6,
               reg_rate.back() / base_rate.back(), single_rate.back() / 1e6,
               single_rate.back() / base_rate.back(), shard_rate.back() / 1e6,
               shard_rate.back() / base_rate.back(), map_rate.back() / 1e6,
               map_rate.back() / base_rate.back());
  }
  // Ratios are paired per round (both measured within seconds of each
  // other), then the median taken: the machine's load moves both together.
  auto ratio = [&](const std::vector<double>& xs, const std::vector<double>& base) {
    std::vector<double> r;
    for (std::size_t i = 0; i < xs.size(); ++i)
      r.push_back(xs[i] / base[i]);
    return median(r);
  };
  fmt::print("send, until all received, median of per-round ratios to anon_send: registry {:.2f}x, "
             "one partition {:.2f}x, shard actors {:.2f}x, unordered_map + anon_send {:.2f}x; "
             "median rates: anon_send {:.2f} M/s, registry {:.2f} M/s\n",
             ratio(reg_rate, base_rate), ratio(single_rate, base_rate),
             ratio(shard_rate, base_rate), ratio(map_rate, base_rate), median(base_rate) / 1e6,
             median(reg_rate) / 1e6);
  if (only == "all")
    fmt::print("send, CPU per message (all threads), median: anon_send {:.2f} us, registry {:.2f} us "
               "(paired ratio {:.2f}x), one partition {:.2f} us, shard actors {:.2f} us\n",
               median(base_cpu), median(reg_cpu), ratio(reg_cpu, base_cpu), median(single_cpu),
               median(shard_cpu));
  fmt::print("send, enqueue rate (until senders returned), median: anon_send {:.2f} M/s, "
             "registry {:.2f} M/s (paired ratio {:.2f}x)\n",
             median(base_enq) / 1e6, median(reg_enq) / 1e6, ratio(reg_enq, base_enq));

  std::vector<double> base_bc, reg_bc;
  for (int round = 0; round < rounds && only == "all"; ++round) {
    for (int phase = 0; phase < 2; ++phase) {
      auto base = received.total();
      auto start = clock_type::now();
      if ((phase + round) % 2 == 0) {
        for (std::uint64_t i = 0; i < keys; ++i)
          caf::anon_send(procs[i].handle(), routed_atom::value, message_id{1, i + 1}, payload);
      } else {
        all_complete = striped.broadcast(payload) == keys && all_complete;
      }
      all_complete = wait_received(received, base + keys) && all_complete;
      auto ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
      ((phase + round) % 2 == 0 ? base_bc : reg_bc).push_back(ms);
    }
    fmt::print("broadcast round {}: anon_send loop {:.1f} ms | registry::broadcast {:.1f} ms = "
               "{:.2f}x the time\n",
               round + 1, base_bc.back(), reg_bc.back(), reg_bc.back() / base_bc.back());
  }
  if (only == "all")
    fmt::print("broadcast to {} processes, time until all received, median: anon_send loop {:.1f} ms, "
               "registry {:.1f} ms (paired ratio {:.2f}x the time)\n",
               keys, median(base_bc), median(reg_bc), ratio(reg_bc, base_bc));
  auto s = striped.stats();
  fmt::print("registry stats: routed {} delivered {} buffered {} dropped {} expired {}\n",
             s.routed, s.delivered, s.buffered, s.dropped_overflow, s.expired);
  if (!all_complete) {
    fmt::print("INCOMPLETE: some messages did not arrive within the deadline\n");
    return 1;
  }
  for (auto& sh : shards)
    caf::anon_send_exit(sh, caf::exit_reason::user_shutdown);
  return 0;
}
