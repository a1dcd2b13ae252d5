#include "libactor/http/sse.hpp"

#include <catch2/catch.hpp>

using libactor::http::sse_comment;
using libactor::http::sse_event;

TEST_CASE("an SSE event carries id, event, retry and data lines and ends in a blank line",
          "[http][sse]") {
  sse_event ev;
  ev.id = "9f3a0c21d4e7b815-7";
  ev.event = "message";
  ev.retry_ms = 3000;
  ev.data = "hello";
  CHECK(format(ev) == "id: 9f3a0c21d4e7b815-7\nevent: message\nretry: 3000\ndata: hello\n\n");
}

TEST_CASE("an SSE id is written as given, without the characters that would end or void it",
          "[http][sse]") {
  sse_event ev;
  ev.id = std::string{"a\r\nb\0c", 6};
  ev.data = "d";
  CHECK(format(ev) == "id: abc\ndata: d\n\n");
  // An empty id is still a field: it resets the browser's last event id.
  ev.id = "";
  CHECK(format(ev) == "id: \ndata: d\n\n");
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
