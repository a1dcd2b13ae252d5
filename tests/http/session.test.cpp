// The session process over real sockets on 127.0.0.1: keep-alive,
// pipelining, limits, timeouts, crash isolation, streams.
#include "libactor/http/server.hpp"

#include "libactor/process.hpp"

#include <future>
#include <thread>

#include <catch2/catch.hpp>

#include "support/event_log.hpp"
#include "support/http_fixture.hpp"
#include "support/child_process.hpp"
#include "support/test_client.hpp"

using namespace libactor;
using namespace std::chrono_literals;
using test::test_client;
using test::split_event;

namespace {

std::string get(std::string_view path, std::string_view extra = {}) {
  return "GET " + std::string{path} + " HTTP/1.1\r\nHost: t\r\n" + std::string{extra} + "\r\n";
}

std::string post(std::string_view path, std::string_view body) {
  return "POST " + std::string{path} + " HTTP/1.1\r\nHost: t\r\nContent-Length: "
         + std::to_string(body.size()) + "\r\n\r\n" + std::string{body};
}


} // namespace

TEST_CASE("a keep-alive connection serves several requests and closes on Connection: close",
          "[http][session]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  for (int i = 0; i < 3; ++i) {
    c.send(get("/hello"));
    auto r = c.read_reply();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "hello\n");
    CHECK_FALSE(r->has_header("Connection: close"));
  }
  c.send(get("/hello", "Connection: close\r\n"));
  auto last = c.read_reply();
  REQUIRE(last);
  CHECK(last->has_header("Connection: close"));
  CHECK(c.wait_closed());
}

TEST_CASE("pipelined requests are answered in order", "[http][session]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send(post("/echo", "one") + post("/echo", "two") + get("/hello") + post("/echo", "three"));
  for (auto expected : {"one", "two", "hello\n", "three"}) {
    auto r = c.read_reply();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == expected);
  }
}

TEST_CASE("a request split into single bytes is still understood", "[http][session]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  for (char ch : post("/echo", "byte by byte"))
    c.send(std::string(1, ch));
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->body == "byte by byte");
}

TEST_CASE("HEAD gets the header block with the body's length and no body", "[http][session]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = c.read_reply(10s, true);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->has_header("Content-Length: 6"));
  c.send(get("/hello")); // the next reply starts right after the header block
  auto next = c.read_reply();
  REQUIRE(next);
  CHECK(next->body == "hello\n");
}

TEST_CASE("Expect: 100-continue gets 100 before the body is sent", "[http][session]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.read_until("\r\n\r\n");
  REQUIRE(interim);
  CHECK(interim->rfind("HTTP/1.1 100 Continue", 0) == 0);
  c.send("body");
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->body == "body");
}

TEST_CASE("a chunked request body is reassembled", "[http][session]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->body == "hello world");
}

