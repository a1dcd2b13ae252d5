/// @file
/// Calls: request/response between processes with a timeout, OTP's
/// `gen_server:call`. Unlike a bare CAF request, a call fails at once when the
/// callee ends before answering (CAF issue 1047: otherwise the caller learns
/// only when the timeout fires, or never with an infinite one).
#pragma once

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <caf/error.hpp>

#include "libactor/exit_reason.hpp"
#include "libactor/pid.hpp"
#include "libactor/process.hpp"

namespace libactor {

/// Why a call produced no reply.
class call_error {
public:
  enum class kind {
    timeout,     ///< No reply within the timeout.
    callee_down, ///< The callee ended first; `reason` says how.
    no_process,  ///< The pid names no process.
    rejected,    ///< The callee has no handler for the message, or replied an error.
    would_block, ///< A blocking call made on one of the node's I/O threads (see node::on_io_thread).
  };

  call_error(kind k, exit_reason reason, std::string detail)
    : kind_(k), reason_(std::move(reason)), detail_(std::move(detail)) {
  }

  kind what() const noexcept { return kind_; }
  /// For `callee_down`: the callee's exit reason.
  const exit_reason& reason() const noexcept { return reason_; }
  /// A one-line explanation for logs and error messages.
  std::string message() const;

  /// Classifies the error CAF delivered for a request.
  static call_error from_caf(const caf::error& x, const pid& callee);

private:
  kind kind_;
  exit_reason reason_;
  std::string detail_;
};

std::string to_string(call_error::kind x);

namespace detail {

/// The parameter list of a callable, as a tuple type.
template <class F>
struct callable_args : callable_args<decltype(&F::operator())> {};
template <class C, class R, class... As>
struct callable_args<R (C::*)(As...) const> {
  using type = std::tuple<As...>;
};
template <class C, class R, class... As>
struct callable_args<R (C::*)(As...)> {
  using type = std::tuple<As...>;
};

/// Removes the clock's timeout entry of an answered request. CAF 0.17 never
/// does (the entry, and its reference to the caller, would otherwise stay
/// until the timeout expires: with a long timeout, one per call).
void cancel_request_timeout(process_actor* self, caf::message_id mid);

/// Wraps a reply handler so it runs only if the call has not failed already.
template <class F, class... As>
auto guard_reply(process_actor* self, std::uint64_t id, caf::message_id mid, F f,
                 std::tuple<As...>*) {
  return [self, id, mid, f = std::move(f)](As... xs) mutable {
    if (self->finish_call(id)) {
      cancel_request_timeout(self, mid);
      f(std::forward<As>(xs)...);
    }
  };
}

} // namespace detail

/// A call in flight; `then` installs what runs on the reply or the error.
template <class Handle>
class call_handle {
public:
  call_handle(detail::process_actor* self, pid callee, Handle hdl)
    : self_(self), callee_(std::move(callee)), hdl_(std::move(hdl)) {
  }

  /// `on_reply` takes the reply's values; `on_error` takes a `call_error`.
  /// Exactly one of them runs, exactly once.
  template <class OnReply, class OnError>
  void then(OnReply on_reply, OnError on_error) {
    auto fail = std::make_shared<OnError>(std::move(on_error));
    auto id = self_->begin_call(callee_.handle(),
                                [fail](const call_error& e) { (*fail)(e); });
    using args = typename detail::callable_args<OnReply>::type;
    auto mid = hdl_.id();
    hdl_.then(detail::guard_reply(self_, id, mid, std::move(on_reply), static_cast<args*>(nullptr)),
              [self = self_, id, mid, fail, callee = callee_](caf::error& err) {
                if (self->finish_call(id)) {
                  // An error reply (not the timeout itself) leaves the entry too.
                  detail::cancel_request_timeout(self, mid);
                  (*fail)(call_error::from_caf(err, callee));
                }
              });
  }

private:
  detail::process_actor* self_;
  pid callee_;
  Handle hdl_;
};

template <class... Ts>
auto process::call(const pid& callee, std::chrono::milliseconds timeout, Ts&&... xs) {
  auto hdl = self_->request(callee.handle(), timeout, std::forward<Ts>(xs)...);
  return call_handle<decltype(hdl)>{self_, callee, std::move(hdl)};
}

/// The outcome of a blocking call: a reply of type `R` or a `call_error`.
template <class R>
class call_result {
public:
  call_result(R value) : value_(std::move(value)) {
  }
  call_result(call_error err) : error_(std::move(err)) {
  }

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }

  /// Precondition: `ok()`.
  R& value() { return *value_; }
  const R& value() const { return *value_; }

  /// Precondition: `!ok()`.
  const call_error& error() const { return *error_; }

private:
  std::optional<R> value_;
  std::optional<call_error> error_;
};

/// The reply of a call whose handler returns nothing.
struct no_reply {};

/// Calls `callee` from outside any process and blocks until the reply, the
/// timeout, or the callee's end. `R` is the reply type (`no_reply` for a
/// handler that returns nothing). Never call this from inside a process: it
/// would block a scheduler thread; use `process::call` there.
template <class R, class... Ts>
call_result<R> call(node& owner, const pid& callee, std::chrono::milliseconds timeout,
                    Ts&&... xs) {
  // A process spawned here would get this thread as its home and never run
  // while this thread waits for it.
  if (owner.on_io_thread())
    return call_result<R>{call_error{call_error::kind::would_block, exit_reason::normal(),
                                     "libactor::call(node&, ...) on an I/O thread would block it; "
                                     "use process::call"}};
  // Answered exactly once, by the reply, the call's failure, or the
  // calling process's end for any other reason (`node::stop` shuts it down
  // while it waits): the waiting thread is never left without an answer.
  struct outcome {
    std::promise<call_result<R>> promise;
    std::atomic<bool> set{false};
    void answer(call_result<R> x) {
      if (!set.exchange(true))
        promise.set_value(std::move(x));
    }
  };
  auto done = std::make_shared<outcome>();
  auto result = done->promise.get_future();
  spawn(
    owner, spawn_options{"caller"},
    [done, callee, timeout](process& self, std::tuple<std::decay_t<Ts>...>& msg) -> caf::behavior {
      self.caf_self()->add_exit_hook([done](detail::process_actor&, const caf::error& why) {
        auto reason = exit_reason::from_caf(why);
        done->answer(call_result<R>{call_error{call_error::kind::callee_down, reason,
                                               fmt::format("the calling process ended before "
                                                           "the reply: {}", reason)}});
      });
      std::apply(
        [&](auto&... xs) {
          auto on_error = [self, done](const call_error& e) mutable {
            done->answer(call_result<R>{e});
            self.exit();
          };
          if constexpr (std::is_same_v<R, no_reply>)
            self.call(callee, timeout, xs...).then(
              [self, done]() mutable {
                done->answer(call_result<R>{no_reply{}});
                self.exit();
              },
              on_error);
          else
            self.call(callee, timeout, xs...).then(
              [self, done](R& reply) mutable {
                done->answer(call_result<R>{std::move(reply)});
                self.exit();
              },
              on_error);
        },
        msg);
      return {};
    },
    std::make_tuple(std::forward<Ts>(xs)...));
  try {
    return result.get();
  } catch (const std::future_error&) {
    // The caller was stopped before its body ran (the node stopping), so
    // nothing was asked and the promise went with its body.
    return call_result<R>{call_error{call_error::kind::callee_down, exit_reason::shutdown(),
                                     "the calling process ended before the call was made"}};
  }
}

} // namespace libactor
