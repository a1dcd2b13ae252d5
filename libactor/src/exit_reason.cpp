#include "libactor/exit_reason.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message.hpp>

#include "internal/error_category.hpp"

namespace libactor {

caf::error exit_reason::to_caf() const {
  switch (kind_) {
    case kind::normal:
      return caf::exit_reason::normal;
    case kind::shutdown:
      if (!message_.empty())
        return detail::make_error(detail::errc::shutdown_detail, message_);
      return caf::exit_reason::user_shutdown;
    case kind::kill:
      return caf::exit_reason::kill;
    case kind::killed:
      // Not CAF's `kill`, which no process can trap.
      return detail::make_error(detail::errc::killed, "killed");
    case kind::error:
      break;
  }
  return detail::make_error(detail::errc::process_error, message_);
}

exit_reason exit_reason::from_caf(const caf::error& x) {
  if (!x)
    return normal();
  if (x.category() == caf::atom("exit")) {
    switch (static_cast<caf::exit_reason>(x.code())) {
      case caf::exit_reason::normal:
        return normal();
      case caf::exit_reason::user_shutdown:
        return shutdown();
      case caf::exit_reason::kill:
        return kill();
      default:
        return error(caf::to_string(static_cast<caf::exit_reason>(x.code())));
    }
  }
  if (auto text = detail::error_text(x))
    return error(std::move(*text));
  if (detail::error_text(x, detail::errc::killed))
    return killed();
  if (auto detail_text = detail::error_text(x, detail::errc::shutdown_detail))
    return shutdown(std::move(*detail_text));
  return error(caf::to_string(x));
}

std::string to_string(const exit_reason& x) {
  switch (x.what()) {
    case exit_reason::kind::normal:
      return "normal";
    case exit_reason::kind::shutdown:
      return x.message().empty() ? "shutdown" : "shutdown(" + x.message() + ")";
    case exit_reason::kind::kill:
      return "kill";
    case exit_reason::kind::killed:
      return "killed";
    case exit_reason::kind::error:
      break;
  }
  return "error(" + x.message() + ")";
}

} // namespace libactor
