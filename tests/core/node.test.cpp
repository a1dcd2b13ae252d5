#include "libactor/node.hpp"

#include <filesystem>

#include <caf/atom.hpp>
#include <catch2/catch.hpp>

#include "libactor/process.hpp"
#include "support/event_log.hpp"
#include "support/log_capture.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;

namespace {

std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
    ++n;
  return n;
}

} // namespace

TEST_CASE("a node starts its threads and joins all of them on stop", "[node]") {
  auto before = thread_count();
  {
    auto cfg = test::small_node();
    cfg.io_threads = 3;
    node n{cfg};
    CHECK(n.running());
    CHECK(n.config().io_threads == 3);
    CHECK(thread_count() >= before + 3);
    n.stop();
    CHECK_FALSE(n.running());
    n.stop(); // idempotent
  }
  CHECK(thread_count() == before);
}

TEST_CASE("stop shuts every process down and reports how", "[node]") {
  test::event_log events;
  auto n = std::make_unique<node>(test::small_node());
  for (int i = 0; i < 100; ++i)
    spawn(*n, [&events](process& self, int) -> caf::behavior {
      self.trap_exit(true);
      self.on_exit([&events, self](const pid&, const exit_reason& why) mutable {
        events.push("exit:" + to_string(why));
        self.exit(why);
      });
      return {[](int) {}};
    }, i);
  CHECK(n->process_count() == 100);
  n->stop();
  CHECK(n->process_count() == 0);
  auto seen = events.snapshot();
  CHECK(seen.size() == 100);
  CHECK(std::all_of(seen.begin(), seen.end(), [](auto& x) { return x == "exit:shutdown"; }));
}

TEST_CASE("stop kills a process that ignores shutdown once the timeout passes", "[node]") {
  auto cfg = test::small_node();
  cfg.shutdown_timeout = 100ms;
  node n{cfg};
  test::log_capture cap{log::level::warning};
  auto stubborn = spawn(n, [](process& self, int) -> caf::behavior {
    self.trap_exit(true); // and ignores the signal
    return {[](int) {}};
  }, 0);
  n.stop();
  CHECK_FALSE(alive(stubborn));
  CHECK(cap.matching({"event=node_stop_killing", "processes=1"}).size() == 1);
}

TEST_CASE("node defaults give one I/O thread per core", "[node]") {
  node n{node_config{}};
  auto cores = std::max(1u, std::thread::hardware_concurrency());
  CHECK(n.config().io_threads == cores);
  CHECK(n.config().max_throughput == 64);
}
