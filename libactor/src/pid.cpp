#include "libactor/pid.hpp"

#include <fmt/format.h>

namespace libactor {

std::uint64_t pid::id() const noexcept {
  return handle_ ? handle_.id() : 0;
}

std::string to_string(const pid& x) {
  if (!x)
    return "<none>";
  // Erlang prints <Node.Number.Serial>; one node per OS process here, so 0.
  return fmt::format("<0.{}>", x.id());
}

} // namespace libactor
