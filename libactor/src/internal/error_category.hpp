/// @file
/// libactor's own CAF error category, so that an error exit reason can carry
/// its message through CAF's exit and down messages unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace libactor::detail {

enum class errc : std::uint8_t {
  /// A process ended with `exit_reason::error`; the context holds the text.
  process_error = 1,
  /// A process ended with `exit_reason::shutdown(detail)`; the context holds it.
  shutdown_detail = 2,
  /// `exit_reason::killed()`: the reason of a process ended by the
  /// untrappable `kill` signal, and what its links receive instead of `kill`
  /// (Erlang's `killed`), which they may trap.
  killed = 3,
};

inline constexpr caf::atom_value error_category_atom = caf::atom("libactor");

inline caf::error make_error(errc code, std::string text) {
  return caf::error{static_cast<std::uint8_t>(code), error_category_atom,
                    caf::make_message(std::move(text))};
}

/// The text of a libactor error with `code`, nullopt for any other error.
inline std::optional<std::string> error_text(const caf::error& x, errc code = errc::process_error) {
  if (x.category() != error_category_atom || x.code() != static_cast<std::uint8_t>(code))
    return std::nullopt;
  auto& ctx = x.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return std::string{};
}

} // namespace libactor::detail
