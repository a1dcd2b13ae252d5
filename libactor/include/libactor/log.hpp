/// @file
/// Structured logging on fmt: one line per event, `key=value` pairs (logfmt),
/// filtered by level. Every component logs through here, including the crash
/// reports written when a process exits abnormally (OTP's SASL reports).
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace libactor::log {

enum class level : int { debug = 0, info = 1, warning = 2, error = 3, none = 4 };

/// `debug`, `info`, `warning`, `error` or `none`.
std::string_view to_string(level x) noexcept;

/// Parses the names `to_string` prints; nullopt for anything else.
std::optional<level> parse_level(std::string_view name) noexcept;

/// The global threshold: events below it are discarded before formatting.
void set_level(level x) noexcept;
level current_level() noexcept;
inline bool enabled(level x) noexcept { return x >= current_level() && x != level::none; }

/// Receives each finished line (no trailing newline). The default writes to
/// stderr; tests install their own to assert on events. Not thread-safe with
/// respect to concurrent logging: install it before starting a node.
using sink = std::function<void(level, std::string_view line)>;
void set_sink(sink fn);
void reset_sink();

/// One `key=value` pair. Values with spaces, quotes or `=` are quoted.
struct field {
  std::string_view key;
  std::string value;
};

template <class T>
field kv(std::string_view key, const T& value) {
  return field{key, fmt::format("{}", value)};
}

/// Writes `ts=... level=... event=<event> k1=v1 ...` if `lvl` is enabled.
void write(level lvl, std::string_view event, std::initializer_list<field> fields);

template <class... Fields>
void debug(std::string_view event, Fields&&... fs) {
  if (enabled(level::debug))
    write(level::debug, event, {std::forward<Fields>(fs)...});
}
template <class... Fields>
void info(std::string_view event, Fields&&... fs) {
  if (enabled(level::info))
    write(level::info, event, {std::forward<Fields>(fs)...});
}
template <class... Fields>
void warning(std::string_view event, Fields&&... fs) {
  if (enabled(level::warning))
    write(level::warning, event, {std::forward<Fields>(fs)...});
}
template <class... Fields>
void error(std::string_view event, Fields&&... fs) {
  if (enabled(level::error))
    write(level::error, event, {std::forward<Fields>(fs)...});
}

} // namespace libactor::log
