// An HTTP server whose connection tree is made to give up, for the test of
// `server_options::tree_restart`: the top supervisor (intensity 1 in 5 s) sees
// its shards killed twice, gives up, and the process must log why and exit
// with status 1, as an Erlang node whose permanent application stopped.
// Prints "port=<n>" once serving, then "killing" before the kills.
#include <chrono>
#include <iostream>
#include <thread>

#include "libactor/exit_reason.hpp"
#include "libactor/http/server.hpp"
#include "libactor/node.hpp"
#include "libactor/process.hpp"

int main() {
  libactor::node_config cfg;
  cfg.io_threads = 1;
  cfg.log_level = libactor::log::level::info;
  libactor::node node{cfg};
  libactor::http::server_options opts;
  opts.listen.address = "127.0.0.1";
  opts.listen.port = 0;
  opts.shards = 2;
  libactor::http::http_router routes;
  routes.add("GET", "/hello", [](libactor::http::context& ctx) { ctx.reply(200, "hello\n"); });
  libactor::http::server srv{node, opts, std::move(routes)};
  std::cout << "port=" << srv.port() << std::endl;
  std::cout << "killing" << std::endl;
  // Each kill is a restart for the top supervisor; the second within its
  // period is one too many. Waits for the restart between the two, so the
  // second kill reaches the restarted shard.
  auto first = srv.connections().shard(0);
  libactor::exit(first, libactor::exit_reason::kill());
  while (srv.connections().shard(0) == first || !srv.connections().shard(0))
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  libactor::exit(srv.connections().shard(0), libactor::exit_reason::kill());
  // The watcher ends the process; if it does not, this exits 0 and the test fails.
  std::this_thread::sleep_for(std::chrono::seconds{10});
  return 0;
}
