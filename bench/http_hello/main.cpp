// "/hello" on libactor's HTTP server, for bench/accept_rate.sh: the figure
// divided by asio_baseline's.
//
//   http_hello [--port N] [--threads N]   prints "port=<N>" when ready
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "libactor/http/server.hpp"
#include "libactor/node.hpp"

int main(int argc, char** argv) {
  std::uint16_t port = 0;
  unsigned threads = 1;
  CLI::App app{"/hello server for bench/accept_rate.sh; prints port=<N> when ready"};
  app.add_option("--port", port, "port to bind on 127.0.0.1 (0: any free one)");
  app.add_option("--threads", threads, "I/O threads")->check(CLI::Range(1u, 64u));
  CLI11_PARSE(app, argc, argv);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr); // threads inherit: only sigwait sees them
  libactor::node_config cfg;
  cfg.io_threads = threads;
  cfg.log_level = libactor::log::level::warning;
  libactor::node node{cfg};
  libactor::http::http_router routes;
  routes.add("GET", "/hello", [](libactor::http::context& ctx) { ctx.reply(200, "hello\n"); });
  libactor::http::server_options opts;
  opts.listen.port = port;
  libactor::http::server server{node, opts, std::move(routes)};
  std::printf("port=%u\n", server.port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server.stop();
}