TEST_CASE("malformed requests get their status and unsafe ones close the connection",
          "[http][session][limits]") {
  test::http_fixture f;
  struct probe {
    std::string request;
    int status;
    bool closes;
  };
  auto long_target = "/" + std::string(9000, 'a');
  std::string many_headers;
  for (int i = 0; i < 150; ++i)
    many_headers += "X-H" + std::to_string(i) + ": v\r\n";
  std::vector<probe> probes{
    {"GARBAGE\r\n\r\n", 400, true},
    {get(long_target), 414, true},
    {get("/hello", many_headers), 431, true},
    {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n", 413, true},
    {"BREW /hello HTTP/1.1\r\nHost: t\r\n\r\n", 501, true},
    {get("/nowhere"), 404, false},
  };
  for (auto& p : probes) {
    CAPTURE(p.status);
    test_client c{f.srv.port()};
    c.send(p.request);
    auto r = c.read_reply();
    REQUIRE(r);
    CHECK(r->status == p.status);
    CAPTURE(r->body);
    if (p.closes) {
      CHECK(c.wait_closed());
    } else {
      c.send(get("/hello"));
      auto again = c.read_reply();
      REQUIRE(again);
      CHECK(again->status == 200);
    }
  }
  test_client c{f.srv.port()};
  c.send("DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->has_header("Allow: GET, HEAD"));
  CHECK(f.srv.stats().responses_4xx == 6); // 400 414 431 413 404 405
  CHECK(f.srv.stats().responses_5xx == 1); // 501
  CHECK(f.srv.stats().sessions >= 1); // the server is still serving
}

TEST_CASE("a client that never finishes its headers gets 408 and is closed (slowloris)",
          "[http][session][timeout]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send("GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: ");
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 408);
  CHECK(c.wait_closed());
  CHECK(f.srv.stats().timeouts == 1);
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout", "[http][session][timeout]") {
  auto opts = test::quick_server();
  opts.idle_timeout = 300ms;
  test::http_fixture f{opts};
  test_client c{f.srv.port()};
  c.send(get("/hello"));
  REQUIRE(c.read_reply());
  CHECK(c.wait_closed());
  CHECK(f.srv.stats().timeouts == 1);
}

TEST_CASE("a throwing handler gets a 500 and the same connection keeps working",
          "[http][session][crash]") {
  test::http_fixture f;
  test_client bystander{f.srv.port()};
  bystander.send(get("/hello"));
  REQUIRE(bystander.read_reply());
  test_client c{f.srv.port()};
  c.send(get("/crash"));
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 500);
  c.send(get("/hello"));
  auto after = c.read_reply();
  REQUIRE(after);
  CHECK(after->status == 200);
  bystander.send(get("/hello"));
  auto other = bystander.read_reply();
  REQUIRE(other);
  CHECK(other->status == 200);
  CHECK(f.srv.stats().crashes == 1);
}

TEST_CASE("pipelined requests after a crashing one are still answered", "[http][session][crash]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send(get("/crash") + post("/echo", "still here"));
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 500);
  auto next = c.read_reply();
  REQUIRE(next);
  CHECK(next->body == "still here");
}

TEST_CASE("a stream resumes on the same connection after its session crashes, losing nothing",
          "[http][session][crash][stream]") {
  test::http_fixture f;
  test_client other{f.srv.port()};
  other.send(get("/stream/bob"));
  REQUIRE(other.read_until("\r\n\r\n"));
  REQUIRE(other.read_chunk() == std::optional<std::string>{"welcome bob\n"});
  test_client c{f.srv.port()};
  c.send(get("/stream/alice"));
  auto head = c.read_until("\r\n\r\n");
  REQUIRE(head);
  CHECK(head->find("Transfer-Encoding: chunked") != std::string::npos);
  REQUIRE(c.read_chunk() == std::optional<std::string>{"welcome alice\n"});
  CHECK(f.reg.send("alice", "m1") == 1);
  REQUIRE(c.read_chunk() == std::optional<std::string>{"m1\n"});
  f.reg.send("alice", "crash");
  for (int i = 2; i <= 5; ++i)
    f.reg.send("alice", "m" + std::to_string(i));
  // The message that crashed it is skipped, and the client is told so.
  CHECK(c.read_chunk() == std::optional<std::string>{"reset poison_skipped 1\n"});
  CHECK(f.srv.stats().poison_skipped == 1);
  for (int i = 2; i <= 5; ++i)
    CHECK(c.read_chunk() == std::optional<std::string>{"m" + std::to_string(i) + "\n"});
  f.reg.send("bob", "b1");
  CHECK(other.read_chunk() == std::optional<std::string>{"b1\n"});
  CHECK(f.srv.stats().crashes == 1);
}

