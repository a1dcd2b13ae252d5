#include "libactor/http/sse.hpp"

#include <catch2/catch.hpp>

using libactor::http::parse_last_event_id;
using libactor::http::sse_comment;
using libactor::http::sse_event;

TEST_CASE("an SSE event carries id, event, retry and data lines and ends in a blank line",
          "[http][sse]") {
  sse_event ev;
  ev.id = 7;
  ev.event = "message";
  ev.retry_ms = 3000;
  ev.data = "hello";
  CHECK(format(ev) == "id: 7\nevent: message\nretry: 3000\ndata: hello\n\n");
}

TEST_CASE("an SSE event with only data has no other fields", "[http][sse]") {
  CHECK(format(sse_event{std::nullopt, "", "x", std::nullopt}) == "data: x\n\n");
  CHECK(format(sse_event{}) == "data: \n\n");
}

TEST_CASE("multi-line SSE data becomes several data lines whatever the line ends",
          "[http][sse]") {
  sse_event ev;
  ev.data = "a\nb\r\nc\rd";
  CHECK(format(ev) == "data: a\ndata: b\ndata: c\ndata: d\n\n");
  ev.data = "end\n";
  CHECK(format(ev) == "data: end\ndata: \n\n");
  ev.data = "\r\n\r\n";
  CHECK(format(ev) == "data: \ndata: \ndata: \n\n");
}

TEST_CASE("line breaks in an SSE event name cannot inject fields", "[http][sse]") {
  sse_event ev;
  ev.event = "x\r\ndata: injected";
  ev.data = "d";
  CHECK(format(ev) == "event: xdata: injected\ndata: d\n\n");
}

TEST_CASE("an SSE comment is a keep-alive line", "[http][sse]") {
  CHECK(sse_comment("tick") == ": tick\n\n");
  CHECK(sse_comment("a\nb") == ": a\n: b\n\n");
}

TEST_CASE("Last-Event-ID is parsed only when it is a decimal id", "[http][sse]") {
  CHECK(parse_last_event_id("42") == 42u);
  CHECK(parse_last_event_id(" 7\t") == 7u);
  CHECK(parse_last_event_id("0") == 0u);
  CHECK(parse_last_event_id("18446744073709551615") == 18446744073709551615ull);
  CHECK_FALSE(parse_last_event_id("18446744073709551616"));
  CHECK_FALSE(parse_last_event_id(""));
  CHECK_FALSE(parse_last_event_id("  "));
  CHECK_FALSE(parse_last_event_id("-1"));
  CHECK_FALSE(parse_last_event_id("+1"));
  CHECK_FALSE(parse_last_event_id("12abc"));
  CHECK_FALSE(parse_last_event_id("1 2"));
  CHECK_FALSE(parse_last_event_id("0x10"));
}
