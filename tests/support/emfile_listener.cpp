// A listener run with a low RLIMIT_NOFILE, for the EMFILE test. It holds
// every accepted connection until told to let go, and answers commands on
// stdin with one line each on stdout:
//   stats    -> "accepted=<n> active=<n> fd_exhausted=<n>"
//   release  -> closes what it holds and closes new connections at once
//   quit     -> exits
#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "libactor/net/listener.hpp"
#include "libactor/node.hpp"

int main(int argc, char** argv) {
  rlim_t limit = argc > 1 ? std::stoul(argv[1]) : 48;
  rlimit rl{limit, limit};
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    std::perror("setrlimit");
    return 1;
  }
  libactor::node_config cfg;
  cfg.io_threads = 1;
  cfg.log_level = libactor::log::level::info;
  libactor::node node{cfg};
  std::mutex mtx;
  std::vector<libactor::net::connection_ptr> held;
  bool release = false;
  libactor::net::listener_options opts;
  opts.emfile_backoff_min = std::chrono::milliseconds{10};
  opts.emfile_backoff_max = std::chrono::milliseconds{200};
  libactor::net::listener lst{node, opts, [&](libactor::net::connection_ptr conn) {
                                std::lock_guard<std::mutex> guard{mtx};
                                if (!release)
                                  held.push_back(std::move(conn));
                              }};
  std::cout << "port=" << lst.port() << std::endl;
  std::string cmd;
  while (std::getline(std::cin, cmd)) {
    if (cmd == "stats") {
      auto s = lst.stats();
      std::cout << "accepted=" << s.accepted << " active=" << s.active
                << " fd_exhausted=" << s.fd_exhausted << std::endl;
    } else if (cmd == "release") {
      std::lock_guard<std::mutex> guard{mtx};
      release = true;
      held.clear();
      std::cout << "released" << std::endl;
    } else if (cmd == "quit") {
      break;
    }
  }
  {
    std::lock_guard<std::mutex> guard{mtx};
    held.clear();
  }
  lst.stop(std::chrono::milliseconds{100});
  return 0;
}