TEST_CASE("SSE events carry ids and Last-Event-ID replays what was missed", "[http][session][stream]") {
  test::http_fixture f;
  message_id first;
  {
    test_client c{f.srv.port()};
    c.send(get("/events/carol"));
    auto head = c.read_until("\r\n\r\n");
    REQUIRE(head);
    CHECK(head->find("text/event-stream") != std::string::npos);
    REQUIRE(read_sse_opening(c));
    auto sent = f.reg.send_with_id("carol", "first");
    auto ev = split_event(c.read_chunk());
    REQUIRE(ev.id);
    CHECK(*ev.id == sent.id); // the id a client hands back is the registry's
    CHECK(ev.id->seq == 1);
    CHECK(ev.rest == "data: first\n\n");
    first = *ev.id;
  }
  REQUIRE(test::eventually([&] { return f.srv.stats().streams == 0; }));
  f.reg.send("carol", "second");
  f.reg.send("carol", "third");
  test_client again{f.srv.port()};
  again.send(get("/events/carol", "Last-Event-ID: " + to_string(first) + "\r\n"));
  REQUIRE(again.read_until("\r\n\r\n"));
  REQUIRE(read_sse_opening(again));
  auto second = split_event(again.read_chunk());
  REQUIRE(second.id);
  CHECK(*second.id == message_id{first.epoch, 2});
  CHECK(second.rest == "data: second\n\n");
  auto third = split_event(again.read_chunk());
  REQUIRE(third.id);
  CHECK(*third.id == message_id{first.epoch, 3});
  CHECK(third.rest == "data: third\n\n");
  CHECK(f.srv.stats().resets_sent == 0);
}

TEST_CASE("an SSE heartbeat is a comment framed as a chunk, and the stream goes on after it",
          "[http][session][stream]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send(get("/beat/dora"));
  REQUIRE(c.read_until("\r\n\r\n"));
  REQUIRE(read_sse_opening(c));
  // A heartbeat written outside the chunk framing would break the stream
  // here: read_chunk fails on anything that is not a chunk.
  CHECK(c.read_chunk() == std::optional<std::string>{": tick\n\n"});
  CHECK(c.read_chunk() == std::optional<std::string>{": tick\n\n"});
  REQUIRE(test::eventually([&] { return f.reg.lookup("dora").size() == 1; }));
  f.reg.send("dora", "after ticks");
  for (int i = 0; i < 10; ++i) { // ticks may come first
    auto ch = c.read_chunk();
    REQUIRE(ch);
    if (*ch != ": tick\n\n") {
      auto ev = split_event(ch);
      REQUIRE(ev.id);
      CHECK(ev.id->seq == 1);
      CHECK(ev.rest == "data: after ticks\n\n");
      break;
    }
  }
}

TEST_CASE("notify reaches a stream's on_info hook, and a throwing hook restarts the stream in place",
          "[http][session][stream][crash]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send(get("/beat/erin"));
  REQUIRE(c.read_until("\r\n\r\n"));
  REQUIRE(read_sse_opening(c));
  REQUIRE(test::eventually([&] { return f.reg.lookup("erin").size() == 1; }));
  auto next_non_tick = [&c]() -> std::optional<std::string> {
    for (int i = 0; i < 1000; ++i) {
      auto ch = c.read_chunk();
      if (!ch || *ch != ": tick\n\n")
        return ch;
    }
    return std::nullopt;
  };
  http::notify(f.reg.lookup("erin").front(), "hi");
  auto note = next_non_tick();
  REQUIRE(note);
  CHECK(*note == ": note hi\n\n");
  auto before = f.reg.lookup("erin").front();
  http::notify(before, "crash");
  f.reg.send("erin", "sent during the crash");
  auto got = split_event(next_non_tick());
  REQUIRE(got.id);
  CHECK(got.id->seq == 1);
  CHECK(got.rest == "data: sent during the crash\n\n");
  CHECK(f.srv.stats().crashes == 1);
  REQUIRE(test::eventually([&] {
    auto now = f.reg.lookup("erin");
    return now.size() == 1 && now.front() != before;
  }));
}

