/// @file
/// Why a process ended, in OTP's terms: `normal`, `shutdown`, `killed` or an
/// error carrying a message; plus `kill`, the untrappable exit signal. Links, monitors, supervisors and crash reports all
/// speak this type; it converts to and from CAF's `caf::error` at the edges.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace caf {
class error;
} // namespace caf

namespace libactor {

/// The reason a process exited.
///
/// As in OTP, `normal` and `shutdown` are orderly endings: a non-trapping
/// process linked to one that ends `normal` lives on, and neither produces a
/// crash report. Every other ending is an `error` whose message says what
/// went wrong (an exception's `what()`, say).
///
/// `kill` and `killed` are two things, as in OTP. `kill` is a signal: sent
/// with `exit(pid, kill())` it ends the receiver even if it traps exits.
/// `killed` is the reason that receiver then exits with, and what its links
/// and monitors are told: an ordinary abnormal reason, which a trapping
/// process receives in `on_exit` and survives. Were the victim's links sent
/// `kill` itself, one kill would take down everything linked to it.
class exit_reason {
public:
  enum class kind : std::uint8_t { normal, shutdown, kill, killed, error };

  /// Constructs the `normal` reason.
  exit_reason() = default;

  static exit_reason normal() { return exit_reason{}; }
  static exit_reason shutdown() { return exit_reason{kind::shutdown, {}}; }
  /// OTP's `{shutdown, Detail}`: an orderly ending that says why (a session
  /// whose peer went away, say). Not restarted by a `transient` supervisor,
  /// not crash-reported, but monitors see the detail.
  static exit_reason shutdown(std::string detail) {
    return exit_reason{kind::shutdown, std::move(detail)};
  }
  /// The untrappable exit signal (`exit(Pid, kill)`).
  static exit_reason kill() { return exit_reason{kind::kill, {}}; }
  /// The reason a process ended by `kill` exits with; trappable.
  static exit_reason killed() { return exit_reason{kind::killed, {}}; }
  static exit_reason error(std::string message) {
    return exit_reason{kind::error, std::move(message)};
  }

  kind what() const noexcept { return kind_; }
  const std::string& message() const noexcept { return message_; }

  bool is_normal() const noexcept { return kind_ == kind::normal; }

  /// True unless `normal` or `shutdown`: the endings OTP reports and that make
  /// a `transient` child restart.
  bool abnormal() const noexcept {
    return kind_ != kind::normal && kind_ != kind::shutdown;
  }

  /// CAF's representation, for `quit`, `send_exit` and friends.
  caf::error to_caf() const;

  /// Maps any CAF exit reason or error onto the OTP kinds; the inverse of
  /// `to_caf` (`kill` stays `kill`, `killed` stays `killed`).
  static exit_reason from_caf(const caf::error& x);

  friend bool operator==(const exit_reason& x, const exit_reason& y) {
    return x.kind_ == y.kind_ && x.message_ == y.message_;
  }
  friend bool operator!=(const exit_reason& x, const exit_reason& y) {
    return !(x == y);
  }

private:
  exit_reason(kind k, std::string message)
    : kind_(k), message_(std::move(message)) {
  }

  kind kind_ = kind::normal;
  std::string message_;
};

/// Renders `normal`, `shutdown`, `shutdown(<detail>)`, `kill`, `killed` or
/// `error(<message>)`.
std::string to_string(const exit_reason& x);

} // namespace libactor

template <>
struct fmt::formatter<libactor::exit_reason> : fmt::formatter<std::string> {
  template <class FormatContext>
  auto format(const libactor::exit_reason& x, FormatContext& ctx) const {
    return fmt::formatter<std::string>::format(libactor::to_string(x), ctx);
  }
};
