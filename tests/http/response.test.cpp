#include "libactor/http/response.hpp"

#include <catch2/catch.hpp>

using libactor::http::chunk;
using libactor::http::chunked_head;
using libactor::http::error_response;
using libactor::http::last_chunk;
using libactor::http::request_info;
using libactor::http::response;
using libactor::http::serialize;

namespace {

bool contains(const std::string& s, std::string_view what) {
  return s.find(what) != std::string::npos;
}

std::string body_of(const std::string& s) {
  auto end = s.find("\r\n\r\n");
  return end == std::string::npos ? std::string{} : s.substr(end + 4);
}

std::string head_of(const std::string& s) {
  return s.substr(0, s.find("\r\n\r\n") + 2);
}

} // namespace

TEST_CASE("a response has a status line, Content-Length, Server, Date and the body",
          "[http][response]") {
  auto out = serialize(libactor::http::text(200, "hello\n"), request_info{});
  CHECK(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(contains(out, "\r\nContent-Length: 6\r\n"));
  CHECK(contains(out, "\r\nServer: libactor\r\n"));
  CHECK(contains(out, "\r\nDate: "));
  CHECK(contains(out, " GMT\r\n"));
  CHECK(contains(out, "\r\nContent-Type: text/plain"));
  CHECK_FALSE(contains(out, "Connection:"));
  CHECK(body_of(out) == "hello\n");
}

TEST_CASE("a response to a closing connection says Connection: close", "[http][response]") {
  auto out = serialize(response{}, request_info{11, false, false});
  CHECK(contains(head_of(out), "\r\nConnection: close\r\n"));
  CHECK(contains(out, "\r\nContent-Length: 0\r\n"));
}

TEST_CASE("a persistent HTTP/1.0 response says Connection: keep-alive", "[http][response]") {
  auto out = serialize(response{}, request_info{10, false, true});
  CHECK(contains(out, "\r\nConnection: keep-alive\r\n"));
}

TEST_CASE("a HEAD response has the body's Content-Length but no body", "[http][response]") {
  auto out = serialize(libactor::http::text(200, "hello\n"), request_info{11, true, true});
  CHECK(contains(out, "\r\nContent-Length: 6\r\n"));
  CHECK(body_of(out).empty());
  CHECK(out.size() >= 4);
  CHECK(out.substr(out.size() - 4) == "\r\n\r\n");
}

TEST_CASE("info_of reads version, HEAD and keep-alive from a request", "[http][response]") {
  libactor::http::request head("HEAD", "/", 10, {{"Connection", "keep-alive"}}, "");
  auto info = libactor::http::info_of(head);
  CHECK(info.version == 10);
  CHECK(info.head);
  CHECK(info.keep_alive);
}

TEST_CASE("204 and 304 responses carry neither body nor Content-Length", "[http][response]") {
  response r;
  r.status = 204;
  r.body = "ignored";
  auto out = serialize(r, request_info{});
  CHECK(out.rfind("HTTP/1.1 204 No Content\r\n", 0) == 0);
  CHECK_FALSE(contains(out, "Content-Length"));
  CHECK(body_of(out).empty());
  r.status = 304;
  CHECK_FALSE(contains(serialize(r, request_info{}), "Content-Length"));
}

TEST_CASE("framing fields set by a handler are ignored and values cannot split the response",
          "[http][response]") {
  response r;
  r.body = "abc";
  r.headers = {{"Content-Length", "999"},
               {"Transfer-Encoding", "chunked"},
               {"Connection", "keep-alive"},
               {"X-Evil", "a\r\nSet-Cookie: x=1"},
               {"Bad Name", "v"},
               {"X-Ok", "fine"}};
  auto out = serialize(r, request_info{11, false, false});
  CHECK(contains(out, "\r\nContent-Length: 3\r\n"));
  CHECK_FALSE(contains(out, "999"));
  CHECK_FALSE(contains(out, "chunked"));
  CHECK_FALSE(contains(out, "keep-alive"));
  CHECK(contains(out, "\r\nX-Evil: aSet-Cookie: x=1\r\n"));
  CHECK_FALSE(contains(out, "\r\nSet-Cookie"));
  CHECK_FALSE(contains(out, "Bad Name"));
  CHECK(contains(out, "\r\nX-Ok: fine\r\n"));
}

TEST_CASE("set_header replaces a field of the same name", "[http][response]") {
  response r;
  r.set_header("Content-Type", "a").set_header("content-type", "b");
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0].second == "b");
  r.set_header("Server", "mine");
  auto out = serialize(r, request_info{});
  CHECK(contains(out, "\r\nServer: mine\r\n"));
  CHECK_FALSE(contains(out, "libactor"));
}