TEST_CASE("a slow reader's stream drops chunks beyond the outbound limit and counts them",
          "[http][session][stream]") {
  auto opts = test::quick_server();
  opts.max_outbound = 4096;
  opts.slow_reader = http::slow_reader_policy::drop; // no longer the default
  test::http_fixture f{opts};
  test_client c{f.srv.port()};
  c.set_receive_buffer(1);
  c.send(get("/stream/slow"));
  REQUIRE(c.read_until("welcome slow\n"));
  // The first write always goes out (the limit bounds what waits, not one
  // write); once the kernel's buffers are full, what waits is over it.
  std::string big(256 * 1024, 'x');
  for (int i = 0; i < 200 && f.srv.stats().dropped_chunks == 0; ++i)
    f.reg.send("slow", big);
  CHECK(test::eventually([&] { return f.srv.stats().dropped_chunks > 0; }));
}

TEST_CASE("stop closes idle keep-alive connections and reports them drained", "[http][session][drain]") {
  test::http_fixture f;
  test_client a{f.srv.port()};
  a.send(get("/hello"));
  REQUIRE(a.read_reply());
  test_client b{f.srv.port()};
  b.send(get("/hello"));
  REQUIRE(b.read_reply());
  auto report = f.srv.stop();
  CHECK(report.drained == 2);
  CHECK(report.cut == 0);
  CHECK(a.wait_closed());
  CHECK(b.wait_closed());
}

TEST_CASE("stop lets a request that is arriving finish, then closes", "[http][session][drain]") {
  auto opts = test::quick_server();
  opts.header_timeout = 5s;
  test::http_fixture f{opts};
  test_client c{f.srv.port()};
  c.send("GET /hello HTTP/1.1\r\nHost: t\r\n");
  // The request is in flight: the session has its first bytes.
  REQUIRE(test::eventually([&] { return f.srv.stats().sessions == 1; }));
  auto stopping = std::async(std::launch::async, [&] { return f.srv.stop(); });
  // Once the port refuses connections, every open one is draining.
  REQUIRE(test::eventually([&] {
    try {
      test_client probe{f.srv.port()};
      return false;
    } catch (const std::runtime_error&) {
      return true;
    }
  }));
  c.send("\r\n");
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->has_header("Connection: close"));
  CHECK(c.wait_closed());
  auto report = stopping.get();
  CHECK(report.drained >= 1); // and the probes that got in before the port closed
  CHECK(report.cut == 0);
}

// -- crash isolation and hostile clients (the invariants) ---------------------------

TEST_CASE("HEAD on a stream route sends the head only: no stream opens and nothing is subscribed",
          "[http][session][head]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  for (auto path : {"/stream/alice", "/events/alice", "/beat/alice"}) {
    c.send("HEAD " + std::string{path} + " HTTP/1.1\r\nHost: t\r\n\r\n");
    auto r = c.read_reply(10s, true);
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  CHECK(f.reg.lookup("alice").empty());
  CHECK(f.srv.stats().streams == 0);
  CHECK(f.srv.stats().crashes == 0);
  // The connection is still in step: the next answer follows the heads.
  c.send(get("/hello"));
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->body == "hello\n");
}

TEST_CASE("a stream that ends on a keep-alive connection unsubscribes, so the next stream there "
          "gets only its own user's messages",
          "[http][session][stream]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send(get("/brief/alice"));
  REQUIRE(c.read_until("\r\n\r\n"));
  REQUIRE(c.read_chunk() == std::optional<std::string>{"welcome alice\n"});
  REQUIRE(c.read_chunk() == std::optional<std::string>{""});
  c.send(get("/stream/bob"));
  REQUIRE(c.read_until("\r\n\r\n"));
  REQUIRE(c.read_chunk() == std::optional<std::string>{"welcome bob\n"});
  CHECK(f.reg.lookup("alice").empty());
  CHECK(f.reg.send("alice", "for alice") == 0);
  CHECK(f.reg.send("bob", "for bob") == 1);
  CHECK(c.read_chunk() == std::optional<std::string>{"for bob\n"});
  CHECK(f.srv.stats().streams == 1);
}

