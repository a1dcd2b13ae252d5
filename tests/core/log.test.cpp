#include "libactor/log.hpp"

#include <caf/atom.hpp>
#include <catch2/catch.hpp>

#include "libactor/process.hpp"
#include "support/event_log.hpp"
#include "support/log_capture.hpp"
#include "support/test_node.hpp"

using namespace libactor;
using namespace std::chrono_literals;

TEST_CASE("a log line is one event in key=value form with quoting where needed", "[log]") {
  test::log_capture cap{log::level::debug};
  log::info("listener_started", log::kv("port", 8080), log::kv("address", "127.0.0.1"),
            log::kv("note", "two words"), log::kv("quote", "say \"hi\""), log::kv("empty", ""));
  auto lines = cap.lines();
  REQUIRE(lines.size() == 1);
  auto& line = lines.front();
  CHECK(line.rfind("ts=", 0) == 0);
  CHECK(line.find(" level=info event=listener_started port=8080 address=127.0.0.1 "
                  "note=\"two words\" quote=\"say \\\"hi\\\"\" empty=\"\"")
        != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("events below the level are discarded", "[log]") {
  test::log_capture cap{log::level::warning};
  log::debug("d");
  log::info("i");
  log::warning("w");
  log::error("e");
  auto lines = cap.lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find("event=w") != std::string::npos);
  CHECK(lines[1].find("event=e") != std::string::npos);
}

TEST_CASE("log levels parse from their names and nothing else", "[log]") {
  CHECK(log::parse_level("debug") == log::level::debug);
  CHECK(log::parse_level("warning") == log::level::warning);
  CHECK(log::parse_level("none") == log::level::none);
  CHECK_FALSE(log::parse_level("verbose").has_value());
  CHECK_FALSE(log::parse_level("").has_value());
}

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

caf::behavior crasher(process& self, int) {
  return {
    [](crash_atom) { throw std::runtime_error("disk on fire"); },
    [self](stop_atom) mutable { self.exit(); },
  };
}

} // namespace

TEST_CASE("an abnormal exit writes a crash report naming process, parent and reason",
          "[log][crash]") {
  test::event_log events;
  node n{test::small_node()};
  test::log_capture cap{log::level::info};
  auto parent = spawn(n, spawn_options{"parent"}, [&events](process& self, int) -> caf::behavior {
    self.trap_exit(true);
    self.on_exit([&events](const pid&, const exit_reason&) { events.push("child-exited"); });
    auto child = self.spawn_with(detail::spawn_mode::link, spawn_options{"session"}, crasher, 0);
    events.push("child:" + to_string(child));
    self.send(child, crash_atom::value);
    return {[](int) {}};
  }, 0);
  REQUIRE(events.wait_for("child-exited"));
  auto child = events.snapshot().front().substr(6);
  auto reports = cap.matching({"event=crash_report"});
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].find("level=error") != std::string::npos);
  CHECK(reports[0].find("process=" + child) != std::string::npos);
  CHECK(reports[0].find("name=session") != std::string::npos);
  CHECK(reports[0].find("parent=" + to_string(parent)) != std::string::npos);
  CHECK(reports[0].find("reason=\"error(disk on fire)\"") != std::string::npos);
}

TEST_CASE("normal and shutdown exits write no crash report", "[log][crash]") {
  node n{test::small_node()};
  test::log_capture cap{log::level::info};
  auto a = spawn(n, crasher, 0);
  auto b = spawn(n, crasher, 0);
  send(a, stop_atom::value);
  exit(b, exit_reason::shutdown());
  REQUIRE(test::eventually([&] { return !alive(a) && !alive(b); }));
  n.stop();
  CHECK(cap.matching({"event=crash_report"}).empty());
}
