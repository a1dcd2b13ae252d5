/// @file
/// Supervisors: OTP's `supervisor` behaviour as a libactor process. A
/// supervisor starts its children in order, traps their exits, restarts them
/// by strategy and restart type, gives up after `intensity` restarts within
/// `period` (stopping its children and exiting, so that its own supervisor
/// decides: escalation up the tree), and stops its children in reverse order.
///
/// It sits above the process layer (process.hpp) and below the sharded
/// supervisor (sharded_supervisor.hpp), which puts N `simple_one_for_one`
/// supervisors behind one handle. Child specs are in child_spec.hpp.
///
/// Calls from outside any process (`node&` overloads) block until the reply or
/// the timeout. From inside a process, `start_link` returns at once and
/// `start_child`/`count_children` take a callback; a process must never block.
///
/// Beyond OTP, a supervisor may delay its restarts with an exponential
/// backoff (restart_backoff.hpp, `supervisor_flags::backoff`); the decision
/// and the intensity bookkeeping stay OTP's.
#pragma once

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libactor/child_spec.hpp"
#include "libactor/exit_reason.hpp"
#include "libactor/pid.hpp"
#include "libactor/restart_backoff.hpp"

namespace libactor {

class node;
class process;

/// Which children restart when one terminates and must be restarted.
enum class restart_strategy : std::uint8_t {
  one_for_one,       ///< Only that child.
  one_for_all,       ///< All children: the others are stopped first.
  rest_for_one,      ///< That child and those started after it.
  simple_one_for_one ///< As one_for_one, for many dynamic children of one spec.
};

std::string_view to_string(restart_strategy x) noexcept;

/// OTP's `auto_shutdown` flag (OTP 24): whether the end of significant
/// children (`child_spec::significant`) shuts the supervisor down.
enum class auto_shutdown_policy : std::uint8_t {
  never,           ///< Never; significant children are then a bad spec.
  any_significant, ///< When any significant child ends and is not restarted.
  all_significant, ///< When the last running significant child does so.
};

std::string_view to_string(auto_shutdown_policy x) noexcept;

/// OTP's supervisor flags, with OTP's defaults (intensity 1, period 5 s).
struct supervisor_flags {
  restart_strategy strategy = restart_strategy::one_for_one;
  /// More than `intensity` restarts within `period` make the supervisor give up.
  int intensity = 1;
  std::chrono::milliseconds period{5000};
  /// Empty (the default): restarts are immediate, as in OTP. Set: a child
  /// that must be restarted is decided on and counted against intensity at
  /// once, exactly as without it (so a crash loop escalates just as soon),
  /// but started only after its backoff delay (restart_backoff.hpp), which
  /// grows per child with each consecutive restart and starts over once the
  /// child has stayed up for `reset_after`. For one_for_all and rest_for_one
  /// the group is stopped at once and started again after the delay of the
  /// child that ended. A failed start is retried after the next delay, and
  /// each retry counts as a restart. While a restart waits, the child shows
  /// as `child_info::state::restarting` and is not `active`; `restart_child`
  /// starts it at once, `terminate_child` cancels the restart, and a
  /// supervisor that exits cancels them all. A sharded supervisor's shards
  /// take theirs from `sharded_supervisor_spec::shard_backoff`.
  std::optional<restart_backoff> backoff = std::nullopt;
  /// OTP's automatic shutdown: a significant child that ends on its own (a
  /// transient one normally, a temporary one in any way; not one the
  /// supervisor stops itself) makes the supervisor stop its other children
  /// and exit with `shutdown`. Not allowed with simple_one_for_one (as in
  /// OTP 27).
  auto_shutdown_policy auto_shutdown = auto_shutdown_policy::never;
};

/// What `init/1` returns in OTP: flags and the child-spec list. A
/// `simple_one_for_one` supervisor has exactly one spec, a template for the
/// children that `start_child` starts later.
struct supervisor_spec {
  /// The process name in logs and crash reports (a role: "conns_supervisor").
  std::string name = "supervisor";
  supervisor_flags flags;
  std::vector<child_spec> children;
  /// The time source of the intensity window (and of backoff's
  /// `reset_after`); empty (the default) means `steady_clock::now`. A test
  /// injects a clock it advances by hand, so that a period passes without
  /// sleeping. It is called inside the supervisor process, so it must be
  /// safe to call from any thread; it must never go backwards.
  std::function<std::chrono::steady_clock::time_point()> clock = {};
};

/// Why a supervisor call failed, with OTP's names for the reasons.
class supervisor_error {
public:
  enum class kind : std::uint8_t {
    not_found,          ///< No child with that id (or pid).
    running,            ///< The child is running; terminate it first.
    restarting,         ///< A restart of the child is pending (a retry, or a backoff delay).
    already_present,    ///< `start_child`: a stopped child has that id.
    already_started,    ///< `start_child`: a running child has that id.
    simple_one_for_one, ///< The call makes no sense for a simple_one_for_one supervisor.
    bad_spec,           ///< The child spec or supervisor spec is invalid.
    start_failed,       ///< The start function threw or returned no pid.
    call_failed,        ///< No answer: timeout, or the supervisor is not running.
  };

