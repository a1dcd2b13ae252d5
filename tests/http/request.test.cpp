#include "libactor/http/request.hpp"

#include <catch2/catch.hpp>

#include "http/feed.hpp"

using libactor::http::header_list;
using libactor::http::request;
using libactor::http::test::feed_all;

namespace {
request make(unsigned version, header_list headers) {
  return request("GET", "/", version, std::move(headers), "");
}
} // namespace

TEST_CASE("HTTP/1.1 keeps the connection alive unless Connection: close", "[http][request]") {
  CHECK(make(11, {}).keep_alive());
  CHECK_FALSE(make(11, {{"Connection", "close"}}).keep_alive());
  CHECK_FALSE(make(11, {{"connection", "Upgrade, CLOSE"}}).keep_alive());
  CHECK_FALSE(make(11, {{"Connection", "keep-alive"}, {"Connection", "close"}}).keep_alive());
  CHECK(make(11, {{"Connection", "keep-alive"}}).keep_alive());
}

TEST_CASE("HTTP/1.0 keeps the connection alive only with Connection: keep-alive",
          "[http][request]") {
  CHECK_FALSE(make(10, {}).keep_alive());
  CHECK(make(10, {{"Connection", "Keep-Alive"}}).keep_alive());
  CHECK(make(10, {{"Connection", " foo ,keep-alive "}}).keep_alive());
  CHECK_FALSE(make(10, {{"Connection", "keep-alive, close"}}).keep_alive());
}

TEST_CASE("keep-alive is decided from parsed requests too", "[http][request]") {
  auto out = feed_all(
      "GET / HTTP/1.0\r\n\r\n"
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  REQUIRE(out.requests.size() == 3);
  CHECK(out.requests[0].version() == 10);
  CHECK_FALSE(out.requests[0].keep_alive());
  CHECK(out.requests[1].keep_alive());
  CHECK_FALSE(out.requests[2].keep_alive());
}

TEST_CASE("path and query are split at the first question mark", "[http][request]") {
  request r("GET", "/a/b?x=1&y=?2", 11, {}, "");
  CHECK(r.path() == "/a/b");
  CHECK(r.query() == "x=1&y=?2");
  request plain("GET", "/a", 11, {}, "");
  CHECK(plain.query().empty());
  request absolute("GET", "http://example.com/z?q", 11, {}, "");
  CHECK(absolute.path() == "/z");
  CHECK(absolute.query() == "q");
  request bare("GET", "http://example.com", 11, {}, "");
  CHECK(bare.path() == "/");
}

TEST_CASE("route parameters are set, replaced and read by name", "[http][request]") {
  request r;
  CHECK_FALSE(r.param("id"));
  r.set_param("id", "1");
  r.set_param("id", "2");
  r.set_param("x", "y");
  CHECK(r.param("id") == "2");
  CHECK(r.param("x") == "y");
}

TEST_CASE("header lookup returns the first field of a name", "[http][request]") {
  auto r = make(11, {{"X-A", "1"}, {"x-a", "2"}});
  CHECK(r.header("X-a") == "1");
  CHECK(r.headers().size() == 2);
}
