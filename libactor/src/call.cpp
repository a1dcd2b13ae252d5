#include "libactor/call.hpp"

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>

#include "internal/error_category.hpp"

namespace libactor {

namespace detail {

void cancel_request_timeout(process_actor* self, caf::message_id mid) {
  // Only a call with a timeout put an entry in the clock (had_timeouts):
  // the others skip the clock's lock.
  if (self->had_timeouts())
    self->home_system().clock().cancel_request_timeout(self, mid);
}

} // namespace detail

std::string to_string(call_error::kind x) {
  switch (x) {
    case call_error::kind::timeout:
      return "timeout";
    case call_error::kind::callee_down:
      return "callee_down";
    case call_error::kind::no_process:
      return "no_process";
    case call_error::kind::would_block:
      return "would_block";
    case call_error::kind::rejected:
      break;
  }
  return "rejected";
}

std::string call_error::message() const {
  return fmt::format("call failed: {}: {}", to_string(kind_), detail_);
}

call_error call_error::from_caf(const caf::error& x, const pid& callee) {
  if (x.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(x.code())) {
      case caf::sec::request_timeout:
        return {kind::timeout, {}, fmt::format("no reply from {} in time", callee)};
      case caf::sec::request_receiver_down:
        return {kind::callee_down, exit_reason::error("unknown"),
                fmt::format("callee {} is not running", callee)};
      case caf::sec::invalid_argument:
        if (!callee)
          return {kind::no_process, {}, "the pid names no process"};
        break;
      case caf::sec::unexpected_message:
        return {kind::rejected, {}, fmt::format("{} has no handler for the message", callee)};
      default:
        break;
    }
  }
  if (detail::error_text(x)) {
    // The callee crashed while handling this very request.
    auto reason = exit_reason::from_caf(x);
    return {kind::callee_down, reason, fmt::format("callee {} exited: {}", callee, reason)};
  }
  return {kind::rejected, {}, fmt::format("{} replied with error {}", callee, caf::to_string(x))};
}

} // namespace libactor