  supervisor_error(kind k, std::string reason) : kind_(k), reason_(std::move(reason)) {
  }

  kind what() const noexcept { return kind_; }
  /// Details: the start failure's reason, the running child's pid, ...
  const std::string& reason() const noexcept { return reason_; }
  /// One line for logs: `<kind>: <reason>`.
  std::string message() const;

private:
  kind kind_;
  std::string reason_;
};

std::string_view to_string(supervisor_error::kind x) noexcept;

/// A supervisor call's outcome: a value or a `supervisor_error`.
template <class T>
class supervisor_result {
public:
  supervisor_result(T value) : value_(std::move(value)) {
  }
  supervisor_result(supervisor_error err) : error_(std::move(err)) {
  }

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }

  /// Precondition: `ok()`.
  T& value() { return *value_; }
  const T& value() const { return *value_; }

  /// Precondition: `!ok()`.
  const supervisor_error& error() const { return *error_; }

private:
  std::optional<T> value_;
  std::optional<supervisor_error> error_;
};

/// The value of a call that returns only success (OTP's `ok`).
struct ok_t {};

/// One entry of `which_children`, as OTP's `{Id, Child, Type, Modules}`.
struct child_info {
  enum class state : std::uint8_t {
    running,    ///< `pid` is the child.
    restarting, ///< A restart is pending: a retry after a failed start, or a backoff delay.
    undefined,  ///< Not running (stopped, or ended without restart).
  };
  /// Empty for the dynamic children of a simple_one_for_one supervisor
  /// (OTP's `undefined`).
  std::string id;
  pid child;
  state status = state::undefined;
  child_type type = child_type::worker;
};

/// OTP's `count_children`: `specs` (1 for simple_one_for_one), `active`
/// (running), and `supervisors`/`workers` (children of each type, dead or
/// alive; a dynamic child whose restart is pending counts, not as active).
struct child_counts {
  std::size_t specs = 0;
  std::size_t active = 0;
  std::size_t supervisors = 0;
  std::size_t workers = 0;

  child_counts& operator+=(const child_counts& x) noexcept {
    specs += x.specs;
    active += x.active;
    supervisors += x.supervisors;
    workers += x.workers;
    return *this;
  }
};

