#include "libactor/http/router.hpp"

#include <string>

#include <catch2/catch.hpp>

using libactor::http::percent_decode;
using libactor::http::request;
using libactor::http::router;

namespace {

router<std::string> comet_routes() {
  router<std::string> r;
  r.add("GET", "/hello", "hello")
      .add("GET", "/stream/:id", "stream")
      .add("GET", "/events/:id", "events")
      .add("POST", "/send/:id", "send")
      .add("POST", "/broadcast", "broadcast")
      .add("GET", "/", "root")
      .add("GET", "/a/:x/b/:y", "two");
  return r;
}

} // namespace

TEST_CASE("a literal route matches its exact path and method", "[http][router]") {
  auto r = comet_routes();
  auto m = r.match("GET", "/hello");
  REQUIRE(m.found());
  REQUIRE(m.handler);
  CHECK(*m.handler == "hello");
  CHECK(m.params.empty());
  CHECK(*r.match("GET", "/").handler == "root");
}

TEST_CASE("a parameter segment binds the path segment to its name", "[http][router]") {
  auto r = comet_routes();
  auto m = r.match("GET", "/stream/42");
  REQUIRE(m.status == 200);
  CHECK(*m.handler == "stream");
  REQUIRE(m.params.size() == 1);
  CHECK(m.params[0] == std::pair<std::string, std::string>{"id", "42"});
  auto two = r.match("GET", "/a/1/b/2");
  REQUIRE(two.found());
  request req;
  two.apply(req);
  CHECK(req.param("x") == "1");
  CHECK(req.param("y") == "2");
}

TEST_CASE("trailing segments must match exactly", "[http][router]") {
  auto r = comet_routes();
  CHECK(r.match("GET", "/hello/").status == 404);
  CHECK(r.match("GET", "/hello/x").status == 404);
  CHECK(r.match("GET", "/stream").status == 404);
  CHECK(r.match("GET", "/stream/").status == 404);
  CHECK(r.match("GET", "/stream/1/2").status == 404);
  CHECK(r.match("GET", "/nope").status == 404);
  CHECK(r.match("GET", "/hello").found());
}

TEST_CASE("a path known for other methods is a 405 with the Allow list", "[http][router]") {
  router<int> r;
  r.add("GET", "/x/:id", 1).add("POST", "/x/:id", 2).add("DELETE", "/y", 3);
  auto m = r.match("PUT", "/x/1");
  CHECK(m.status == 405);
  CHECK(m.handler == nullptr);
  CHECK(m.allow == "GET, HEAD, POST");
  CHECK(r.match("GET", "/y").allow == "DELETE");
  CHECK(comet_routes().match("GET", "/send/1").allow == "POST");
}

TEST_CASE("HEAD is answered by the GET route unless a HEAD route exists", "[http][router]") {
  router<int> r;
  r.add("GET", "/a", 1).add("GET", "/b", 2).add("HEAD", "/b", 3);
  auto a = r.match("HEAD", "/a");
  REQUIRE(a.found());
  CHECK(*a.handler == 1);
  auto b = r.match("HEAD", "/b");
  REQUIRE(b.found());
  CHECK(*b.handler == 3);
  CHECK(r.match("POST", "/b").allow == "GET, HEAD");
}

TEST_CASE("route parameters are percent-decoded", "[http][router]") {
  auto r = comet_routes();
  auto m = r.match("GET", "/stream/user%20one%2Fx+y");
  REQUIRE(m.found());
  CHECK(m.params[0].second == "user one/x+y");
}

TEST_CASE("a bad percent escape in a parameter is a 400", "[http][router]") {
  auto r = comet_routes();
  CHECK(r.match("GET", "/stream/%zz").status == 400);
  CHECK(r.match("GET", "/stream/abc%4").status == 400);
  CHECK(r.match("GET", "/stream/abc%").status == 400);
  CHECK(r.match("GET", "/stream/abc%").handler == nullptr);
}

TEST_CASE("percent_decode accepts valid escapes and rejects truncated ones", "[http][router]") {
  CHECK(percent_decode("a%41%62c") == std::string("aAbc"));
  CHECK(percent_decode("") == std::string());
  CHECK(percent_decode("%00").value().size() == 1);
  CHECK_FALSE(percent_decode("%"));
  CHECK_FALSE(percent_decode("%1"));
  CHECK_FALSE(percent_decode("%g1"));
}

TEST_CASE("the first matching route wins", "[http][router]") {
  router<int> r;
  r.add("GET", "/u/me", 1).add("GET", "/u/:id", 2);
  CHECK(*r.match("GET", "/u/me").handler == 1);
  CHECK(*r.match("GET", "/u/you").handler == 2);
}

TEST_CASE("bad route patterns are refused when added", "[http][router]") {
  router<int> r;
  CHECK_THROWS_AS(r.add("GET", "hello", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "", 1), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/:", 1), std::invalid_argument);
  CHECK(r.size() == 0);
}
