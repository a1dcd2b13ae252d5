// A stream is reachable from every node of a cluster once its client has its
// first bytes (docs/http.md, "Resuming"): the node holds them until NATS has
// confirmed the stream's subscription. A client that publishes on another
// node the moment it has its welcome must get the message, with no wait for
// the subscription to show in /metrics.
#if defined(LIBACTOR_COMET) && defined(LIBACTOR_WITH_NATS)

#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/comet_process.hpp"
#include "support/nats_server.hpp"

using namespace libactor::test;

TEST_CASE("comet cluster: a stream whose client has its welcome gets what another node is sent at once",
          "[examples][comet][cluster][delivery]") {
  nats_server nats;
  comet_process a{{"--nats", nats.url(), "--node-name", "a", "--nats-prefix", "r"}};
  comet_process b{{"--nats", nats.url(), "--node-name", "b", "--nats-prefix", "r"}};
  // Fresh users, each subscribed on b for the first time: the send to a
  // follows the welcome with no pause in between.
  for (int i = 0; i < 60; ++i) {
    auto user = "fresh" + std::to_string(i);
    stream s{b.port, user};
    auto r = request(a.port, "POST", "/send/" + user, "hello " + user);
    REQUIRE(r.status == 200);
    INFO(user);
    REQUIRE(s.c.read_chunk(std::chrono::milliseconds{3000}) == std::optional<std::string>{"hello " + user + "\n"});
  }
}

#endif
