// comet: the million-user comet server on libactor (docs/comet.md, its
// routes and flags). Every connection is a session process, a tiny web
// server of its own; streams register under their user id in the registry,
// and a POST anywhere on the node reaches every stream of that user.
//
//   comet --port 8080                 then open http://127.0.0.1:8080/
//   curl -N localhost:8080/stream/alice
//   curl -d 'hi' localhost:8080/send/alice
//
// Flags: comet --help. docs/comet.md is the tutorial.
#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <exception>

#include <fmt/format.h>

#include "comet_options.hpp"
#include "comet_routes.hpp"
#include "libactor/http/server.hpp"
#include "libactor/log.hpp"
#include "libactor/node.hpp"
#include "libactor/registry.hpp"

namespace {

namespace log = libactor::log;

/// A comet server holds one descriptor per stream: take every file the
/// hard limit allows (20,000 on the reference machine), as nginx's
/// worker_rlimit_nofile does.
rlim_t raise_open_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return 0;
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  getrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

/// Waits for SIGINT/SIGTERM, or for `limit` if it is not zero. An
/// interrupted wait (EINTR: a debugger attaching, SIGSTOP/SIGCONT) waits on.
void wait_for_stop(const sigset_t& signals, std::chrono::milliseconds limit) {
  if (limit.count() == 0) {
    int sig = 0;
    while (sigwait(&signals, &sig) != 0) {
    }
    return;
  }
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero())
      return;
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
    timespec ts{static_cast<time_t>(secs.count()),
                static_cast<long>(std::chrono::nanoseconds(left - secs).count())};
    if (sigtimedwait(&signals, nullptr, &ts) >= 0)
      return; // SIGINT or SIGTERM
    if (errno == EAGAIN)
      return; // the time is up
  }
}

int run(const comet::options& o) {
  // Signals go to sigwait in main only: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto files = raise_open_file_limit();

  libactor::node_config node_cfg;
  node_cfg.io_threads = o.threads;
  node_cfg.log_level = o.log_level;
  libactor::node node{node_cfg};

  // The router: one user may have several streams (browser tabs), so keys
  // are duplicate; each user keeps its last --replay messages for SSE
  // Last-Event-ID and for streams whose session is restarting.
  libactor::registry_config reg_cfg;
  reg_cfg.mode = libactor::registry_mode::duplicate;
  reg_cfg.replay_window = o.replay;
  // --replay bounds what a user keeps whether delivered or not: a stream
  // away or restarting finds at most that many, and a reset beyond.
  reg_cfg.max_pending = o.replay;
  reg_cfg.max_age = o.keep;
  // With --nats, send and broadcast reach the users' streams on every node.
  auto nodes = comet::make_cluster(o);
  reg_cfg.transport = nodes.transport;
  libactor::registry registry{reg_cfg};

  // The supervision tree, configured here:
  //
  //   http::server
  //     listener                  acceptors on every I/O thread (SO_REUSEPORT)
  //     conns_supervisor          one_for_one over --shards shards (Ranch's num_conns_sups)
  //       shard 1..N              simple_one_for_one, --intensity restarts per --period each
  //         session               transient: restarted on its connection if it crashes
  //
  // A crash storm in one shard exhausts that shard's budget only; the other
  // shards' sessions never notice.
  libactor::http::server_options srv;
  srv.listen.address = o.address;
  srv.listen.port = o.port;
  srv.listen.max_connections = o.max_connections;
  srv.shards = o.shards;
  srv.shard_intensity = o.intensity;
  srv.shard_period = o.period;
  srv.limits.max_body = o.max_body;
  srv.max_outbound = o.max_stream_output;
  srv.slow_reader = o.slow_consumer == "drop" ? libactor::http::slow_reader_policy::drop
                                              : libactor::http::slow_reader_policy::close;

  comet::services svc{node, registry, o, nodes};
  libactor::http::server server{node, srv, comet::make_routes(svc)};
  svc.server.store(&server, std::memory_order_release);
  // Written at every log level (the contract): a script started with
  // `--port 0 --log-level warning` still learns the port from it.
  log::write(log::level::info, "listening",
             {log::kv("address", fmt::format("{}:{}", o.address, server.port())),
              log::kv("port", server.port()), log::kv("threads", node.config().io_threads),
              log::kv("open_files", files), log::kv("allow_crash", o.allow_crash),
              log::kv("nats_servers", o.nats.size())});
  if (files != 0 && o.max_connections + 64 > files)
    log::warning("max_connections_above_file_limit", log::kv("max_connections", o.max_connections),
                 log::kv("open_files", files));

  wait_for_stop(signals, o.run_for);
  log::info("stopping", log::kv("streams", server.stats().streams));
  auto report = server.stop();
  svc.server.store(nullptr, std::memory_order_release);
  log::info("stopped", log::kv("drained", report.drained), log::kv("cut", report.cut));
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  auto parsed = comet::parse_command_line(argc, argv);
  if (!parsed.opts)
    return parsed.exit_code;
  try {
    return run(*parsed.opts);
  } catch (const std::exception& e) {
    // E.g. the address is taken: one clear line, not a core dump.
    std::fputs(fmt::format("comet: {}\n", e.what()).c_str(), stderr);
    return 1;
  }
}
