/// @file
/// Processes: BEAM's unit of isolation on top of CAF's event-based actors.
///
/// A process is spawned from a function that receives a `process&` (its
/// `self`) plus arguments and returns its behaviour, a set of CAF message
/// handlers. Processes share nothing, talk by messages, and fail alone: an
/// exception ends only the process that threw it, with an `error` exit
/// reason; linked processes receive the exit signal (and die with it unless
/// they trap exits); monitors receive a down notification. Supervisors
/// (supervisor.hpp) are built from exactly these pieces.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/behavior.hpp>
#include <caf/send.hpp>

#include "libactor/detail/process_actor.hpp"
#include "libactor/exit_reason.hpp"
#include "libactor/node.hpp"
#include "libactor/pid.hpp"
#include "libactor/timer_ref.hpp"

namespace libactor {

/// Options for one spawn.
struct spawn_options {
  /// Shown in crash reports and logs; names the role ("session", "acceptor").
  std::string name = "process";
};

namespace detail {

/// Binds a user function and its arguments into a process body.
template <class F, class... Ts>
std::function<caf::behavior(process&)> make_body(F f, Ts&&... xs) {
  return [f = std::move(f),
          args = std::make_tuple(std::decay_t<Ts>(std::forward<Ts>(xs))...)](
           process& self) mutable -> caf::behavior {
    return std::apply(
      [&](auto&... unpacked) -> caf::behavior { return f(self, unpacked...); },
      args);
  };
}

enum class spawn_mode { plain, link, monitor };

pid spawn_from_node(node& owner, process_spec spec);
pid spawn_from_process(process_actor* parent, process_spec spec, spawn_mode mode);

/// Delivers an exit signal carrying any reason (CAF's own helper takes only
/// its enum). `from` is the sender; empty for a signal from outside.
void send_exit_signal(const caf::actor& to, const exit_reason& reason, const caf::actor_addr& from);

} // namespace detail


/// A process's view of itself, passed to its body. Cheap to copy; valid for
/// the process's lifetime (capture it by value in handlers).
class process {
public:
  explicit process(detail::process_actor* self) noexcept : self_(self) {
  }

  // -- identity ----------------------------------------------------------------

  pid self() const;
  /// The process that spawned this one; empty if spawned from the node.
  const pid& parent() const noexcept { return self_->parent(); }
  const std::string& name() const noexcept { return self_->process_name(); }
  node& owner() const noexcept { return self_->owner(); }

  // -- spawning ----------------------------------------------------------------

  template <class F, class... Ts>
  pid spawn(F f, Ts&&... xs) {
    return spawn_impl(detail::spawn_mode::plain, {}, std::move(f), std::forward<Ts>(xs)...);
  }

  /// Spawns and links atomically, as `erlang:spawn_link`.
  template <class F, class... Ts>
  pid spawn_link(F f, Ts&&... xs) {
    return spawn_impl(detail::spawn_mode::link, {}, std::move(f), std::forward<Ts>(xs)...);
  }

  /// Spawns and monitors atomically, as `erlang:spawn_monitor`.
  template <class F, class... Ts>
  pid spawn_monitor(F f, Ts&&... xs) {
    return spawn_impl(detail::spawn_mode::monitor, {}, std::move(f), std::forward<Ts>(xs)...);
  }

  /// As above with options (a name); `mode` picks plain, link or monitor.
  template <class F, class... Ts>
  pid spawn_with(detail::spawn_mode mode, spawn_options opts, F f, Ts&&... xs) {
    return spawn_impl(mode, std::move(opts), std::move(f), std::forward<Ts>(xs)...);
  }

  // -- links, monitors, exit signals ---------------------------------------

  /// Bidirectional: if either ends abnormally, the other gets the signal.
  void link(const pid& other);
  void unlink(const pid& other);

  /// One-way: `on_down` hears when `other` ends, with its reason. Monitoring
  /// twice is the same as once; `demonitor` removes it.
  void monitor(const pid& other);
  void demonitor(const pid& other);

