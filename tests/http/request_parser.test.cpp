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

TEST_CASE("max_chunk_header bounds chunk lines and the trailer section however they arrive",
          "[http][parser][chunked][limits]") {
  limits lim;
  lim.max_chunk_header = 32;
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  // A chunk-size line of `len` bytes, CRLF included.
  auto line = [](std::size_t len) { return "1;x=" + std::string(len - 6, 'a') + "\r\n"; };
  // A trailer field line of `len` bytes, CRLF included.
  auto trailer = [](std::size_t len) { return "T: " + std::string(len - 5, 't') + "\r\n"; };
  for (std::size_t step : {0u, 1u, 7u}) {
    INFO("step " << step);
    // The first chunk's line alone.
    CHECK(feed_in_steps(head + line(32) + "x\r\n0\r\n\r\n", step, lim).error_status == 0);
    CHECK(feed_in_steps(head + line(33) + "x\r\n0\r\n\r\n", step, lim).error_status == 400);
    // A later line, with the CRLF that ends the chunk before it.
    const std::string first = head + "1\r\nx\r\n";
    CHECK(feed_in_steps(first + line(30) + "x\r\n0\r\n\r\n", step, lim).error_status == 0);
    CHECK(feed_in_steps(first + line(31) + "x\r\n0\r\n\r\n", step, lim).error_status == 400);
    // "\r\n0\r\n", the trailer section and its blank line.
    CHECK(feed_in_steps(first + "0\r\n" + trailer(25) + "\r\n", step, lim).error_status == 0);
    CHECK(feed_in_steps(first + "0\r\n" + trailer(26) + "\r\n", step, lim).error_status == 400);
  }
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

// -- hostile and malformed input: the status RFC 9110/9112 asks for --

namespace {

/// The status a request with these field lines gets ("" + CRLF ends the block).
unsigned status_of(const std::string& line, const std::string& fields, const limits& lim = {}) {
  return feed_all(line + "\r\n" + fields + "\r\n", lim).error_status;
}

} // namespace

TEST_CASE("Host must be a single field holding uri-host[:port]", "[http][parser][hostile]") {
  const std::string get = "GET / HTTP/1.1";
  SECTION("refused with 400 (RFC 9110 7.2)") {
    CHECK(status_of(get, "Host: a\r\nHost: a\r\n") == 400);
    CHECK(status_of(get, "Host: a\r\nX: 1\r\nHost: b\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.0", "Host: a\r\nHost: b\r\n") == 400);
    CHECK(status_of(get, "Host: user@example.com\r\n") == 400);
    CHECK(status_of(get, "Host: user:pw@example.com:80\r\n") == 400);
    CHECK(status_of(get, "Host: example.com/x\r\n") == 400);
    CHECK(status_of(get, "Host: a, b\r\n") == 400);
    CHECK(status_of(get, "Host: a,b\r\n") == 400);
    CHECK(status_of(get, "Host: a b\r\n") == 400);
    CHECK(status_of(get, "Host: :80\r\n") == 400);
    CHECK(status_of(get, "Host: example.com:8o\r\n") == 400);
    CHECK(status_of(get, "Host: [::1\r\n") == 400);
    CHECK(status_of(get, "Host: [::1]x\r\n") == 400);
    CHECK(status_of(get, "Host: [zz::1]\r\n") == 400);
    CHECK(status_of(get, "Host: ::1\r\n") == 400);
    CHECK(status_of(get, "Host: a%zz\r\n") == 400);
    CHECK(status_of(get, "") == 400); // HTTP/1.1 without Host
  }
  SECTION("accepted") {
    for (const char* host : {"example.com", "example.com:8080", "[::1]:80", "[::1]", "127.0.0.1",
                             "127.0.0.1:8080", "", "EXAMPLE.com:", "a-b_c~d.example",
                             "%65xample.com", "[2001:db8::192.0.2.1]", "[2001:db8:0:0:1:0:0:1]",
                             "[v1.fe80::a+en1]"}) {
      INFO("Host: " << host);
      auto out = feed_all(get + "\r\nHost: " + host + "\r\n\r\n");
      CHECK(out.error_status == 0);
      REQUIRE(out.requests.size() == 1);
      CHECK(out.requests[0].header("host") == std::string_view{host});
    }
  }
}

TEST_CASE("header limits are enforced while the header block is still arriving",
          "[http][parser][limits][hostile]") {
  const limits defaults;
  SECTION("a 100 KB field value, read 1 KB at a time, is a 431 once past max_header_bytes") {
    const std::string in =
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(100 * 1024, 'x') + "\r\n\r\n";
    auto out = feed_in_steps(in, 1024);
    CHECK(out.error_status == 431);
    CHECK(out.delivered <= defaults.max_header_bytes + 1024);
    CHECK(out.max_leftover <= defaults.max_header_bytes);
  }
  SECTION("10,000 field lines, read 1 KB at a time, are a 431 once past max_headers") {
    limits lim;
    lim.max_header_bytes = 1024 * 1024; // only the field count can stop them
    std::string in = "GET / HTTP/1.1\r\nHost: a\r\n";
    std::size_t crossed = 0; // where the first field line past the limit ends
    for (int i = 0; i < 10000; ++i) {
      in += "X-" + std::to_string(i) + ": v\r\n";
      if (crossed == 0 && static_cast<std::size_t>(i) + 2 > lim.max_headers)
        crossed = in.size();
    }
    in += "\r\n";
    auto out = feed_in_steps(in, 1024, lim);
    CHECK(out.error_status == 431);
    CHECK(out.delivered <= crossed + 1024);
  }
  SECTION("10,000 field lines under the default limits") {
    std::string in = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 10000; ++i)
      in += "X-" + std::to_string(i) + ": v\r\n";
    auto out = feed_in_steps(in + "\r\n", 1024);
    CHECK(out.error_status == 431);
    CHECK(out.delivered <= defaults.max_header_bytes + 1024);
  }
  SECTION("max_headers complete lines wait; one more is a 431 without the blank line") {
    limits lim;
    lim.max_headers = 3;
    request_parser p{lim};
    std::string pending = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n";
    auto r = p.feed(pending);
    REQUIRE(r.st == state::need_more);
    pending.erase(0, r.consumed);
    r = p.feed(pending + "C: 3\r\n");
    CHECK(r.st == state::error);
    CHECK(r.status == 431);
  }
  SECTION("max_header_bytes unconsumed bytes wait; one more byte is a 431") {
    limits lim;
    lim.max_header_bytes = 256;
    std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ";
    head.append(lim.max_header_bytes - head.size(), 'b');
    request_parser p{lim};
    auto r = p.feed(head);
    REQUIRE(r.st == state::need_more);
    head.erase(0, r.consumed);
    r = p.feed(head + "b");
    CHECK(r.st == state::error);
    CHECK(r.status == 431);
  }
}

