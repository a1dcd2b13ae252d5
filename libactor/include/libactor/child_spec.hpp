/// @file
/// Child specifications: what a supervisor (supervisor.hpp) needs to know to
/// start, restart and stop one child, in OTP's terms and with OTP's defaults.
///
/// A supervision tree is written as a list of these, exactly as an OTP
/// supervisor's `init/1` returns its child-spec list:
///
///     {"db",    start_db,    restart_type::permanent, 5000ms,      child_type::worker}
///     {"conns", start_conns, restart_type::permanent, infinity,    child_type::supervisor}
///
/// The start function runs inside the supervisor process and must spawn the
/// child *linked* to it (`sup.spawn_link(...)` or `supervisor::start_link`):
/// the link is how the supervisor learns that the child ended.
#pragma once

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "libactor/pid.hpp"

namespace libactor {

class process;

/// When a terminated child is restarted (OTP's `restart` field).
enum class restart_type : std::uint8_t {
  permanent, ///< Always restarted.
  transient, ///< Restarted only after an abnormal exit (not `normal`, not `shutdown`).
  temporary, ///< Never restarted; its spec is forgotten when it ends.
};

/// Whether the child is a worker or itself a supervisor (OTP's `type`); it
/// picks the default shutdown and shows in `which_children`/`count_children`.
enum class child_type : std::uint8_t { worker, supervisor };

std::string_view to_string(restart_type x) noexcept;
std::string_view to_string(child_type x) noexcept;

/// How a supervisor stops a child (OTP's `shutdown` field).
///
/// `brutal_kill` sends the untrappable `kill`. A timeout sends `shutdown` and
/// waits that long for the child's exit before killing it. `infinity` sends
/// `shutdown` and waits for as long as it takes; OTP recommends it for child
/// supervisors, which need the time to stop their own subtree.
class shutdown_mode {
public:
  enum class kind : std::uint8_t { brutal_kill, timeout, infinity };

  /// A timeout; implicit so that a child spec can say just `2000ms`.
  shutdown_mode(std::chrono::milliseconds timeout) noexcept // NOLINT(google-explicit-constructor)
    : kind_(kind::timeout), timeout_(timeout) {
  }

  static shutdown_mode brutal_kill() noexcept { return shutdown_mode{kind::brutal_kill}; }
  static shutdown_mode infinity() noexcept { return shutdown_mode{kind::infinity}; }

  kind what() const noexcept { return kind_; }
  /// Meaningful only for `kind::timeout`.
  std::chrono::milliseconds timeout() const noexcept { return timeout_; }

  friend bool operator==(const shutdown_mode& x, const shutdown_mode& y) noexcept {
    return x.kind_ == y.kind_ && (x.kind_ != kind::timeout || x.timeout_ == y.timeout_);
  }
  friend bool operator!=(const shutdown_mode& x, const shutdown_mode& y) noexcept {
    return !(x == y);
  }

private:
  explicit shutdown_mode(kind k) noexcept : kind_(k) {
  }

  kind kind_;
  std::chrono::milliseconds timeout_{0};
};

/// Shorthands that let a child-spec list read like OTP's.
inline const shutdown_mode brutal_kill = shutdown_mode::brutal_kill();
inline const shutdown_mode infinity = shutdown_mode::infinity();

/// `brutal_kill`, `infinity` or `<n>ms`.
std::string to_string(const shutdown_mode& x);

/// Starts one child. It runs inside the supervisor (`sup`), spawns the child
/// linked to it and returns the child's pid. Throwing, or returning an empty
/// pid, is a failed start.
///
/// `args` is empty for children listed in the spec; for the dynamic children
/// of a `simple_one_for_one` supervisor it is the value given to
/// `start_child`, kept and passed again on every restart (as OTP appends its
/// extra arguments). A move-only resource, such as a socket, travels as a
/// `std::shared_ptr` inside it.
using start_function = std::function<pid(process& sup, const std::any& args)>;

/// A restart budget of a child's own (a libactor extension, see `child_spec::own_intensity`).
/// Counted in a window that opens at a crash and lasts `period` (16 bytes per
/// child instead of a list of times): a burst that straddles two windows may
/// fit up to twice `intensity` crashes in one period.
struct child_intensity {
  /// More than `intensity` crashes within a window and the child is given up.
  int intensity = 3;
  std::chrono::milliseconds period{60'000};
};

/// Called with a child's arguments when its own budget is spent and the
/// supervisor gives it up (see `child_spec::own_intensity`).
using give_up_function = std::function<void(const std::any& args)>;

/// One child, as OTP's child-spec map `#{id, start, restart, shutdown, type}`.
struct child_spec {
  /// Names the child within its supervisor (unique among static children).
  std::string id;
  start_function start;
  restart_type restart = restart_type::permanent;
  /// Empty means OTP's default: 5000 ms for a worker, `infinity` for a supervisor.
  std::optional<shutdown_mode> shutdown;
  child_type type = child_type::worker;
  /// OTP's `significant`: the child's end (one that is not restarted) may
  /// shut its supervisor down, as the supervisor's `auto_shutdown` flag
  /// says. Only for transient and temporary children, and only under a
  /// supervisor whose `auto_shutdown` is not `never`; else a bad spec.
  bool significant = false;

  /// A libactor extension for children whose crashes come from outside the
  /// program (one per client connection, say): when set, a crash of this
  /// child is charged to the child's own budget instead of the supervisor's
  /// intensity. Within it the child is restarted as `restart` says; past it
  /// the child is given up (not restarted, logged, `on_give_up` called with
  /// its arguments) and the supervisor lives on. So no storm of crashes, from
  /// however many such children, can spend the supervisor's intensity, which
  /// then guards against systematic failure only: a start function that
  /// fails is still charged to the supervisor, as in OTP.
  std::optional<child_intensity> own_intensity{};
  /// With `own_intensity`: what to do with a given-up child's arguments
  /// (close its connection and count it, say). Runs in the supervisor.
  give_up_function on_give_up{};

  /// The shutdown actually used, defaults applied.
  shutdown_mode effective_shutdown() const noexcept {
    if (shutdown)
      return *shutdown;
    return type == child_type::supervisor ? shutdown_mode::infinity()
                                          : shutdown_mode{std::chrono::milliseconds{5000}};
  }
};

} // namespace libactor