TEST_CASE("a connection whose session crashes past its budget is closed and counted, and the shards "
          "spend nothing",
          "[http][session][crash]") {
  auto opts = test::quick_server();
  opts.session_crash_budget = child_intensity{2, 60s};
  opts.shard_intensity = 0; // one restart charged to a shard would end it
  test::http_fixture f{opts};
  test_client c{f.srv.port()};
  for (int i = 0; i < 2; ++i) {
    c.send(get("/crash"));
    auto r = c.read_reply();
    REQUIRE(r);
    CHECK(r->status == 500);
  }
  c.send(get("/crash"));
  CHECK(c.wait_closed());
  CHECK(test::eventually([&] { return f.srv.stats().crash_budget_closes == 1; }));
  // The same request from new connections costs them, not the server.
  for (int i = 0; i < 5; ++i) {
    test_client other{f.srv.port()};
    other.send(get("/crash") + get("/hello"));
    auto r = other.read_reply();
    REQUIRE(r);
    CHECK(r->status == 500);
    auto next = other.read_reply();
    REQUIRE(next);
    CHECK(next->body == "hello\n");
  }
  CHECK_FALSE(f.srv.stats().tree_down);
  CHECK(f.srv.stats().crash_budget_closes == 1);
}

TEST_CASE("a client that pipelines without reading makes its session stop reading, then gets "
          "every answer in order",
          "[http][session][backpressure]") {
  test::http_fixture f; // max_pending_output at its default, 64 KiB
  test_client c{f.srv.port()};
  // 40 MiB of answers: far more than the kernel's socket buffers hold.
  std::string batch;
  for (int i = 0; i < 40; ++i)
    batch += get("/big") + post("/echo", std::to_string(i));
  c.send(batch);
  CHECK(test::eventually([&] { return f.srv.stats().read_pauses >= 1; }));
  for (int i = 0; i < 40; ++i) {
    auto big = c.read_reply();
    REQUIRE(big);
    CHECK(big->body.size() == 1u << 20);
    auto r = c.read_reply();
    REQUIRE(r);
    CHECK(r->body == std::to_string(i));
  }
}

TEST_CASE("a closing connection whose client does not read is cut after closing_timeout",
          "[http][session][timeout]") {
  auto opts = test::quick_server();
  opts.max_pending_output = 0; // no backpressure: the error answer is queued behind /big
  opts.idle_timeout = 60s;
  opts.closing_timeout = 300ms;
  test::http_fixture f{opts};
  test_client c{f.srv.port()};
  c.set_receive_buffer(4096);
  // The 400 for the last request waits behind 8 MiB the client never reads.
  std::string batch;
  for (int i = 0; i < 8; ++i)
    batch += get("/big");
  c.send(batch + "GET /bad\x01path HTTP/1.1\r\n\r\n");
  CHECK(test::eventually([&] { return f.srv.stats().responses_4xx == 1; }));
  CHECK(test::eventually([&] { return f.srv.stats().sessions == 0; }));
  CHECK(f.srv.stats().timeouts == 1);
}

TEST_CASE("a slow but steady request body is not cut by the header timeout", "[http][session][timeout]") {
  auto opts = test::quick_server();
  opts.header_timeout = 200ms;
  opts.body_timeout = 5s;
  test::http_fixture f{opts};
  test_client c{f.srv.port()};
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\n");
  for (char ch : std::string{"slowbody"}) {
    std::this_thread::sleep_for(60ms); // an upload slower than the header timeout in total
    c.send(std::string(1, ch));
  }
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "slowbody");
}

TEST_CASE("a body that stops arriving gets 408 after body_timeout", "[http][session][timeout]") {
  auto opts = test::quick_server();
  opts.header_timeout = 5s;
  opts.body_timeout = 200ms;
  test::http_fixture f{opts};
  test_client c{f.srv.port()};
  c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\nabc");
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 408);
  CHECK(r->body.find("body") != std::string::npos);
  CHECK(c.wait_closed());
}

