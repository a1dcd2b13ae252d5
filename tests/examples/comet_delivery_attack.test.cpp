// Attacks on the delivery contract found by a hostile review of issue #14,
// against the real comet binary: a client that follows what a browser does
// (reconnect with the last id it saw, resets included) must never be locked
// out of newer messages, nor lose one silently, nor be told of one loss
// twice.
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "support/comet_process.hpp"
#include "support/sse_reader.hpp"

using namespace libactor::test;
using namespace std::chrono_literals;

namespace {

/// Reads events until one whose data is `want` (true) or the stream ends or
/// goes quiet (false); resets and other messages are passed over.
bool read_until_data(sse_reader& s, const std::string& want, std::chrono::milliseconds quiet = 3s) {
  while (auto ev = s.next(quiet))
    if (ev->is_message() && ev->data == want)
      return true;
  return false;
}

int resets_in(const std::string& metrics) {
  auto v = metric(metrics, "comet_replay_resets_total");
  return v == "missing" ? -1 : std::stoi(v);
}

} // namespace

TEST_CASE("comet delivery attack: poison messages do not lock a browser out of newer ones",
          "[comet][delivery][attack]") {
  // Four poison messages in the replay window: more than the connection's
  // crash budget. Each poison_skipped reset names the message it skipped,
  // so a browser's last id moves past it and every reconnect gets further.
  comet_process srv{{"--allow-crash"}};
  std::string last;
  {
    sse_reader s{srv.port, "p"};
    REQUIRE(s.has_header("200 OK"));
    request(srv.port, "POST", "/send/p", "m1");
    REQUIRE(read_until_data(s, "m1"));
    last = s.last_event_id();
  }
  for (int i = 0; i < 4; ++i)
    REQUIRE(request(srv.port, "POST", "/crash").status == 200);
  request(srv.port, "POST", "/send/p", "m2");
  bool got = false;
  for (int attempt = 0; attempt < 8 && !got; ++attempt) {
    sse_reader s{srv.port, "p", last};
    got = read_until_data(s, "m2", 2s);
    if (!s.last_event_id().empty())
      last = s.last_event_id();
  }
  CHECK(got);
}

TEST_CASE("comet delivery attack: a message whose SSE framing outgrows the stream limit still goes out, "
          "and the stream goes on",
          "[comet][delivery][attack]") {
  // Every CR of the body becomes a `data: ` line: 60 KB of body, about
  // 240 KB of event, over a 64 KiB stream limit that the body itself fits.
  comet_process srv{{"--max-body", "64KiB", "--max-stream-output", "64KiB"}};
  sse_reader s{srv.port, "e"};
  REQUIRE(s.has_header("200 OK"));
  std::string body;
  for (int i = 0; i < 30'000; ++i)
    body += "a\r";
  body += "end";
  CHECK(request(srv.port, "POST", "/send/e", body).status == 200);
  request(srv.port, "POST", "/send/e", "after");
  auto first = s.next(10s);
  REQUIRE(first);
  CHECK(first->data.size() > 60'000);
  auto next = s.next(10s);
  REQUIRE(next);
  CHECK(next->data == "after");
  CHECK(metric(request(srv.port, "GET", "/metrics").body, "comet_stream_closes_total{cause=\"slow_consumer\"}")
        != "1");
}

TEST_CASE("comet delivery attack: a loss is told once, and a tab that crashes right after being told "
          "loses nothing more",
          "[comet][delivery][attack]") {
  comet_process srv{{"--keep", "1s", "--allow-crash"}};
  sse_reader a{srv.port, "u"};
  REQUIRE(a.has_header("200 OK"));
  std::string first_id;
  for (int i = 1; i <= 3; ++i) {
    request(srv.port, "POST", "/send/u", "m" + std::to_string(i));
    auto ev = a.next();
    REQUIRE(ev);
    if (i == 1)
      first_id = ev->id;
  }
  // The history ages out (--keep): a second tab resuming after m1 is told
  // that m2 and m3 are gone, with nothing after them.
  std::this_thread::sleep_for(1500ms);
  std::string told_at;
  {
    sse_reader b{srv.port, "u", first_id};
    auto reset = b.next();
    REQUIRE(reset);
    REQUIRE(reset->event == "reset");
    told_at = b.last_event_id();
    CHECK(told_at != first_id); // the reset moved the tab's position
  }
  // Back from where the reset put it: not told again.
  auto before = resets_in(request(srv.port, "GET", "/metrics").body);
  {
    sse_reader b{srv.port, "u", told_at};
    CHECK_FALSE(b.next(500ms));
  }
  CHECK(resets_in(request(srv.port, "GET", "/metrics").body) == before);
  // A tab told of a loss crashes with a message unread: its restart
  // resumes from where the reset put it and gets the message (the other
  // tab had it too, so the registry cannot hand it back).
  sse_reader b{srv.port, "u", first_id};
  auto reset = b.next();
  REQUIRE(reset);
  REQUIRE(reset->event == "reset");
  test_client pipe{srv.port};
  pipe.send("POST /crash/u HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
            "POST /send/u HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nm4");
  REQUIRE(pipe.read_reply());
  REQUIRE(pipe.read_reply());
  request(srv.port, "POST", "/send/u", "m5");
  CHECK(read_until_data(b, "m4"));
  CHECK(read_until_data(a, "m4"));
}
