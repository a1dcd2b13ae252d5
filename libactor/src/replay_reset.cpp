#include "libactor/replay_reset.hpp"

namespace libactor {

std::string_view to_string(reset_reason r) noexcept {
  switch (r) {
    case reset_reason::window_exceeded:
      return "window_exceeded";
    case reset_reason::history_reset:
      return "history_reset";
    case reset_reason::unknown_id:
      return "unknown_id";
    case reset_reason::poison_skipped:
      return "poison_skipped";
    case reset_reason::slow_consumer:
      return "slow_consumer";
  }
  return "unknown_id";
}

std::string reset_json(const replay_reset& r) {
  std::string out{R"({"reason": ")"};
  out.append(to_string(r.reason));
  out.append(R"(", "lost": )");
  out.append(r.lost ? std::to_string(*r.lost) : std::string{"null"});
  out.push_back('}');
  return out;
}

} // namespace libactor
