// cluster_send: registry::send from one node to another over nats-server,
// against registry::send to processes of the same node, in one run.
//
//   cluster_send [--messages N] [--keys K] [--payload B] [--rounds R]
//                [--url nats://...] [--nats-server PATH]
//
// Two nodes live in this one OS process, each with its own registry and NATS
// connection (as two processes would have); without --url
// the program starts its own nats-server (with JetStream) on a free port.
// Per round, in rotating order:
// - local:    N sends on node B's registry (no transport) to K processes of
//             node B, timed until all were received (the baseline);
// - core:     N sends on node A to K keys whose processes live on node B,
//             timed until B's processes received all, over core NATS only;
// - jetstream: the same with the key subjects captured by the replay stream
//             (what a default transport does).
// Node A holds no process of those keys and keeps nothing for them
// (max_pending 0), so the figure is the transport's. Every run stops after
// its message count or a 60 s deadline.
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "libactor/cluster/nats_transport.hpp"
#include "libactor/libactor.hpp"
#include "libactor/registry.hpp"

extern char** environ;

using namespace libactor;
using clock_type = std::chrono::steady_clock;

namespace {

struct alignas(64) received_counter {
  std::atomic<std::uint64_t> n{0};
};

caf::behavior receiver(process&, received_counter* received) {
  return {[received](routed_atom, const message_id&, const std::string&) {
    received->n.fetch_add(1, std::memory_order_relaxed);
  }};
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

/// Short sleeps, not a spin: on 2 cores a spinning waiter takes CPU from
/// the threads it waits for.
bool wait_received(received_counter& received, std::uint64_t target) {
  auto deadline = clock_type::now() + std::chrono::seconds{60};
  while (received.n.load(std::memory_order_relaxed) < target) {
    if (clock_type::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  }
  return true;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// A nats-server of our own, killed at the end.
class own_server {
public:
  own_server(const std::string& exe, int port) {
    dir_ = std::filesystem::temp_directory_path() / fmt::format("cluster_send-{}", ::getpid());
    std::filesystem::create_directories(dir_);
    std::vector<std::string> args{exe,  "-a", "127.0.0.1", "-p", std::to_string(port), "-js",
                                  "-sd", (dir_ / "js").string(), "-l", (dir_ / "nats.log").string()};
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, exe.c_str(), nullptr, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("cannot start " + exe);
  }
  ~own_server() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  pid_t pid() const { return pid_; }

private:
  pid_t pid_ = -1;
  std::filesystem::path dir_;
};

/// CPU seconds nats-server used so far (utime + stime from /proc).
double server_cpu(pid_t pid) {
  auto path = fmt::format("/proc/{}/stat", pid);
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr)
    return 0;
  char buf[1024] = {};
  auto n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  std::string s{buf, n};
  auto close = s.rfind(')');
  std::vector<std::string> fields;
  std::size_t at = close + 2;
  while (at < s.size()) {
    auto sp = s.find(' ', at);
    fields.push_back(s.substr(at, sp - at));
    if (sp == std::string::npos)
      break;
    at = sp + 1;
  }
  // Fields after ')' start at 3 (state); utime is 14, stime 15.
  double ticks = std::stod(fields.at(11)) + std::stod(fields.at(12));
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct run_result {
  double seconds = 0;
  double send_seconds = 0;
  double cpu_us = 0;        ///< this process, per message
  double server_cpu_us = 0; ///< nats-server, per message
  bool complete = true;
};

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  std::uint64_t messages = 200'000;
  std::uint64_t keys = 1'000;
  std::size_t payload_size = 32;
  int rounds = 3;
  std::string url;
  std::string server_exe = "/usr/sbin/nats-server";
  std::size_t per_key = 0;
  CLI::App app{"registry::send across two nodes over nats-server vs on one node"};
  app.add_option("--messages", messages, "messages per variant and round");
  app.add_option("--keys", keys, "keys (one receiving process each)");
  app.add_option("--payload", payload_size, "payload bytes");
  app.add_option("--rounds", rounds, "rounds (variants rotate their order)")->check(CLI::Range(1, 50));
  app.add_option("--url", url, "an existing NATS server (default: start one)");
  app.add_option("--nats-server", server_exe, "nats-server to start when --url is not given");
  app.add_option("--per-key", per_key, "messages the replay stream keeps per key (0: no per-key limit)");
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<own_server> server;
  pid_t server_pid = -1;
  if (url.empty()) {
    auto port = free_port();
    server = std::make_unique<own_server>(server_exe, port);
    server_pid = server->pid();
    url = fmt::format("nats://127.0.0.1:{}", port);
  }
  const std::string payload(payload_size, 'x');

  received_counter received;
  // Node A only sends (its processes would not take part); node B runs the
  // receiving processes.
  node_config ncfg;
  ncfg.io_threads = 1;
  ncfg.log_level = log::level::warning;
  node node_b{ncfg};

  std::vector<pid> procs;
  for (std::uint64_t i = 0; i < keys; ++i)
    procs.push_back(spawn(node_b, receiver, &received));

  // Baseline: B's own registry, no transport.
  registry_config local_cfg;
  local_cfg.sweep_interval = std::chrono::milliseconds{0};
  registry local{local_cfg};
  for (std::uint64_t i = 0; i < keys; ++i)
    local.register_process(i, procs[i]);

  auto make_transport = [&](const char* prefix, const char* name, bool jetstream) {
    cluster::nats_config c;
    c.servers = {url};
    c.node_name = name;
    c.subject_prefix = prefix;
    c.jetstream = jetstream;
    c.max_pending_messages = 10'000'000;  // never a slow consumer here
    c.reconnect_buffer_bytes = 64 << 20;  // the first publications may precede the connection
    c.stream_messages_per_key = per_key;
    return std::make_shared<cluster::nats_transport>(c);
  };
  struct pair {
    std::unique_ptr<registry> sender;
    std::unique_ptr<registry> receiver;
  };
  auto make_pair = [&](const char* prefix, bool jetstream) {
    registry_config a;
    a.sweep_interval = std::chrono::milliseconds{0};
    a.max_pending = 0; // node A keeps nothing for keys it does not host
    a.transport = make_transport(prefix, "A", jetstream);
    registry_config b;
    b.sweep_interval = std::chrono::milliseconds{0};
    b.transport = make_transport(prefix, "B", jetstream);
    pair p{std::make_unique<registry>(a), std::make_unique<registry>(b)};
    for (std::uint64_t i = 0; i < keys; ++i)
      p.receiver->register_process(i, procs[i]);
    for (auto* r : {p.sender.get(), p.receiver.get()}) {
      auto* t = static_cast<cluster::nats_transport*>(r->config().transport.get());
      if (!t->wait_connected(std::chrono::seconds{10}))
        throw std::runtime_error("no NATS connection to " + url);
    }
    return p;
  };
  auto core = make_pair("bench_core", false);
  auto js = make_pair("bench_js", true);
  {
    auto* t = static_cast<cluster::nats_transport*>(js.sender->config().transport.get());
    auto until = clock_type::now() + std::chrono::seconds{10};
    while (!t->stats().jetstream && clock_type::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    if (!t->stats().jetstream)
      std::fprintf(stderr, "warning: no JetStream stream; the jetstream variant equals core\n");
  }

  auto run = [&](registry& reg) {
    auto base = received.n.load();
    auto cpu0 = cpu_seconds();
    auto srv0 = server_pid > 0 ? server_cpu(server_pid) : 0.0;
    auto start = clock_type::now();
    for (std::uint64_t i = 0; i < messages; ++i)
      reg.send(i % keys, payload);
    run_result r;
    r.send_seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    r.complete = wait_received(received, base + messages);
    r.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    r.cpu_us = (cpu_seconds() - cpu0) * 1e6 / static_cast<double>(messages);
    if (server_pid > 0)
      r.server_cpu_us = (server_cpu(server_pid) - srv0) * 1e6 / static_cast<double>(messages);
    return r;
  };

  std::printf("cluster_send: %llu messages x %llu keys, %zu-byte payload, %d rounds, server %s\n",
              static_cast<unsigned long long>(messages), static_cast<unsigned long long>(keys),
              payload_size, rounds, url.c_str());
  struct variant {
    const char* name;
    registry* reg;
    std::vector<double> rates;
  };
  std::vector<variant> variants{{"local", &local, {}}, {"core", core.sender.get(), {}},
                                {"jetstream", js.sender.get(), {}}};
  std::vector<double> core_ratio, js_ratio;
  for (int round = 0; round < rounds; ++round) {
    std::vector<double> rate(variants.size());
    for (std::size_t k = 0; k < variants.size(); ++k) {
      auto v = (k + static_cast<std::size_t>(round)) % variants.size();
      auto r = run(*variants[v].reg);
      rate[v] = static_cast<double>(messages) / r.seconds;
      variants[v].rates.push_back(rate[v]);
      std::printf("round %d %-9s %9.0f msgs/s delivered (senders done after %.3f s, all received after "
                  "%.3f s%s), CPU %.2f us/msg here + %.2f us/msg nats-server\n",
                  round + 1, variants[v].name, rate[v], r.send_seconds, r.seconds,
                  r.complete ? "" : ", INCOMPLETE", r.cpu_us, r.server_cpu_us);
    }
    core_ratio.push_back(rate[1] / rate[0]);
    js_ratio.push_back(rate[2] / rate[0]);
  }
  std::printf("median: local %.0f msgs/s, core %.0f msgs/s (%.2fx local), "
              "jetstream %.0f msgs/s (%.2fx local)\n",
              median(variants[0].rates), median(variants[1].rates), median(core_ratio),
              median(variants[2].rates), median(js_ratio));
  // Replay across nodes: a registry with nothing for a key (node C) asks
  // JetStream for what a client missed. "recent": the client last saw a
  // message just before a burst of 32 (a reconnect), an exact replay;
  // "all": an id that cannot be read, so everything the stream keeps for
  // the key (after a reset).
  {
    registry_config c;
    c.sweep_interval = std::chrono::milliseconds{0};
    c.transport = make_transport("bench_js", "C", true);
    registry cold{c};
    // Its stream set-up comes first on its worker; wait for it so that the
    // first replay is timed like the others.
    auto* ct = static_cast<cluster::nats_transport*>(c.transport.get());
    auto until = clock_type::now() + std::chrono::seconds{10};
    while (!ct->stats().jetstream && clock_type::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    constexpr std::uint64_t burst = 32;
    // What one key's replay can hold: the stream's per-key limit, and the
    // 256 messages a registry keeps pending per key.
    auto cap = std::min<std::uint64_t>(per_key == 0 ? ~std::uint64_t{0} : per_key, 256);
    auto timed_replay = [&](std::uint64_t key, message_id after, std::uint64_t expected) {
      auto p = spawn(node_b, receiver, &received);
      auto base = received.n.load();
      auto start = clock_type::now();
      cold.register_process(key, p, after);
      if (!wait_received(received, base + expected))
        return -1.0;
      return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    };
    std::vector<double> recent, all;
    auto samples = std::min<std::uint64_t>(keys / 2, 20);
    auto kept_all = std::min<std::uint64_t>(cap, messages * static_cast<std::uint64_t>(rounds) / keys);
    auto kept_recent = std::min<std::uint64_t>(cap, burst);
    for (std::uint64_t k = 0; k < samples; ++k) {
      // The client's last message, then the burst it misses.
      auto after = js.sender->send_with_id(k, payload).id;
      auto base = received.n.load() + 1;
      for (std::uint64_t i = 0; i < burst; ++i)
        js.sender->send(k, payload);
      wait_received(received, base + burst); // B has them, so they are stored
      if (auto ms = timed_replay(k, after, kept_recent); ms >= 0)
        recent.push_back(ms);
      if (auto ms = timed_replay(keys - 1 - k, message_id{}, kept_all); ms >= 0)
        all.push_back(ms);
    }
    if (!recent.empty())
      std::printf("replay from JetStream, recent (%llu missed): median %.2f ms until received "
                  "(max %.2f ms, %zu keys)\n",
                  static_cast<unsigned long long>(kept_recent), median(recent),
                  *std::max_element(recent.begin(), recent.end()), recent.size());
    if (!all.empty())
      std::printf("replay from JetStream, all kept (%llu): median %.2f ms until received "
                  "(max %.2f ms, %zu keys)\n",
                  static_cast<unsigned long long>(kept_all), median(all),
                  *std::max_element(all.begin(), all.end()), all.size());
  }
  auto* t = static_cast<cluster::nats_transport*>(js.receiver->config().transport.get());
  auto s = t->stats();
  std::printf("receiver (jetstream variant): received %llu, rejected %llu, slow consumers %llu\n",
              static_cast<unsigned long long>(s.received), static_cast<unsigned long long>(s.rejected),
              static_cast<unsigned long long>(s.slow_consumers));
  // Registries go before the node whose processes they hold, transports
  // with them.
  core = {};
  js = {};
  return 0;
}
