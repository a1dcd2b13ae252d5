// "/hello" on libactor's HTTP server, for bench/accept_rate.sh: the figure
// divided by asio_baseline's.
//
//   http_hello [--port N] [--threads N]   prints "port=<N>" when ready
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "libactor/http/server.hpp"
#include "libactor/node.hpp"

int main(int argc, char** argv) {
  unsigned short port = 0;
  unsigned threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--port")
      port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else if (flag == "--threads")
      threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "http_hello: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
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