TEST_CASE("a malformed request line is a 400, and 505 is for a well-formed other version",
          "[http][parser][hostile]") {
  CHECK(status_of("GET /a b HTTP/1.1", "Host: a\r\n") == 400);
  CHECK(feed_in_steps("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 1).error_status == 400);
  CHECK(feed_all("GET / HTTP/1.1\nHost: a\r\n\r\n").error_status == 400);
  CHECK(feed_all("GET / HTTP/1.1\nHost: a\n\n").error_status == 400);
  CHECK(feed_in_steps("GET / HTTP/1.1\nHost: a\n\n", 1).error_status == 400);
  CHECK(feed_all("GET / HTTP/1.1\rHost: a\r\n\r\n").error_status == 400);
  CHECK(status_of("GET  / HTTP/1.1", "Host: a\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1 ", "Host: a\r\n") == 400);
  CHECK(status_of("GET / HTTP/2.0 x", "Host: a\r\n") == 400);
  CHECK(status_of("GET / HTTP/12.0", "Host: a\r\n") == 400);
  CHECK(status_of("GET /\x01 HTTP/1.1", "Host: a\r\n") == 400);
  CHECK(status_of("GET / HTTP/2.0", "Host: a\r\n") == 505);
  CHECK(status_of("GET / HTTP/3.0", "Host: a\r\n") == 505);
  CHECK(feed_in_steps("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 1).error_status == 505);
  // Methods are case-sensitive tokens: a lowercase one is a valid but unknown method.
  CHECK(status_of("get / HTTP/1.1", "Host: a\r\n") == 501);
}

TEST_CASE("obs-fold and bare LF in the field section are a 400", "[http][parser][hostile]") {
  const std::string get = "GET / HTTP/1.1";
  CHECK(status_of(get, "Host: a\r\nX: 1\r\n 2\r\n") == 400);
  CHECK(status_of(get, "Host: a\r\nX: 1\r\n\t2\r\n") == 400);
  CHECK(status_of("POST / HTTP/1.1", "Host: a\r\nTransfer-Encoding:\r\n chunked\r\n") == 400);
  CHECK(feed_all("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
                 "0\r\n\r\n").error_status == 400);
  CHECK(status_of(get, " Host: a\r\n") == 400);
  CHECK(feed_all("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n").error_status == 400);
  CHECK(feed_all("GET / HTTP/1.1\r\nHost: a\r\n\n").error_status == 400);
  SECTION("a bare LF is refused when it arrives, without waiting for a blank CRLF line") {
    request_parser p{limits{}};
    std::string pending = "GET / HTTP/1.1\r\nHost: a\r\n";
    auto r = p.feed(pending);
    REQUIRE(r.st == state::need_more);
    pending.erase(0, r.consumed);
    r = p.feed(pending + "X: b\n");
    CHECK(r.st == state::error);
    CHECK(r.status == 400);
  }
  SECTION("a fold is refused when it arrives") {
    request_parser p{limits{}};
    std::string pending = "GET / HTTP/1.1\r\nHost: a\r\n";
    auto r = p.feed(pending);
    REQUIRE(r.st == state::need_more);
    pending.erase(0, r.consumed);
    r = p.feed(pending + " b");
    CHECK(r.st == state::error);
    CHECK(r.status == 400);
  }
}

TEST_CASE("Transfer-Encoding must be exactly chunked, once, and alone as framing",
          "[http][parser][hostile]") {
  const std::string post = "POST / HTTP/1.1";
  const std::string body = "3\r\nabc\r\n0\r\n\r\n";
  auto te = [&](const std::string& fields) {
    return feed_all(post + "\r\nHost: a\r\n" + fields + "\r\n" + body).error_status;
  };
  // RFC 9112 6.1: a transfer coding the server does not implement is a 501.
  CHECK(te("Transfer-Encoding: gzip, chunked\r\n") == 501);
  CHECK(te("Transfer-Encoding: deflate,chunked\r\n") == 501);
  CHECK(te("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n") == 501);
  // RFC 9112 6.3: chunked not last (or not there) leaves the length unknown: 400.
  CHECK(te("Transfer-Encoding: chunked, gzip\r\n") == 400);
  CHECK(te("Transfer-Encoding: gzip\r\n") == 400);
  CHECK(te("Transfer-Encoding: \r\n") == 400);
  // RFC 9112 6.1: chunked must not be applied more than once.
  CHECK(te("Transfer-Encoding: chunked, chunked\r\n") == 400);
  CHECK(te("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") == 400);
  // RFC 9112 6.3: both framings at once is a smuggling attempt.
  CHECK(te("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n") == 400);
  CHECK(te("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n") == 400);
  CHECK(te("Transfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n") == 400);
  CHECK(status_of(post, "Host: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n") == 400);
  CHECK(status_of(post, "Host: a\r\nContent-Length: 3, 4\r\n") == 400);
  // Still accepted: coding names are case-insensitive; repeated equal lengths.
  CHECK(te("Transfer-Encoding: Chunked\r\n") == 0);
  CHECK(feed_all(post + "\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
            .error_status == 0);
}

TEST_CASE("a chunked HTTP/1.0 request is a 400", "[http][parser][hostile]") {
  // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
  CHECK(feed_all("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
            .error_status == 400);
  CHECK(feed_all("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            .error_status == 400);
  CHECK(feed_all("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc").error_status == 0);
}

TEST_CASE("chunked trailer fields stay out of the headers and count against the header limits",
          "[http][parser][chunked][hostile]") {
  const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunks = "3\r\nabc\r\n0\r\n";
  SECTION("trailers are not merged into the request's headers") {
    for (std::size_t step : {0u, 1u, 5u}) {
      INFO("step " << step);
      auto out = feed_in_steps(
          head + chunks + "X-Trailer: t\r\nHost: evil\r\nConnection: close\r\n\r\n", step);
      REQUIRE(out.error_status == 0);
      REQUIRE(out.requests.size() == 1);
      const auto& req = out.requests[0];
      CHECK(req.body() == "abc");
      CHECK(req.headers().size() == 2);
      CHECK_FALSE(req.header("x-trailer"));
      CHECK(req.header("host") == "a");
      CHECK(req.keep_alive());
    }
  }
  SECTION("header and trailer fields together beyond max_headers is a 431") {
    limits lim;
    lim.max_headers = 3; // the header block uses 2
    CHECK(feed_all(head + chunks + "A: 1\r\n\r\n", lim).error_status == 0);
    CHECK(feed_all(head + chunks + "A: 1\r\nB: 2\r\n\r\n", lim).error_status == 431);
  }
  SECTION("header block and trailer section together beyond max_header_bytes is a 431") {
    const std::string trailer = "A: 1\r\n\r\n";
    limits lim;
    lim.max_header_bytes = head.size() + trailer.size();
    CHECK(feed_all(head + chunks + trailer, lim).error_status == 0);
    CHECK(feed_in_steps(head + chunks + trailer, 1, lim).error_status == 0);
    lim.max_header_bytes -= 1;
    CHECK(feed_all(head + chunks + trailer, lim).error_status == 431);
    CHECK(feed_in_steps(head + chunks + trailer, 1, lim).error_status == 431);
  }
  SECTION("a folded trailer field is a 400, as in the header block") {
    CHECK(feed_all(head + chunks + "A: 1\r\n 2\r\n\r\n").error_status == 400);
  }
}

TEST_CASE("bad field names and values are a 400 as soon as their line arrives",
          "[http][parser][hostile]") {
  const std::string first = "GET / HTTP/1.1\r\nHost: a\r\n";
  using namespace std::string_literals; // "...\0..."s keeps the NUL
  for (const std::string& bad : {"Host : a\r\n"s, "Host\t: a\r\n"s, "X(y): 1\r\n"s, "X@y: 1\r\n"s,
                                 "\"X\": 1\r\n"s, ": 1\r\n"s, "X: a\0b\r\n"s, "X: a\rb\r\n"s,
                                 "X: a\x7f\r\n"s, "X: a\x01\r\n"s}) {
    INFO("field line: " << bad);
    CHECK(feed_all(first + bad + "\r\n").error_status == 400);
    request_parser p{limits{}};
    std::string pending = first;
    auto r = p.feed(pending);
    REQUIRE(r.st == state::need_more);
    pending.erase(0, r.consumed);
    r = p.feed(pending + bad);
    CHECK(r.st == state::error);
    CHECK(r.status == 400);
  }
}