  /// With trapping on, exit signals (except `kill`) become calls to the
  /// `on_exit` handler instead of ending this process.
  void trap_exit(bool on) noexcept { self_->trap_exit(on); }
  bool trapping_exits() const noexcept { return self_->trapping_exits(); }

  void on_exit(detail::process_actor::exit_handler fn) { self_->on_exit_signal(std::move(fn)); }
  void on_down(detail::process_actor::down_handler fn) { self_->on_down(std::move(fn)); }

  /// Ends this process with `reason` once the current handler returns.
  void exit(exit_reason reason = exit_reason::normal());

  /// Sends `to` an exit signal from this process, as `erlang:exit/2`.
  void exit(const pid& to, const exit_reason& reason);

  // -- messaging ---------------------------------------------------------------

  /// Asynchronous send (Erlang's `!`); this process is the sender.
  template <class... Ts>
  void send(const pid& to, Ts&&... xs) {
    self_->send(to.handle(), std::forward<Ts>(xs)...);
  }

  /// Sends to this process after `delay`, as `erlang:send_after/3`: the
  /// message arrives on this process's home thread unless `cancel_timer`
  /// cancels it first; the timer also ends with this process.
  template <class Rep, class Period, class... Ts>
  timer_ref send_after(std::chrono::duration<Rep, Period> delay, Ts&&... xs) {
    return detail::start_timer(
      self_, std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay),
      caf::make_message(std::forward<Ts>(xs)...));
  }

  /// A request that fails with a `call_error` on timeout, or at once when the
  /// callee ends first. Complete it with `.then(on_reply, on_error)`.
  template <class... Ts>
  auto call(const pid& callee, std::chrono::milliseconds timeout, Ts&&... xs);

  /// Replaces the behaviour (CAF's `become`).
  void become(caf::behavior bhvr) { self_->become(std::move(bhvr)); }

  /// The CAF actor, for code that talks CAF directly.
  detail::process_actor* caf_self() const noexcept { return self_; }

private:
  template <class F, class... Ts>
  pid spawn_impl(detail::spawn_mode mode, spawn_options opts, F f, Ts&&... xs) {
    return detail::spawn_from_process(
      self_, detail::process_spec{std::move(opts.name),
                                  detail::make_body(std::move(f), std::forward<Ts>(xs)...)},
      mode);
  }

  detail::process_actor* self_;
};

// -- spawning from outside any process -----------------------------------------

/// Starts a process on `owner`: `f(process&, xs...)` returns its behaviour.
template <class F, class... Ts>
pid spawn(node& owner, F f, Ts&&... xs) {
  return detail::spawn_from_node(
    owner, detail::process_spec{"process", detail::make_body(std::move(f), std::forward<Ts>(xs)...)});
}

/// As `spawn`, with options.
template <class F, class... Ts>
pid spawn(node& owner, spawn_options opts, F f, Ts&&... xs) {
  return detail::spawn_from_node(
    owner, detail::process_spec{std::move(opts.name),
                                detail::make_body(std::move(f), std::forward<Ts>(xs)...)});
}

// -- free functions over pids ---------------------------------------------------

/// Sends from outside any process (no sender).
template <class... Ts>
void send(const pid& to, Ts&&... xs) {
  caf::anon_send(to.handle(), std::forward<Ts>(xs)...);
}

/// Sends an exit signal, as `erlang:exit/2`: `normal` is ignored by a
/// non-trapping process, `kill` cannot be trapped, anything else ends a
/// non-trapping process with that reason.
void exit(const pid& to, const exit_reason& reason);

/// True until the process has ended.
bool alive(const pid& x) noexcept;

/// Messages waiting in the process's mailbox; nullopt once it has ended or
/// if `x` is not a libactor process.
std::optional<std::size_t> mailbox_length(const pid& x) noexcept;

} // namespace libactor

#include "libactor/call.hpp"
