// A comet server in 50 lines: the tutorial in docs/comet.md, line by line.
//   mini_comet [port]     then: curl -N :8080/stream/ann   and   curl -d hi :8080/send/ann
#include <csignal>
#include <cstdlib>
#include <memory>
#include <string>

#include <libactor/http/server.hpp>
#include <libactor/log.hpp>
#include <libactor/node.hpp>
#include <libactor/registry.hpp>

using libactor::http::context;

int main(int argc, char** argv) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr); // before any thread starts

  libactor::node node;                        // I/O threads that run every process
  libactor::registry_config cfg;
  cfg.mode = libactor::registry_mode::duplicate; // a user may open several tabs
  cfg.replay_window = 16;                        // kept for a session that restarts
  libactor::registry users{cfg};

  auto lines = std::make_shared<libactor::http::stream_hooks>();
  lines->on_message = [](context& ctx, const libactor::message_id&, const std::string& msg) {
    ctx.write_chunk(msg + "\n");               // runs in the stream's own process
  };
  libactor::http::http_router routes;
  routes.add("GET", "/stream/:id", [&users, lines](context& ctx) {
    std::string id{*ctx.req().param("id")};
    ctx.start_chunked("text/plain", lines);   // the connection is now a stream
    ctx.subscribe(users, libactor::registry_key{id});
    ctx.write_chunk("welcome " + id + "\n");
  });
  routes.add("POST", "/send/:id", [&users](context& ctx) {
    auto n = users.send(libactor::registry_key{std::string{*ctx.req().param("id")}},
                        std::string{ctx.req().body()});
    ctx.reply(200, std::to_string(n) + "\n");  // streams reached
  });

  libactor::http::server_options opts;       // sessions under a sharded supervisor
  opts.listen.port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 8080);
  libactor::http::server server{node, opts, std::move(routes)};
  libactor::log::info("listening", libactor::log::kv("port", server.port()));
  int sig = 0;
  sigwait(&stop, &sig);                       // Ctrl-C: drain and stop
  server.stop();
}
