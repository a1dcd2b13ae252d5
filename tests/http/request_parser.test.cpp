#include "libactor/http/request_parser.hpp"

#include <string>

#include <catch2/catch.hpp>

#include "http/feed.hpp"

using libactor::http::limits;
using libactor::http::request_parser;
using libactor::http::test::feed_all;
using libactor::http::test::feed_in_steps;
using state = request_parser::result::state;

TEST_CASE("a simple GET is parsed into method, target, headers and version", "[http][parser]") {
  request_parser p{limits{}};
  const std::string in = "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing: 42\r\n\r\n";
  auto r = p.feed(in);
  REQUIRE(r.st == state::complete);
  CHECK(r.consumed == in.size());
  auto req = p.take();
  CHECK(req.method() == "GET");
  CHECK(req.target() == "/hello?x=1");
  CHECK(req.path() == "/hello");
  CHECK(req.query() == "x=1");
  CHECK(req.version() == 11);
  CHECK(req.header("x-thing") == "42");
  CHECK(req.header("HOST") == "a");
  CHECK_FALSE(req.header("missing"));
  CHECK(req.headers().size() == 2);
  CHECK(req.body().empty());
  CHECK(req.keep_alive());
}

TEST_CASE("an incomplete header block needs more and keeps the fields unconsumed",
          "[http][parser]") {
  request_parser p{limits{}};
  auto r = p.feed("GET / HT");
  CHECK(r.st == state::need_more);
  CHECK(r.consumed == 0);
  // Beast takes the request line on its own; the fields wait for the blank line.
  std::string pending = "GET / HTTP/1.1\r\nHost: a\r\n";
  r = p.feed(pending);
  CHECK(r.st == state::need_more);
  // Beast may take the request line on its own; the fields wait for the blank line.
  CHECK(r.consumed <= std::string("GET / HTTP/1.1\r\n").size());
  CHECK_FALSE(p.header_done());
  CHECK_THROWS_AS(p.take(), std::logic_error);
  pending.erase(0, r.consumed);
  r = p.feed(pending + "\r\n");
  CHECK(r.st == state::complete);
  CHECK(r.consumed == pending.size() + 2);
  CHECK(p.take().header("host") == "a");
  CHECK_THROWS_AS(p.take(), std::logic_error);
}

