// The listener over real sockets: binding, the connection limit, running out
// of file descriptors, and the graceful stop.
#include "libactor/net/listener.hpp"

#include <atomic>
#include <mutex>
#include <system_error>
#include <vector>

#include <catch2/catch.hpp>

#include "libactor/node.hpp"
#include "support/child_process.hpp"
#include "support/event_log.hpp"
#include "support/log_capture.hpp"
#include "support/test_client.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;

namespace {

/// Holds accepted connections until told to drop them.
struct holder {
  std::mutex mtx;
  std::vector<net::connection_ptr> conns;

  net::listener::accept_handler handler() {
    return [this](net::connection_ptr c) {
      std::lock_guard<std::mutex> guard{mtx};
      conns.push_back(std::move(c));
    };
  }
  std::size_t size() {
    std::lock_guard<std::mutex> guard{mtx};
    return conns.size();
  }
  void drop_one() {
    std::lock_guard<std::mutex> guard{mtx};
    conns.pop_back();
  }
  void drop_all() {
    std::lock_guard<std::mutex> guard{mtx};
    conns.clear();
  }
};

std::size_t field(const std::string& line, const std::string& key) {
  auto pos = line.find(key + "=");
  return pos == std::string::npos ? 0 : std::stoul(line.substr(pos + key.size() + 1));
}

} // namespace

TEST_CASE("a listener binds a free port for port 0 and refuses a bad address clearly", "[net][listener]") {
  node n{test::small_node()};
  holder h; // after the node: connections must not outlive it
  net::listener l{n, {}, h.handler()};
  CHECK(l.port() != 0);
  test::test_client c{l.port()};
  CHECK(test::eventually([&] { return h.size() == 1; }));
  net::listener_options bad;
  bad.address = "not-an-address";
  try {
    net::listener l2{n, bad, h.handler()};
    FAIL("a bad address must throw");
  } catch (const std::system_error& e) {
    CHECK(std::string{e.what()}.find("not-an-address") != std::string::npos);
  }
  net::listener_options taken;
  taken.port = l.port();
  CHECK_THROWS_AS((net::listener{n, taken, h.handler()}), std::system_error);
}

TEST_CASE("at max_connections the listener stops accepting and resumes when one closes",
          "[net][listener]") {
  auto cfg = test::small_node();
  cfg.io_threads = 1; // one acceptor: the soft limit is then exact
  node n{cfg};
  holder h; // after the node: connections must not outlive it
  net::listener_options opts;
  opts.max_connections = 2;
  net::listener l{n, opts, h.handler()};
  test::test_client a{l.port()};
  test::test_client b{l.port()};
  test::test_client c{l.port()}; // connects (kernel backlog) but is not accepted
  REQUIRE(test::eventually([&] { return h.size() == 2; }));
  CHECK(l.stats().active == 2);
  CHECK(l.stats().paused >= 1);
  // No third accept happens while the limit holds.
  test::test_client probe{l.port()};
  CHECK_FALSE(test::eventually([&] { return l.stats().accepted > 2; }, 200ms));
  h.drop_one();
  CHECK(test::eventually([&] { return l.stats().accepted == 3; }));
  CHECK(l.stats().active == 2);
}

TEST_CASE("out of file descriptors the listener backs off, logs once, and recovers", "[net][listener][emfile]") {
  test::child_process child{{LIBACTOR_EMFILE_LISTENER, "40"}};
  auto first = child.read_line();
  REQUIRE(first);
  REQUIRE(first->rfind("port=", 0) == 0);
  auto port = static_cast<std::uint16_t>(std::stoul(first->substr(5)));
  std::vector<std::unique_ptr<test::test_client>> clients;
  for (int i = 0; i < 60; ++i)
    clients.push_back(std::make_unique<test::test_client>(port));
  std::string stats;
  REQUIRE(test::eventually([&] {
    stats = child.ask("stats").value_or("");
    return field(stats, "fd_exhausted") > 0;
  }));
  auto held = field(stats, "active");
  CHECK(held < 60);
  // Exhaustion lasts on: the backoff keeps failures to a handful, where a
  // spinning accept loop would fail thousands of times.
  auto before = field(child.ask("stats").value_or(""), "fd_exhausted");
  REQUIRE(child.ask("release") == std::optional<std::string>{"released"});
  REQUIRE(test::eventually([&] {
    stats = child.ask("stats").value_or("");
    return field(stats, "accepted") == 60;
  }));
  CHECK(field(stats, "fd_exhausted") < before + 20);
  child.write_line("quit");
  CHECK(child.wait_exit() == std::optional<int>{0});
}

TEST_CASE("stop asks connections to drain and cuts those still open at the timeout",
          "[net][listener][drain]") {
  node n{test::small_node()};
  holder h; // after the node: connections must not outlive it
  std::atomic<int> asked{0};
  net::listener l{n, {}, h.handler(), [&](const net::connection_ptr&) {
                    // The first connection's owner closes when asked; the
                    // second never does.
                    if (asked.fetch_add(1) == 0)
                      h.drop_one();
                  }};
  test::test_client a{l.port()};
  test::test_client b{l.port()};
  REQUIRE(test::eventually([&] { return h.size() == 2; }));
  auto report = l.stop(200ms);
  CHECK(asked == 2);
  CHECK(report.drained == 1);
  CHECK(report.cut == 1);
  // The cut connection is shut down, so its client sees the close.
  CHECK((a.wait_closed() || b.wait_closed()));
  h.drop_all();
  CHECK_THROWS(test::test_client{l.port()});
}
