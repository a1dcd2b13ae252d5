// floodtest (examples/floodtest) run as a child process against an
// in-process libactor server with the comet routes it needs: every mode
// ends by itself and reports exact counts; bad input fails clearly.
// Built only when the floodtest target exists (LIBACTOR_FLOODTEST).
#ifdef LIBACTOR_FLOODTEST

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support/child_process.hpp"
#include "support/http_fixture.hpp"

using namespace libactor;

namespace {

/// The session fixture's routes (hello, stream) plus `POST /broadcast`
/// answering the number of streams reached, as comet does.
struct comet_like {
  comet_like()
    : n(test::small_node()), reg(test::replaying_registry()), srv(n, test::quick_server(), routes(reg)) {}

  static http::http_router routes(registry& r) {
    auto rt = test::fixture_routes(r);
    rt.add("POST", "/broadcast",
           [&r](http::context& ctx) { ctx.reply(200, fmt::format("{}\n", r.broadcast(ctx.req().body()))); });
    return rt;
  }

  std::string port() const { return std::to_string(srv.port()); }

  node n;
  registry reg;
  http::server srv;
};

/// Runs floodtest with `args`; its JSON summary line (empty if none) and exit status.
std::pair<std::string, int> flood(std::vector<std::string> args) {
  args.insert(args.begin(), LIBACTOR_FLOODTEST);
  test::child_process child{args};
  auto line = child.read_line(std::chrono::seconds{20});
  auto status = child.wait_exit(std::chrono::seconds{20});
  return {line.value_or(""), status.value_or(-1)};
}

bool has(const std::string& json, const std::string& field) {
  return json.find(field) != std::string::npos;
}

} // namespace

TEST_CASE("floodtest holds every stream it opens and reports a clean run", "[examples][floodtest]") {
  comet_like server;
  auto [json, status] = flood({"--port", server.port(), "-n", "40", "--rate", "0", "--hold", "200ms",
                               "--per-process", "20", "--sources", "2", "--timeout", "15s", "-q"});
  INFO(json);
  CHECK(status == 0);
  CHECK(has(json, "\"workers\":2"));
  CHECK(has(json, "\"established\":40"));
  CHECK(has(json, "\"welcomes\":40"));
  CHECK(has(json, "\"failed\":0"));
  CHECK(has(json, "\"clean\":true"));
}

TEST_CASE("floodtest latency mode counts every broadcast delivery and loses none", "[examples][floodtest]") {
  comet_like server;
  auto [json, status] = flood({"--mode", "latency", "--port", server.port(), "-n", "25", "--messages", "4",
                               "--interval", "20ms", "--timeout", "15s", "-q"});
  INFO(json);
  CHECK(status == 0);
  CHECK(has(json, "\"expected\":100"));
  CHECK(has(json, "\"received\":100"));
  CHECK(has(json, "\"lost\":0"));
  CHECK(has(json, "\"samples\":100"));
}

TEST_CASE("floodtest hello mode completes Connection: close requests until its duration ends",
          "[examples][floodtest]") {
  comet_like server;
  auto [json, status] = flood({"--mode", "hello", "--port", server.port(), "--duration", "300ms",
                               "--concurrency", "4", "--timeout", "15s", "-q"});
  INFO(json);
  CHECK(status == 0);
  CHECK(has(json, "\"mode\":\"hello\""));
  CHECK(has(json, "\"failed\":0"));
  CHECK_FALSE(has(json, "\"established\":0,"));
}

TEST_CASE("floodtest fails in one line for an unreachable server and exits 2 on a bad flag",
          "[examples][floodtest]") {
  // A port that was just free: nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  auto port = std::to_string(ntohs(sa.sin_port));
  ::close(fd);

  auto [none, refused] = flood({"--port", port, "-q"});
  CHECK(none.empty()); // no summary: nothing ran
  CHECK(refused == 1);
  CHECK(flood({"--connections", "many"}).second == 2);
  CHECK(flood({"--hold", "3 parsecs"}).second == 2);
  auto [help, ok] = flood({"--help"});
  CHECK(ok == 0);
}

#endif
