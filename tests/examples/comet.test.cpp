// examples/comet end to end, as a user runs it: the real binary on port 0,
// hundreds of streams, sends, broadcasts and a crash injected from outside.
// Every message must arrive exactly once and in order on every stream.
#ifdef LIBACTOR_COMET

#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "libactor/message_id.hpp"
#include "support/comet_process.hpp"
#include "support/sse_reader.hpp"

using namespace libactor::test;


TEST_CASE("comet: hundreds of streams get every send and broadcast exactly once and in order, "
          "across a crash injected with --allow-crash",
          "[examples][comet]") {
  comet_process srv{{"--allow-crash"}};
  constexpr int users = 100;
  constexpr int per_user = 3;
  auto user = [](int k) { return "u" + std::to_string(k); };
  std::vector<std::unique_ptr<stream>> streams;
  for (int i = 0; i < users * per_user; ++i)
    streams.push_back(std::make_unique<stream>(srv.port, user(i % users)));

  std::vector<std::vector<std::string>> expected(users);
  for (int k = 0; k < users; ++k) {
    for (int j = 1; j <= 2; ++j) {
      auto msg = "s" + std::to_string(k) + "-" + std::to_string(j);
      CHECK(request(srv.port, "POST", "/send/" + user(k), msg).body == "3\n");
      expected[k].push_back(msg);
    }
  }
  CHECK(request(srv.port, "POST", "/broadcast", "b1").body == "300\n");
  for (auto& e : expected)
    e.push_back("b1");

  // u7's three sessions throw; what is sent to u7 while they restart must
  // still arrive, once, in order, on the same connections.
  CHECK(request(srv.port, "POST", "/crash/u7").body == "3\n");
  for (int k = 0; k < users; ++k) {
    auto msg = "after-crash-" + std::to_string(k);
    request(srv.port, "POST", "/send/" + user(k), msg);
    expected[k].push_back(msg);
  }
  request(srv.port, "POST", "/broadcast", "b2");
  for (auto& e : expected)
    e.push_back("b2");

  for (std::size_t i = 0; i < streams.size(); ++i) {
    auto& s = *streams[i];
    for (const auto& want : expected[i % users]) {
      auto got = s.c.read_chunk();
      INFO("stream " << i << " of " << s.user);
      REQUIRE(got);
      CHECK(*got == want + "\n");
    }
  }
  auto metrics = request(srv.port, "GET", "/metrics").body;
  CHECK(metric(metrics, "comet_session_restarts_total") == "3");
  CHECK(metric(metrics, "comet_streams") == "300");
  CHECK(metrics.find("comet_messages_dropped_total{reason=\"overflow\"} 0") != std::string::npos);
  CHECK(metrics.find("comet_messages_dropped_total{reason=\"not_streaming\"} 0") != std::string::npos);
  // Nothing more is waiting on any stream: no duplicates.
  for (auto& s : streams)
    CHECK_FALSE(s->c.read_chunk(std::chrono::milliseconds{1}));
}

TEST_CASE("comet: an SSE client that reconnects with Last-Event-ID gets what it missed",
          "[examples][comet]") {
  comet_process srv;
  std::string first_id;
  {
    sse_reader c{srv.port, "zoe"};
    CHECK(c.has_header("Content-Type: text/event-stream"));
    CHECK(request(srv.port, "POST", "/send/zoe", "one").body == "1\n");
    auto ev = c.next();
    REQUIRE(ev);
    CHECK(ev->data == "one");
    first_id = ev->id;
  }
  auto first = libactor::parse_message_id(first_id);
  REQUIRE(first);
  CHECK(first->seq == 1);
  // The stream is gone once the server has seen the close; then two more.
  for (int i = 0; i < 200; ++i) {
    if (request(srv.port, "POST", "/send/zoe", "two").body == "0\n")
      break;
  }
  request(srv.port, "POST", "/send/zoe", "three");
  sse_reader again{srv.port, "zoe", first_id};
  // Every "two" that found no stream was kept, and "three": replayed in
  // order, the same history, no reset.
  std::vector<libactor::message_id> got;
  for (;;) {
    auto ev = again.next();
    REQUIRE(ev);
    REQUIRE(ev->is_message());
    auto id = libactor::parse_message_id(ev->id);
    REQUIRE(id);
    got.push_back(*id);
    if (ev->data == "three")
      break;
  }
  REQUIRE(got.size() >= 2);
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].epoch == first->epoch);
    CHECK(got[i].seq == i + 2);
  }
}

TEST_CASE("comet: bad input gets 4xx, bad flags exit 2, SIGTERM stops it cleanly", "[examples][comet]") {
  {
    comet_process srv;
    CHECK(request(srv.port, "GET", "/hello").body == "hello\n");
    CHECK(request(srv.port, "GET", "/nowhere").status == 404);
    CHECK(request(srv.port, "POST", "/send/x", "").status == 400);
    CHECK(request(srv.port, "GET", "/send/x").status == 405);
    CHECK(request(srv.port, "GET", "/stream/" + std::string(300, 'x')).status == 414);
    CHECK(request(srv.port, "POST", "/crash/x").status == 404); // only with --allow-crash
    test_client raw{srv.port};
    raw.send("THIS IS NOT HTTP\r\n\r\n");
    auto r = raw.read_reply();
    REQUIRE(r);
    CHECK(r->status == 400);
    auto page = request(srv.port, "GET", "/");
    CHECK(page.status == 200);
    CHECK(page.body.find("EventSource") != std::string::npos);
    srv.proc.terminate();
    CHECK(srv.proc.wait_exit() == std::optional<int>{0});
  }
  for (auto bad : {std::vector<std::string>{"--bogus"}, {"--heartbeat", "ten"}, {"--port", "70000"},
                   {"--log-level", "loud"}, {"--threads", "-1"}}) {
    std::vector<std::string> argv{LIBACTOR_COMET};
    argv.insert(argv.end(), bad.begin(), bad.end());
    child_process p{argv, true};
    auto line = p.read_line();
    REQUIRE(line);
    CHECK(line->rfind("comet: ", 0) == 0);
    CHECK(p.wait_exit() == std::optional<int>{2});
  }
  child_process help{{LIBACTOR_COMET, "--help"}, true};
  CHECK(help.read_line_with("--max-connections"));
  CHECK(help.wait_exit() == std::optional<int>{0});
}

TEST_CASE("mini_comet, the 50-line tutorial server, streams what is sent to its user",
          "[examples][comet]") {
  child_process proc{{LIBACTOR_MINI_COMET, "0"}, true};
  auto line = proc.read_line_with("port=");
  REQUIRE(line);
  auto port = static_cast<std::uint16_t>(std::stoul(line->substr(line->find("port=") + 5)));
  proc.discard_output();
  stream s{port, "ann"};
  CHECK(request(port, "POST", "/send/ann", "hi ann").body == "1\n");
  CHECK(s.c.read_chunk() == std::optional<std::string>{"hi ann\n"});
  proc.terminate();
  CHECK(proc.wait_exit() == std::optional<int>{0});
}

#endif // LIBACTOR_COMET