TEST_CASE("a request with a Content-Length body keeps the body", "[http][parser]") {
  auto out = feed_all("POST /send/7 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
  REQUIRE(out.error_status == 0);
  REQUIRE(out.requests.size() == 1);
  CHECK(out.requests[0].method() == "POST");
  CHECK(out.requests[0].body() == "hello");
}

TEST_CASE("pipelined requests are parsed in order from one buffer", "[http][parser]") {
  const std::string in =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  auto out = feed_all(in);
  REQUIRE(out.error_status == 0);
  REQUIRE(out.requests.size() == 3);
  CHECK(out.requests[0].path() == "/a");
  CHECK(out.requests[1].path() == "/b");
  CHECK(out.requests[1].body() == "abc");
  CHECK(out.requests[2].path() == "/c");
  CHECK_FALSE(out.requests[2].keep_alive());
  CHECK(out.leftover.empty());
}

TEST_CASE("a complete request consumes only its own bytes", "[http][parser]") {
  request_parser p{limits{}};
  const std::string first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  auto r = p.feed(first + "GET /b HT");
  REQUIRE(r.st == state::complete);
  CHECK(r.consumed == first.size());
}

TEST_CASE("pipelined requests split byte by byte parse the same", "[http][parser]") {
  const std::string in =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: t\r\n\r\n"
      "PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nwxyz";
  for (std::size_t step : {1u, 2u, 3u, 7u, 64u}) {
    INFO("step " << step);
    auto out = feed_in_steps(in, step);
    REQUIRE(out.error_status == 0);
    REQUIRE(out.requests.size() == 3);
    CHECK(out.requests[0].path() == "/a");
    CHECK(out.requests[1].body() == "abcde");
    CHECK(out.requests[2].method() == "PUT");
    CHECK(out.requests[2].body() == "wxyz");
    CHECK(out.leftover.empty());
  }
}

TEST_CASE("a chunked request body is de-chunked", "[http][parser][chunked]") {
  auto out = feed_all(
      "POST /send/1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");
  REQUIRE(out.error_status == 0);
  REQUIRE(out.requests.size() == 1);
  CHECK(out.requests[0].body() == "hello, world");
}

TEST_CASE("a malformed chunk size is a 400", "[http][parser][chunked]") {
  auto out = feed_all(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
  CHECK(out.error_status == 400);
}

TEST_CASE("an endless chunk extension is refused before it fills memory",
          "[http][parser][chunked][limits]") {
  limits lim;
  lim.max_chunk_header = 64;
  std::string in = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=";
  in.append(1000, 'a');
  auto out = feed_in_steps(in, 16, lim);
  CHECK(out.error_status == 400);
  CHECK(out.max_leftover <= lim.max_chunk_header + 16);
}

TEST_CASE("a chunked body beyond max_body is a 413", "[http][parser][chunked][limits]") {
  limits lim;
  lim.max_body = 8;
  auto out = feed_all(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n",
      lim);
  CHECK(out.error_status == 413);
}

TEST_CASE("a Content-Length beyond max_body is a 413 before the body arrives",
          "[http][parser][limits]") {
  limits lim;
  lim.max_body = 10;
  request_parser p{lim};
  auto r = p.feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n");
  CHECK(r.st == state::error);
  CHECK(r.status == 413);
  CHECK_FALSE(r.reason.empty());
}

TEST_CASE("a body exactly at max_body is accepted", "[http][parser][limits]") {
  limits lim;
  lim.max_body = 5;
  auto out = feed_all("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", lim);
  CHECK(out.error_status == 0);
  REQUIRE(out.requests.size() == 1);
}

TEST_CASE("a request line longer than max_request_line is a 414", "[http][parser][limits]") {
  limits lim;
  lim.max_request_line = 50;
  const std::string long_target = "/" + std::string(60, 'a');
  SECTION("with the whole line present") {
    auto out = feed_all("GET " + long_target + " HTTP/1.1\r\nHost: a\r\n\r\n", lim);
    CHECK(out.error_status == 414);
  }
  SECTION("before any CRLF arrives, fed byte by byte") {
    auto out = feed_in_steps("GET " + long_target + long_target, 1, lim);
    CHECK(out.error_status == 414);
    CHECK(out.max_leftover <= lim.max_request_line + 2);
  }
}

TEST_CASE("a request line exactly max_request_line long is accepted", "[http][parser][limits]") {
  limits lim;
  const std::string line = "GET /" + std::string(10, 'a') + " HTTP/1.1";
  lim.max_request_line = line.size();
  auto out = feed_in_steps(line + "\r\nHost: a\r\n\r\n", 1, lim);
  CHECK(out.error_status == 0);
  CHECK(out.requests.size() == 1);
  lim.max_request_line = line.size() - 1;
  CHECK(feed_all(line + "\r\nHost: a\r\n\r\n", lim).error_status == 414);
}

TEST_CASE("a header block larger than max_header_bytes is a 431", "[http][parser][limits]") {
  limits lim;
  lim.max_header_bytes = 256;
  std::string in = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(300, 'b') + "\r\n\r\n";
  SECTION("all at once") {
    CHECK(feed_all(in, lim).error_status == 431);
  }
  SECTION("byte by byte, never holding more than the limit") {
    auto out = feed_in_steps(in.substr(0, in.size() - 4), 1, lim);
    CHECK(out.error_status == 431);
    CHECK(out.max_leftover <= lim.max_header_bytes);
  }
}

TEST_CASE("the header block limit counts the request line too", "[http][parser][limits]") {
  limits lim;
  lim.max_header_bytes = 256;
  const std::string line = "GET /" + std::string(180, 'a') + " HTTP/1.1\r\n";
  const std::string fields = "Host: a\r\nX-Pad: " + std::string(60, 'p') + "\r\n\r\n";
  REQUIRE(line.size() < 256);
  REQUIRE(fields.size() < 256);
  CHECK(feed_all(line + fields, lim).error_status == 431);
  CHECK(feed_in_steps(line + fields, 1, lim).error_status == 431);
  lim.max_header_bytes = line.size() + fields.size();
  CHECK(feed_all(line + fields, lim).error_status == 0);
  CHECK(feed_in_steps(line + fields, 1, lim).error_status == 0);
}

TEST_CASE("more than max_headers fields is a 431", "[http][parser][limits]") {
  limits lim;
  lim.max_headers = 3;
  CHECK(feed_all("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", lim).error_status == 0);
  auto out = feed_all("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", lim);
  CHECK(out.error_status == 431);
}

TEST_CASE("malformed request lines and fields are a 400", "[http][parser]") {
  CHECK(feed_all("GET\r\n\r\n").error_status == 400);
  CHECK(feed_all("GET / HTTP/1.1\r\nBad Header\r\n\r\n").error_status == 400);
  CHECK(feed_all("G(T / HTTP/1.1\r\nHost: a\r\n\r\n").error_status == 400);
  CHECK(feed_all("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n").error_status == 400);
}

TEST_CASE("an HTTP/1.1 request without Host is a 400", "[http][parser]") {
  CHECK(feed_all("GET / HTTP/1.1\r\n\r\n").error_status == 400);
  CHECK(feed_all("GET / HTTP/1.0\r\n\r\n").error_status == 0);
}

TEST_CASE("conflicting or unknown body framing is a 400", "[http][parser]") {
  CHECK(feed_all("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            .error_status == 400);
  CHECK(feed_all("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
            .error_status == 400);
  CHECK(feed_all("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc")
            .error_status == 400);
}

TEST_CASE("an unknown method is a 501", "[http][parser]") {
  auto out = feed_all("FROBNICATE / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(out.error_status == 501);
}

TEST_CASE("an unsupported HTTP version is a 505", "[http][parser]") {
  CHECK(feed_all("GET / HTTP/2.0\r\nHost: a\r\n\r\n").error_status == 505);
  CHECK(feed_all("GET / HTTP/0.9\r\nHost: a\r\n\r\n").error_status == 505);
}

TEST_CASE("a request line without an HTTP/d.d version is a 400", "[http][parser]") {
  CHECK(feed_all("GET / HTTX/1.1\r\nHost: a\r\n\r\n").error_status == 400);
  CHECK(feed_all("THIS IS NOT HTTP\r\n\r\n").error_status == 400);
}

TEST_CASE("errors are repeated and consume nothing more", "[http][parser]") {
  request_parser p{limits{}};
  auto r1 = p.feed("GET / HTTP/2.0\r\nHost: a\r\n\r\n");
  REQUIRE(r1.st == state::error);
  auto r2 = p.feed("more");
  CHECK(r2.st == state::error);
  CHECK(r2.status == r1.status);
  CHECK(r2.consumed == 0);
}

TEST_CASE("Expect: 100-continue pauses after the header block", "[http][parser][continue]") {
  request_parser p{limits{}};
  const std::string head =
      "POST /send/1 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  auto r = p.feed(head);
  REQUIRE(r.st == state::expect_continue);
  CHECK(r.status == 100);
  CHECK(r.consumed == head.size());
  CHECK(p.header_done());
  r = p.feed("da");
  CHECK(r.st == state::need_more);
  CHECK(r.consumed == 2);
  r = p.feed("ta");
  REQUIRE(r.st == state::complete);
  CHECK(p.take().body() == "data");
  CHECK(libactor::http::continue_response == "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST_CASE("Expect: 100-continue without a body or on HTTP/1.0 gets no 100",
          "[http][parser][continue]") {
  auto no_body = feed_all("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n");
  CHECK(no_body.continues == 0);
  CHECK(no_body.requests.size() == 1);
  auto old = feed_all(
      "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
  CHECK(old.continues == 0);
  CHECK(old.requests.size() == 1);
  auto chunked = feed_all(
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n"
      "1\r\nx\r\n0\r\n\r\n");
  CHECK(chunked.continues == 1);
  REQUIRE(chunked.requests.size() == 1);
  CHECK(chunked.requests[0].body() == "x");
}

TEST_CASE("Expect: 100-continue with a body over the limit is a 413, not a 100",
          "[http][parser][continue][limits]") {
  limits lim;
  lim.max_body = 3;
  auto out = feed_all(
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", lim);
  CHECK(out.continues == 0);
  CHECK(out.error_status == 413);
}

TEST_CASE("empty lines before a request line are skipped", "[http][parser]") {
  auto out = feed_in_steps("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 1);
  CHECK(out.error_status == 0);
  CHECK(out.requests.size() == 1);
}

TEST_CASE("a HEAD request is parsed without a body", "[http][parser]") {
  auto out = feed_all("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(out.requests.size() == 2);
  CHECK(out.requests[0].method() == "HEAD");
  CHECK(out.requests[1].path() == "/x");
}

TEST_CASE("a large body arriving in many reads is assembled intact", "[http][parser]") {
  std::string body;
  for (int i = 0; body.size() < 300 * 1024; ++i)
    body += std::to_string(i) + ',';
  const std::string in = "POST /send/1 HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body;
  auto out = feed_in_steps(in, 4093);
  REQUIRE(out.error_status == 0);
  REQUIRE(out.requests.size() == 1);
  CHECK(out.requests[0].body() == body);
}