namespace supervisor {

/// OTP's default call timeout (gen_server's 5 s).
inline constexpr std::chrono::milliseconds default_timeout{5000};

// -- starting --------------------------------------------------------------------

/// Starts a supervisor from outside any process and waits until every child
/// has acknowledged its init (its body returned; a child supervisor once its
/// own children did), started one after the other in list order. A start
/// function that throws, or a child that ends before acknowledging, fails
/// the start (`start_failed`, with the child's id and reason) after the
/// children already started are stopped. On timeout the supervisor is
/// killed, and its whole tree with it (`call_failed`). The supervisor has no
/// parent: stop it with `exit(sup, shutdown)` or `node::stop`.
supervisor_result<pid> start(node& owner, supervisor_spec spec,
                             std::chrono::milliseconds timeout = default_timeout);

/// Starts a supervisor linked to `parent`, as a child start function does.
/// Returns at once with the supervisor's pid (a process cannot block); if a
/// child then fails to start, the supervisor stops the others and exits with
/// `error("failed_to_start_child ...")`, which `parent` receives as an exit.
/// Run by a supervisor's start function, the new supervisor acknowledges its
/// init to that parent only once its children are up, and the parent waits
/// for that before starting its next child.
pid start_link(process& parent, supervisor_spec spec);

/// A child spec that runs `start_link(sup, spec)`: a supervisor as a child,
/// with OTP's defaults for one (permanent, shutdown infinity).
child_spec child(std::string id, supervisor_spec spec);

// -- calls from outside any process ---------------------------------------------

/// Adds a child spec and starts it (not for simple_one_for_one).
supervisor_result<pid> start_child(node& owner, const pid& sup, child_spec spec,
                                   std::chrono::milliseconds timeout = default_timeout);

/// simple_one_for_one: starts a child of the template spec with `args`.
supervisor_result<pid> start_child(node& owner, const pid& sup, std::any args,
                                   std::chrono::milliseconds timeout = default_timeout);

/// simple_one_for_one: starts a child without waiting for the outcome (a
/// cast). For callers that must not block and have no process to receive a
/// reply, such as an Asio completion handler accepting a connection. A
/// failed start is logged by the supervisor (`start_error`).
void cast_start_child(const pid& sup, std::any args);

/// Stops the child by its shutdown mode and keeps its spec (a temporary
/// child's spec is deleted, as in OTP). A child waiting out a backoff delay
/// has its restart cancelled (and its backoff starts over).
supervisor_result<ok_t> terminate_child(node& owner, const pid& sup, const std::string& id,
                                        std::chrono::milliseconds timeout = default_timeout);

/// simple_one_for_one: stops the child and forgets it.
supervisor_result<ok_t> terminate_child(node& owner, const pid& sup, const pid& child,
                                        std::chrono::milliseconds timeout = default_timeout);

/// Starts a stopped child again from its spec. A child waiting out a backoff
/// delay starts now (its pending restart is cancelled); one between a failed
/// start and OTP's immediate retry is `restarting`, as in OTP.
supervisor_result<pid> restart_child(node& owner, const pid& sup, const std::string& id,
                                     std::chrono::milliseconds timeout = default_timeout);

/// Removes a stopped child's spec (not one whose restart is pending:
/// `terminate_child` it first).
supervisor_result<ok_t> delete_child(node& owner, const pid& sup, const std::string& id,
                                     std::chrono::milliseconds timeout = default_timeout);

/// Every child in start order (dynamic children in no particular order).
supervisor_result<std::vector<child_info>>
which_children(node& owner, const pid& sup, std::chrono::milliseconds timeout = default_timeout);

supervisor_result<child_counts> count_children(node& owner, const pid& sup,
                                               std::chrono::milliseconds timeout = default_timeout);

// -- calls from inside a process -------------------------------------------------

// Each is the call above, asynchronous: it returns at once and `then` runs
// later in `self` with the outcome (a `call_failed` error on timeout, or at
// once if the supervisor is not running). The caller keeps serving its own
// messages meanwhile, as a gen_server that used `gen_server:send_request`.

/// Asynchronous `start_child` with a child spec (not for simple_one_for_one).
void start_child(process& self, const pid& sup, child_spec spec,
                 std::function<void(supervisor_result<pid>)> then,
                 std::chrono::milliseconds timeout = default_timeout);

/// simple_one_for_one: asynchronous `start_child`.
void start_child(process& self, const pid& sup, std::any args,
                 std::function<void(supervisor_result<pid>)> then,
                 std::chrono::milliseconds timeout = default_timeout);

/// Asynchronous `terminate_child` by id.
void terminate_child(process& self, const pid& sup, const std::string& id,
                     std::function<void(supervisor_result<ok_t>)> then,
                     std::chrono::milliseconds timeout = default_timeout);

/// simple_one_for_one: asynchronous `terminate_child` by pid.
void terminate_child(process& self, const pid& sup, const pid& child,
                     std::function<void(supervisor_result<ok_t>)> then,
                     std::chrono::milliseconds timeout = default_timeout);

/// Asynchronous `restart_child`.
void restart_child(process& self, const pid& sup, const std::string& id,
                   std::function<void(supervisor_result<pid>)> then,
                   std::chrono::milliseconds timeout = default_timeout);

/// Asynchronous `delete_child`.
void delete_child(process& self, const pid& sup, const std::string& id,
                  std::function<void(supervisor_result<ok_t>)> then,
                  std::chrono::milliseconds timeout = default_timeout);

/// Asynchronous `which_children`.
void which_children(process& self, const pid& sup,
                    std::function<void(supervisor_result<std::vector<child_info>>)> then,
                    std::chrono::milliseconds timeout = default_timeout);

/// Asynchronous `count_children`.
void count_children(process& self, const pid& sup,
                    std::function<void(supervisor_result<child_counts>)> then,
                    std::chrono::milliseconds timeout = default_timeout);

// -- stopping ------------------------------------------------------------------------

/// OTP's `supervisor:stop/3`: sends `shutdown` to the supervisor and waits
/// until it and its tree have exited (children stopped top-down, in reverse
/// start order). `not_found` if `sup` is not alive; past `timeout` the
/// supervisor is killed and the call fails (`call_failed`). Refused on an I/O
/// thread, like the other blocking calls (supervisor_stop.cpp).
supervisor_result<ok_t> stop(node& owner, const pid& sup,
                             std::chrono::milliseconds timeout = default_timeout);

} // namespace supervisor

} // namespace libactor
