// White-box: the node's I/O threads outlive an exception thrown by a handler.
#include "internal/io_pool.hpp"

#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/post.hpp>
#include <caf/atom.hpp>
#include <catch2/catch.hpp>

#include "internal/node_impl.hpp"
#include "libactor/process.hpp"
#include "support/event_log.hpp"
#include "support/log_capture.hpp"
#include "support/test_node.hpp"

using namespace libactor;

namespace {
using ping_atom = caf::atom_constant<caf::atom("ping")>;
} // namespace

TEST_CASE("an exception escaping an I/O handler is logged and the thread runs on",
          "[io_pool][exit]") {
  test::log_capture cap{log::level::warning};
  test::event_log log;
  node n{test::small_node()};
  auto& io = *n.internals().io;
  std::promise<std::thread::id> thrower;
  std::promise<std::thread::id> after;
  // Both on thread 0, in order: the second runs only if that thread survived
  // the first (an uncaught one would have terminated the test binary).
  boost::asio::post(io.context(0), [&] {
    thrower.set_value(std::this_thread::get_id());
    throw std::runtime_error("handler blew up");
  });
  boost::asio::post(io.context(0), [&] { after.set_value(std::this_thread::get_id()); });
  auto a = thrower.get_future();
  auto b = after.get_future();
  REQUIRE(b.wait_for(std::chrono::seconds{5}) == std::future_status::ready);
  CHECK(a.get() == b.get());
  CHECK(io.handler_exceptions() == 1);
  CHECK(cap.matching({"event=io_handler_exception", "handler blew up"}).size() == 1);
  // Processes still run on that thread.
  detail::io_pool::placement here{io, 0};
  auto p = spawn(n, [&log](process&, int) -> caf::behavior {
    return {[&log](ping_atom) { log.push("ping"); }};
  }, 0);
  send(p, ping_atom::value);
  CHECK(log.wait_for("ping"));
}
