// What a stream's client sees of the delivery model over real sockets: the
// SSE head and retry field, resuming after Last-Event-ID (exact, or a reset
// first), and a slow reader either closed (counted by cause) or shown a
// slow_consumer reset with the number of messages it lost.
#include "libactor/http/server.hpp"

#include <optional>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "support/http_fixture.hpp"
#include "support/log_capture.hpp"
#include "support/test_client.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::test_client;
using test::retry_chunk;
using test::split_event;

namespace {

std::string get(std::string_view path, std::string_view extra = {}) {
  return "GET " + std::string{path} + " HTTP/1.1\r\nHost: t\r\n" + std::string{extra} + "\r\n";
}


/// Sends a GET for `path` and reads the response head.
void open_stream(test_client& c, std::string_view path, std::string_view extra = {}) {
  c.send(get(path, extra));
  REQUIRE(c.read_until("\r\n\r\n"));
}

} // namespace

// -- the SSE head ---------------------------------------------------------------------

TEST_CASE("an SSE stream's head turns proxy buffering off and its retry field comes before any event",
          "[http][stream][delivery]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send(get("/events/h"));
  auto head = c.read_until("\r\n\r\n");
  REQUIRE(head);
  CHECK(head->find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(head->find("\r\nX-Accel-Buffering: no\r\n") != std::string::npos);
  // Sent before the client can be reached: nothing can come before it;
  // then where the stream starts (an id with no data: no event).
  CHECK(c.read_chunk() == retry_chunk);
  auto start = c.read_chunk();
  REQUIRE(start);
  CHECK(start->rfind("id: ", 0) == 0);
  CHECK(start->find("data:") == std::string::npos);
  f.reg.send("h", "one");
  auto ev = split_event(c.read_chunk());
  REQUIRE(ev.id);
  CHECK(ev.id->seq == 1);
  CHECK(ev.rest == "data: one\n\n");
}

TEST_CASE("an SSE stream's retry field follows server_options::sse_retry, and zero sends none",
          "[http][stream][delivery]") {
  auto opts = test::quick_server();
  auto retry = GENERATE(0ms, 5000ms);
  opts.sse_retry = retry;
  test::http_fixture f{opts};
  test_client c{f.srv.port()};
  open_stream(c, "/events/r");
  REQUIRE(read_sse_opening(c, retry.count() > 0 ? "retry: 5000\n\n" : ""));
  REQUIRE(test::eventually([&] { return f.reg.lookup("r").size() == 1; }));
  f.reg.send("r", "one");
  auto ev = split_event(c.read_chunk());
  CHECK(ev.id);
  CHECK(ev.rest == "data: one\n\n");
}

// -- resuming ---------------------------------------------------------------------------

TEST_CASE("resume with an unreadable Last-Event-ID shows an unknown_id reset first, then what is kept",
          "[http][stream][delivery]") {
  test::http_fixture f;
  auto kept = f.reg.send_with_id("u", "kept").id; // nobody holds "u" yet
  test_client c{f.srv.port()};
  open_stream(c, "/events/u", "Last-Event-ID: not-an-id\r\n");
  // No position to announce: the client's id is unreadable.
  REQUIRE(c.read_chunk() == retry_chunk);
  // With the position it puts the client at: the start of the history
  // (everything kept follows).
  auto reset = split_event(c.read_chunk());
  REQUIRE(reset.id);
  CHECK(*reset.id == message_id{kept.epoch, 0});
  CHECK(reset.rest == "event: reset\ndata: {\"reason\": \"unknown_id\", \"lost\": null}\n\n");
  auto ev = split_event(c.read_chunk());
  REQUIRE(ev.id);
  CHECK(*ev.id == kept);
  CHECK(ev.rest == "data: kept\n\n");
  CHECK(f.srv.stats().resets_sent == 1);
  CHECK(f.reg.stats().resets == 1);
}

TEST_CASE("resume reads the last_event_id query parameter when there is no Last-Event-ID header",
          "[http][stream][delivery]") {
  test::http_fixture f;
  auto first = f.reg.send_with_id("q", "m1").id;
  f.reg.send("q", "m2");
  test_client c{f.srv.port()};
  open_stream(c, "/events/q?last_event_id=" + to_string(first));
  REQUIRE(read_sse_opening(c));
  auto ev = split_event(c.read_chunk());
  REQUIRE(ev.id);
  CHECK(*ev.id == message_id{first.epoch, 2}); // exactly after the client's id, no reset
  CHECK(ev.rest == "data: m2\n\n");
  CHECK(f.srv.stats().resets_sent == 0);
}

TEST_CASE("resume with an id of another history shows a history_reset first", "[http][stream][delivery]") {
  test::http_fixture f;
  auto now = f.reg.send_with_id("x", "now").id;
  message_id before_restart{now.epoch ^ 1, 40};
  test_client c{f.srv.port()};
  open_stream(c, "/events/x", "Last-Event-ID: " + to_string(before_restart) + "\r\n");
  REQUIRE(read_sse_opening(c));
  auto reset = split_event(c.read_chunk());
  REQUIRE(reset.id);
  CHECK(*reset.id == message_id{now.epoch, 0});
  CHECK(reset.rest == "event: reset\ndata: {\"reason\": \"history_reset\", \"lost\": null}\n\n");
  auto ev = split_event(c.read_chunk());
  REQUIRE(ev.id);
  CHECK(*ev.id == now);
}

// -- slow readers ------------------------------------------------------------------------

TEST_CASE("the drop policy shows a slow_consumer reset with the number of messages dropped before "
          "the next message that fits",
          "[http][stream][delivery]") {
  auto opts = test::quick_server();
  opts.max_outbound = 4096;
  opts.slow_reader = http::slow_reader_policy::drop;
  test::http_fixture f{opts};
  // A first message larger than the kernel's buffers leaves most of itself
  // waiting (the limit bounds what waits, not one write: it goes out). With
  // that much waiting, the next three cannot fit: three drops, with no
  // timing. Once the client has read the first whole, nothing waits.
  const std::string huge(8 * 1024 * 1024, 'h');
  const std::string big(16 * 1024, 'x');
  auto fill_then_drop = [&] {
    REQUIRE(f.reg.send("d", huge) == 1);
    for (int i = 0; i < 3; ++i)
      REQUIRE(f.reg.send("d", big) == 1);
  };
  SECTION("chunked") {
    test_client c{f.srv.port(), test::receive_buffer{4096}};
    open_stream(c, "/stream/d");
    REQUIRE(c.read_chunk() == std::optional<std::string>{"welcome d\n"});
    fill_then_drop();
    REQUIRE(test::eventually([&] { return f.srv.stats().slow_consumer_dropped == 3; }));
    REQUIRE(c.read_chunk() == std::optional<std::string>{huge + "\n"});
    f.reg.send("d", "small");
    CHECK(c.read_chunk() == std::optional<std::string>{"reset slow_consumer 3\n"});
    CHECK(c.read_chunk() == std::optional<std::string>{"small\n"});
  }
  SECTION("SSE") {
    test_client c{f.srv.port(), test::receive_buffer{4096}};
    open_stream(c, "/events/d");
    REQUIRE(read_sse_opening(c));
    REQUIRE(test::eventually([&] { return f.reg.lookup("d").size() == 1; }));
    fill_then_drop();
    REQUIRE(test::eventually([&] { return f.srv.stats().slow_consumer_dropped == 3; }));
    auto first = split_event(c.read_chunk());
    REQUIRE(first.id);
    CHECK(first.rest == "data: " + huge + "\n\n");
    f.reg.send("d", "small");
    // The reset names the last message dropped: a reconnect resumes past it.
    auto reset = split_event(c.read_chunk());
    REQUIRE(reset.id);
    CHECK(*reset.id == message_id{first.id->epoch, 4});
    CHECK(reset.rest == "event: reset\ndata: {\"reason\": \"slow_consumer\", \"lost\": 3}\n\n");
    auto ev = split_event(c.read_chunk());
    REQUIRE(ev.id);
    CHECK(ev.id->seq == 5);
    CHECK(ev.rest == "data: small\n\n");
  }
  auto s = f.srv.stats();
  CHECK(s.slow_consumer_dropped == 3);
  CHECK(s.dropped_chunks >= 1);
  CHECK(s.resets_sent == 1);
  CHECK(s.stream_closes.slow_consumer == 0); // the stream went on
}

TEST_CASE("the close policy (the default) ends a slow reader's stream and counts it as "
          "stream_closes.slow_consumer",
          "[http][stream][delivery]") {
  auto opts = test::quick_server();
  REQUIRE(opts.slow_reader == http::slow_reader_policy::close);
  opts.max_outbound = 4096;
  test::http_fixture f{opts};
  test_client c{f.srv.port(), test::receive_buffer{4096}};
  open_stream(c, "/stream/c");
  REQUIRE(c.read_chunk() == std::optional<std::string>{"welcome c\n"});
  f.reg.send("c", "fits");
  REQUIRE(c.read_chunk() == std::optional<std::string>{"fits\n"});
  // More than the kernel's buffers take goes out in part and waits (one
  // write is never refused); the next message cannot fit what waits.
  f.reg.send("c", std::string(8 * 1024 * 1024, 'h'));
  f.reg.send("c", std::string(16 * 1024, 'x'));
  CHECK(c.wait_closed(std::chrono::seconds{30}));
  REQUIRE(test::eventually([&] { return f.srv.stats().streams == 0; }));
  auto s = f.srv.stats();
  CHECK(s.stream_closes.slow_consumer == 1);
  CHECK(s.slow_closed == 1);
  CHECK(s.stream_closes.client == 0);
  CHECK(s.stream_closes.crashed == 0);
  CHECK(s.slow_consumer_dropped == 0);
  CHECK(s.resets_sent == 0);
}

TEST_CASE("stream closes are counted by cause: finished by the handler, or the client went away",
          "[http][stream][delivery]") {
  test::http_fixture f;
  {
    test_client c{f.srv.port()};
    open_stream(c, "/brief/b");
    REQUIRE(c.read_chunk() == std::optional<std::string>{"welcome b\n"});
    REQUIRE(test::eventually([&] { return f.srv.stats().stream_closes.finished == 1; }));
    test_client gone{f.srv.port()};
    open_stream(gone, "/stream/g");
    REQUIRE(gone.read_chunk() == std::optional<std::string>{"welcome g\n"});
  } // both clients close their sockets
  CHECK(test::eventually([&] { return f.srv.stats().stream_closes.client == 1; }));
  auto s = f.srv.stats();
  CHECK(s.stream_closes.finished == 1);
  CHECK(s.stream_closes.slow_consumer == 0);
  CHECK(s.streams == 0);
}

TEST_CASE("a stream the server ends by stopping is counted as stream_closes.server_stop",
          "[http][stream][delivery][drain]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  open_stream(c, "/stream/s");
  REQUIRE(c.read_chunk() == std::optional<std::string>{"welcome s\n"});
  f.srv.stop();
  CHECK(c.wait_closed());
  auto s = f.srv.stats();
  CHECK(s.stream_closes.server_stop == 1);
  CHECK(s.stream_closes.client == 0);
  CHECK(s.streams == 0);
}

TEST_CASE("a stream that crashes after showing a resume reset does not show it again",
          "[http][stream][delivery][crash]") {
  // The restarted session registers again from where its predecessor was:
  // once the client has seen the reset, that is after it, not the
  // client's original id (which would earn the same reset a second time).
  auto [sent_id, shown] = GENERATE(
    std::pair<std::string, std::string>{"not-an-id", "unknown_id"},
    std::pair<std::string, std::string>{"0123456789abcdef-5", "history_reset"});
  CAPTURE(sent_id);
  test::http_fixture f;
  test::log_capture quiet{log::level::none};
  test_client c{f.srv.port()};
  open_stream(c, "/resume/k", "Last-Event-ID: " + sent_id + "\r\n");
  // An unreadable id leaves no position to announce.
  if (shown == "unknown_id")
    REQUIRE(c.read_chunk() == retry_chunk);
  else
    REQUIRE(read_sse_opening(c));
  auto reset = split_event(c.read_chunk());
  REQUIRE(reset.rest == "event: reset\ndata: {\"reason\": \"" + shown + "\", \"lost\": null}\n\n");
  // Where the reset put the client: the start of the key's history.
  REQUIRE(reset.id);
  CHECK(reset.id->seq == 0);
  REQUIRE(test::eventually([&] { return f.reg.lookup("k").size() == 1; }));
  auto before = f.reg.lookup("k").front();
  http::notify(before, "crash");
  REQUIRE(test::eventually([&] {
    auto now = f.reg.lookup("k");
    return now.size() == 1 && now.front() != before;
  }));
  f.reg.send("k", "after");
  auto ev = split_event(c.read_chunk());
  CHECK(ev.rest == "data: after\n\n");
  REQUIRE(ev.id);
  CHECK(ev.id->seq == 1);
  CHECK(f.srv.stats().crashes == 1);
  CHECK(f.srv.stats().resets_sent == 1);
}
