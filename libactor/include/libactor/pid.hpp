/// @file
/// A process identifier: the handle by which one process names another, for
/// sending, linking, monitoring and calling. It is a thin value wrapper around
/// a `caf::actor`, printed Erlang-style as `<0.42>`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <caf/actor.hpp>
#include <fmt/format.h>

namespace libactor {

/// Identifies a process. Default-constructed, it names no process.
///
/// Holding a `pid` keeps the process's control block alive, not the process:
/// a process ends when it exits, whoever still holds its pid.
class pid {
public:
  pid() = default;
  explicit pid(caf::actor handle) : handle_(std::move(handle)) {
  }

  /// The CAF actor behind this process, for code that talks CAF directly.
  const caf::actor& handle() const noexcept { return handle_; }

  /// The process number, unique within the node.
  std::uint64_t id() const noexcept;

  explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

  friend bool operator==(const pid& x, const pid& y) noexcept {
    return x.id() == y.id() && static_cast<bool>(x) == static_cast<bool>(y);
  }
  friend bool operator!=(const pid& x, const pid& y) noexcept {
    return !(x == y);
  }
  friend bool operator<(const pid& x, const pid& y) noexcept {
    return x.id() < y.id();
  }

private:
  caf::actor handle_;
};

/// `<0.42>` for process 42, `<none>` for the empty pid.
std::string to_string(const pid& x);

} // namespace libactor

template <>
struct std::hash<libactor::pid> {
  std::size_t operator()(const libactor::pid& x) const noexcept {
    return std::hash<std::uint64_t>{}(x.id());
  }
};

template <>
struct fmt::formatter<libactor::pid> : fmt::formatter<std::string> {
  template <class FormatContext>
  auto format(const libactor::pid& x, FormatContext& ctx) const {
    return fmt::formatter<std::string>::format(libactor::to_string(x), ctx);
  }
};