TEST_CASE("status lines use Beast's reason phrases", "[http][response]") {
  CHECK(libactor::http::reason_phrase(404) == "Not Found");
  CHECK(libactor::http::reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(libactor::http::reason_phrase(799) == "Unknown");
  response r;
  r.status = 42;
  CHECK(serialize(r, request_info{}).rfind("HTTP/1.1 500 Internal Server Error\r\n", 0) == 0);
}

TEST_CASE("error responses name the problem and close the connection", "[http][response]") {
  for (unsigned status : {400u, 413u, 414u, 431u, 501u, 505u}) {
    auto out = error_response(status, "because");
    INFO(out);
    CHECK(out.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0) == 0);
    CHECK(contains(out, "\r\nConnection: close\r\n"));
    CHECK(contains(out, "\r\nContent-Type: text/plain"));
    CHECK(body_of(out) ==
          std::to_string(status) + " " + std::string(libactor::http::reason_phrase(status)) +
              ": because\n");
    CHECK(contains(out, "\r\nContent-Length: " + std::to_string(body_of(out).size()) + "\r\n"));
  }
}

TEST_CASE("a 405 error response carries the Allow field", "[http][response]") {
  auto out = error_response(405, "", "GET, HEAD, POST");
  CHECK(out.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
  CHECK(contains(out, "\r\nAllow: GET, HEAD, POST\r\n"));
  CHECK(body_of(out) == "405 Method Not Allowed\n");
  auto kept = serialize(libactor::http::error(404, "no route"), request_info{});
  CHECK_FALSE(contains(kept, "Connection:"));
  CHECK(body_of(kept) == "404 Not Found: no route\n");
}

TEST_CASE("a chunked head announces chunked framing and no caching", "[http][response][chunked]") {
  auto head = chunked_head(200, "text/plain", request_info{});
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(contains(head, "\r\nTransfer-Encoding: chunked\r\n"));
  CHECK(contains(head, "\r\nCache-Control: no-cache\r\n"));
  CHECK(contains(head, "\r\nContent-Type: text/plain\r\n"));
  CHECK_FALSE(contains(head, "Content-Length"));
  CHECK_FALSE(contains(head, "Connection"));
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  CHECK(contains(chunked_head(200, "text/plain", request_info{11, false, false}),
                 "\r\nConnection: close\r\n"));
}

TEST_CASE("a chunked head for HTTP/1.0 streams until close instead", "[http][response][chunked]") {
  request_info old{10, false, true};
  CHECK_FALSE(libactor::http::uses_chunked(old));
  auto head = chunked_head(200, "text/plain", old);
  CHECK_FALSE(contains(head, "Transfer-Encoding"));
  CHECK(contains(head, "\r\nConnection: close\r\n"));
}

TEST_CASE("chunks are framed with a hexadecimal size", "[http][response][chunked]") {
  CHECK(chunk("welcome 42\n") == "b\r\nwelcome 42\n\r\n");
  CHECK(chunk(std::string(255, 'x')).rfind("ff\r\n", 0) == 0);
  CHECK(chunk(std::string(4096, 'x')).rfind("1000\r\n", 0) == 0);
  CHECK(chunk("").empty());
  CHECK(last_chunk() == "0\r\n\r\n");
}
