// What a client is told when it cannot be replayed exactly (replay_reset.hpp):
// the wire names of the reasons and the JSON of an SSE reset event.
#include "libactor/replay_reset.hpp"

#include <string>

#include <catch2/catch.hpp>

using namespace libactor;

TEST_CASE("reset reasons have their wire names", "[message_id]") {
  CHECK(to_string(reset_reason::window_exceeded) == "window_exceeded");
  CHECK(to_string(reset_reason::history_reset) == "history_reset");
  CHECK(to_string(reset_reason::unknown_id) == "unknown_id");
  CHECK(to_string(reset_reason::poison_skipped) == "poison_skipped");
  CHECK(to_string(reset_reason::slow_consumer) == "slow_consumer");
}

TEST_CASE("a reset's JSON names the reason and the count lost, null when unknown", "[message_id]") {
  CHECK(reset_json(replay_reset{reset_reason::window_exceeded, 6})
        == R"({"reason": "window_exceeded", "lost": 6})");
  CHECK(reset_json(replay_reset{reset_reason::history_reset, std::nullopt})
        == R"({"reason": "history_reset", "lost": null})");
  CHECK(reset_json(replay_reset{reset_reason::slow_consumer, 0})
        == R"({"reason": "slow_consumer", "lost": 0})");
}