TEST_CASE("an error answer is followed by a lingering close, so the client reads it even while "
          "it is still sending",
          "[http][session][linger]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  // A header block over the limit, and more bytes after it that the server
  // never reads as a request: a plain close would reset the connection.
  c.send("GET /hello HTTP/1.1\r\nHost: t\r\nX: " + std::string(20000, 'b') + "\r\n\r\n");
  c.send(std::string(200000, 'c'));
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 431);
  CHECK(c.wait_closed());
}

TEST_CASE("a Connection: close answer with more input behind it is followed by a lingering close",
          "[http][session][linger]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.send("GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + std::string(200000, 'c'));
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.size() == 1u << 20);
  CHECK(c.wait_closed());
}

TEST_CASE("bytes a client sends while its closing answer is still being written do not reset the "
          "connection under the answer",
          "[http][session][linger]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  c.set_receive_buffer(4096);
  const std::string body(60000, 'e');
  c.send("POST /echo HTTP/1.0\r\nContent-Length: 60000\r\n\r\n" + body);
  // The answer is being written (the client reads nothing yet); then the
  // client sends more, which the closing session never reads.
  REQUIRE(test::eventually([&] { return f.srv.stats().requests == 1; }));
  c.send("GET /hello HTTP/1.1\r\nHost: f\r\n\r\n");
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == body);
  CHECK(c.wait_closed());
}

#ifdef LIBACTOR_TREE_EXIT_SERVER
TEST_CASE("when the connection tree gives up, a permanent server logs why and exits with status 1",
          "[http][session][tree]") {
  test::child_process proc{{LIBACTOR_TREE_EXIT_SERVER}, true};
  REQUIRE(proc.read_line_with("killing"));
  auto line = proc.read_line_with("http_server_tree_down");
  REQUIRE(line);
  CHECK(proc.wait_exit() == std::optional<int>{1});
}
#endif

TEST_CASE("when the connection tree of a temporary server gives up, the process lives on and "
          "stats say so",
          "[http][session][tree]") {
  auto opts = test::quick_server();
  opts.tree_restart = restart_type::temporary;
  test::http_fixture f{opts};
  auto top = f.srv.connections().top();
  libactor::exit(top, exit_reason::kill());
  CHECK(test::eventually([&] { return f.srv.stats().tree_down; }));
  // New clients are told, not silently dropped.
  test_client c{f.srv.port()};
  auto r = c.read_reply();
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(c.wait_closed());
}

TEST_CASE("thousands of pipelined requests in one read are answered without nesting a call per "
          "request",
          "[http][session][pipelining]") {
  test::http_fixture f;
  test_client c{f.srv.port()};
  std::string batch;
  for (int i = 0; i < 20000; ++i)
    batch += "GET /hello HTTP/1.1\r\nHost:a\r\n\r\n";
  std::thread sender{[&] { c.send(batch); }};
  int answered = 0;
  while (answered < 20000) {
    auto r = c.read_reply();
    if (!r)
      break;
    ++answered;
  }
  sender.join();
  CHECK(answered == 20000);
}

TEST_CASE("a stream may subscribe to one key only", "[http][session][stream]") {
  registry reg{test::replaying_registry()};
  node n{test::small_node()};
  http::http_router r;
  r.add("GET", "/two", [&reg](http::context& ctx) {
    ctx.start_chunked("text/plain");
    ctx.subscribe(reg, registry_key{"a"});
    ctx.subscribe(reg, registry_key{"b"}); // a programming error: the session crashes
  });
  http::server srv{n, test::quick_server(), std::move(r)};
  test_client c{srv.port()};
  c.send(get("/two"));
  REQUIRE(c.read_until("\r\n\r\n"));
  // The stream had begun: the restarted session resumes it, on key "a" only.
  CHECK(test::eventually([&] { return srv.stats().crashes == 1 && reg.lookup("a").size() == 1; }));
  CHECK(reg.lookup("b").empty());
  CHECK(reg.send("a", "on a") == 1);
  CHECK(c.read_chunk() == std::optional<std::string>{"on a"});
  srv.stop();
}
