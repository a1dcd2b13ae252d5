#include "libactor/exit_reason.hpp"

#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <catch2/catch.hpp>

using libactor::exit_reason;

TEST_CASE("exit reasons survive the round trip through CAF", "[exit_reason]") {
  for (auto& x : {exit_reason::normal(), exit_reason::shutdown(), exit_reason::kill(),
                  exit_reason::killed(),
                  exit_reason::shutdown("peer_closed"),
                  exit_reason::error("disk full"), exit_reason::error("")})
    CHECK(exit_reason::from_caf(x.to_caf()) == x);
}

TEST_CASE("exit reasons print as OTP does and classify as OTP does", "[exit_reason]") {
  CHECK(to_string(exit_reason::normal()) == "normal");
  CHECK(to_string(exit_reason::shutdown()) == "shutdown");
  CHECK(to_string(exit_reason::kill()) == "kill");
  CHECK(to_string(exit_reason::killed()) == "killed");
  CHECK(to_string(exit_reason::error("boom")) == "error(boom)");
  CHECK_FALSE(exit_reason::normal().abnormal());
  CHECK_FALSE(exit_reason::shutdown().abnormal());
  CHECK_FALSE(exit_reason::shutdown("peer_closed").abnormal());
  CHECK(to_string(exit_reason::shutdown("peer_closed")) == "shutdown(peer_closed)");
  CHECK(exit_reason::kill().abnormal());
  CHECK(exit_reason::killed().abnormal());
  CHECK(exit_reason::error("x").abnormal());
  CHECK(fmt::format("{}", exit_reason::error("y")) == "error(y)");
}

TEST_CASE("CAF's other exit reasons and errors become error reasons", "[exit_reason]") {
  auto unreachable = exit_reason::from_caf(caf::exit_reason::unreachable);
  CHECK(unreachable.what() == exit_reason::kind::error);
  CHECK(unreachable.message() == "unreachable");
  auto sys = exit_reason::from_caf(caf::make_error(caf::sec::runtime_error));
  CHECK(sys.what() == exit_reason::kind::error);
  CHECK_FALSE(sys.message().empty());
  CHECK(exit_reason::from_caf(caf::error{}) == exit_reason::normal());
}

TEST_CASE("kill (the untrappable signal) and killed (the reason it leaves) stay apart through CAF",
          "[exit_reason]") {
  CHECK(exit_reason::kill() != exit_reason::killed());
  CHECK(exit_reason::killed().what() == exit_reason::kind::killed);
  // Only the signal is CAF's `kill`, which CAF acts on before any handler.
  CHECK(exit_reason::kill().to_caf() == caf::exit_reason::kill);
  CHECK_FALSE(exit_reason::killed().to_caf() == caf::exit_reason::kill);
  CHECK(exit_reason::from_caf(caf::exit_reason::kill) == exit_reason::kill());
  CHECK(exit_reason::from_caf(exit_reason::killed().to_caf()) == exit_reason::killed());
}
