#include "libactor/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <exception>
#include <future>
#include <memory>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include <caf/atom.hpp>
#include <caf/send.hpp>
#include <caf/response_promise.hpp>

#include "libactor/call.hpp"
#include "libactor/log.hpp"
#include "libactor/node.hpp"
#include "libactor/process.hpp"

namespace libactor::detail {

/// What a supervisor call asks for. One message type for every call keeps
/// the CAF surface to one handler; it is local-only (it carries a
/// `std::function` and a `std::any`), hence whitelisted below rather than
/// made inspectable.
struct sup_request {
  enum class op : std::uint8_t {
    start_child_spec,
    start_child_args,
    terminate_id,
    terminate_pid,
    restart_id,
    delete_id,
    which,
    count,
  };
  op what = op::count;
  std::string id;
  pid child;
  std::any args;
  std::optional<child_spec> spec;
};

/// The answer to every supervisor call; `error` set means failure.
struct sup_reply {
  std::optional<supervisor_error> error;
  pid child;
  std::vector<child_info> children;
  child_counts counts;
};

} // namespace libactor::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(libactor::detail::sup_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(libactor::detail::sup_reply)

namespace libactor {

// -- names -----------------------------------------------------------------------

std::string_view to_string(restart_type x) noexcept {
  switch (x) {
    case restart_type::permanent:
      return "permanent";
    case restart_type::transient:
      return "transient";
    case restart_type::temporary:
      break;
  }
  return "temporary";
}

std::string_view to_string(child_type x) noexcept {
  return x == child_type::worker ? "worker" : "supervisor";
}

std::string to_string(const shutdown_mode& x) {
  switch (x.what()) {
    case shutdown_mode::kind::brutal_kill:
      return "brutal_kill";
    case shutdown_mode::kind::infinity:
      return "infinity";
    case shutdown_mode::kind::timeout:
      break;
  }
  return fmt::format("{}ms", x.timeout().count());
}

std::string_view to_string(restart_strategy x) noexcept {
  switch (x) {
    case restart_strategy::one_for_one:
      return "one_for_one";
    case restart_strategy::one_for_all:
      return "one_for_all";
    case restart_strategy::rest_for_one:
      return "rest_for_one";
    case restart_strategy::simple_one_for_one:
      break;
  }
  return "simple_one_for_one";
}

std::string_view to_string(auto_shutdown_policy x) noexcept {
  switch (x) {
    case auto_shutdown_policy::never:
      return "never";
    case auto_shutdown_policy::any_significant:
      return "any_significant";
    case auto_shutdown_policy::all_significant:
      break;
  }
  return "all_significant";
}

std::string_view to_string(supervisor_error::kind x) noexcept {
  using k = supervisor_error::kind;
  switch (x) {
    case k::not_found:
      return "not_found";
    case k::running:
      return "running";
    case k::restarting:
      return "restarting";
    case k::already_present:
      return "already_present";
    case k::already_started:
      return "already_started";
    case k::simple_one_for_one:
      return "simple_one_for_one";
    case k::bad_spec:
      return "bad_spec";
    case k::start_failed:
      return "start_failed";
    case k::call_failed:
      break;
  }
  return "call_failed";
}

std::string supervisor_error::message() const {
  if (reason_.empty())
    return std::string{to_string(kind_)};
  return fmt::format("{}: {}", to_string(kind_), reason_);
}

namespace {

using stop_timeout_atom = caf::atom_constant<caf::atom("sup_stopto")>;
using try_again_atom = caf::atom_constant<caf::atom("try_again")>;
using exit_now_atom = caf::atom_constant<caf::atom("sup_exit")>;
/// A backoff delay has passed (flags.backoff); carries the restart's token.
using delayed_restart_atom = caf::atom_constant<caf::atom("sup_backof")>;

using init_promise = std::shared_ptr<std::promise<supervisor_result<pid>>>;
using sup_request = detail::sup_request;
using sup_reply = detail::sup_reply;
using op = sup_request::op;

/// OTP's restart decision for one child exit.
bool needs_restart(restart_type type, const exit_reason& why) noexcept {
  switch (type) {
    case restart_type::permanent:
      return true;
    case restart_type::transient:
      return why.abnormal();
    case restart_type::temporary:
      break;
  }
  return false;
}

using time_point = std::chrono::steady_clock::time_point;

/// Where a child stands in its restart backoff: the backoff restarts in a
/// row so far, and when it last started, which tells at its next end
/// whether it stayed up long enough for the count to start over.
struct backoff_track {
  unsigned attempt = 0;
  time_point started{};
};

/// Crashes charged to a child's own budget (`child_spec::own_intensity`):
/// a count in a window that opens at the first crash, 16 bytes instead of
/// OTP's list of restart times, since there is one per connection.
struct own_budget {
  std::uint32_t crashes = 0;
  time_point window{};

  /// Charges one crash; false once the budget is spent.
  bool charge(const child_intensity& lim, time_point t) {
    if (crashes == 0 || window + lim.period < t) {
      window = t;
      crashes = 0;
    }
    ++crashes;
    return crashes <= static_cast<std::uint32_t>(std::max(lim.intensity, 0));
  }
};

/// A child listed in the spec or added by `start_child(spec)`.
struct static_child {
  child_spec spec;
  pid current; ///< Empty while not running.
  /// A restart is pending: a `try_again` in flight after a failed start, or
  /// a backoff delay (then `pending` is set).
  bool restarting = false;
  /// The token of the pending backoff restart, 0 if none. A timer whose
  /// token is no child's (cancelled or superseded meanwhile) is ignored.
  std::uint64_t pending = 0;
  backoff_track backoff{};
  own_budget budget{};
};

/// A child of a simple_one_for_one supervisor: only what differs between
/// children (the pid and the arguments), since tens of thousands may exist.
/// Its backoff track, when it has one, lives in a side table.
struct dynamic_child {
  pid current;
  std::any args;
  own_budget budget{};
};

/// A dynamic child between its end and its restart (rare: kept apart).
struct restarting_child {
  dynamic_child child;
  backoff_track backoff{};
};

struct stop_target {
  pid who;
  shutdown_mode how;
};

/// Stops children batch by batch: one child per batch gives OTP's reverse
/// order for static children; one batch of all gives simple_one_for_one's
/// concurrent stop, which is what makes stopping 10,000 sessions quick.
struct stop_op {
  std::deque<std::vector<stop_target>> batches;
  std::unordered_map<std::uint64_t, stop_target> waiting;
  std::function<void()> then;
};

/// An event that arrived while a stop was in progress, handled after it, in
/// arrival order, as OTP's synchronous supervisor would have.
struct deferred_event {
  pid from; ///< Set for an exit signal.
  exit_reason reason;
  std::function<void()> run; ///< Set for anything else.
};

struct start_outcome {
  pid child;
  std::string error;
  /// The child was spawned to acknowledge its init (proc_lib's `init_ack`):
  /// it counts as started only once that arrives.
  bool acks = false;
};

/// What to do once a started child acknowledged its init or ended first.
using start_continuation = std::function<void(start_outcome)>;

/// A static child whose start function has returned, awaiting its init
/// acknowledgement. Only one at a time: OTP's supervisor starts its static
/// children strictly one after the other.
struct awaited_start {
  pid child;
  start_continuation then;
};

sup_reply error_reply(supervisor_error::kind k, std::string reason = {}) {
  sup_reply r;
  r.error = supervisor_error{k, std::move(reason)};
  return r;
}

sup_reply pid_reply(pid x) {
  sup_reply r;
  r.child = std::move(x);
  return r;
}

/// The supervisor process's state. Handlers run one at a time in the
/// process, so nothing here needs a lock.
class supervisor_state {
public:
  supervisor_state(process self, supervisor_spec spec, init_promise done)
    : self_(self),
      name_(std::move(spec.name)),
      flags_(std::move(spec.flags)),
      clock_(std::move(spec.clock)),
      initial_(std::move(spec.children)),
      done_(std::move(done)) {
  }

  // -- lifecycle -----------------------------------------------------------------

  void init() {
    self_.trap_exit(true);
    self_id_ = self_.self().id();
    me_ = to_string(self_.self());
    parent_id_ = self_.parent() ? self_.parent().id() : 0;
    if (flags_.backoff)
      rng_.seed(std::random_device{}());
    in_init_ = true;
    if (auto problem = validate(); !problem.empty()) {
      fail_init(supervisor_error{supervisor_error::kind::bad_spec, problem}, {});
    } else if (simple()) {
      template_ = std::move(initial_.front());
      succeed_init();
    } else {
      start_initial(0);
    }
    in_init_ = false;
  }

  /// Starts the static children from `j` on, in order, each only once the
  /// previous one acknowledged its init (a child supervisor does so once its
  /// own children are up): OTP's `start_children`, without blocking.
  void start_initial(std::size_t j) {
    if (j == initial_.size()) {
      initial_.clear();
      succeed_init();
      return;
    }
    start_then(initial_[j], no_args_, [this, j](start_outcome out) {
      auto& spec = initial_[j];
      if (!out.child) {
        report_start_error(spec.id, out.error);
        std::vector<stop_target> started;
        for (auto i = children_.size(); i-- > 0;)
          started.push_back({children_[i].current, children_[i].spec.effective_shutdown()});
        auto err = supervisor_error{supervisor_error::kind::start_failed,
                                    fmt::format("failed_to_start_child id={} reason={}", spec.id,
                                                out.error)};
        initial_.clear();
        fail_init(std::move(err), std::move(started));
        return;
      }
      children_.push_back(static_child{std::move(spec), out.child});
      children_.back().backoff.started = now();
      start_initial(j + 1);
    });
  }

  /// Runs `spec`'s start function and calls `then` once the child counts as
  /// started: at once if it owes no acknowledgement (or the start failed),
  /// else when its `init_ack` arrives, or with its exit reason as the error
  /// if it ends first. Meanwhile the supervisor is busy: other events wait.
  void start_then(const child_spec& spec, const std::any& args, start_continuation then) {
    auto out = start_one(spec, args, true);
    if (!out.child || !out.acks)
      return then(std::move(out));
    awaiting_ = awaited_start{std::move(out.child), std::move(then)};
  }

  /// A child's init acknowledgement (`init_ack_atom`).
  void on_init_ack(std::uint64_t child) {
    if (awaiting_ && awaiting_->child.id() == child) {
      auto a = std::move(*awaiting_);
      awaiting_.reset();
      a.then(start_outcome{std::move(a.child), {}, true});
      drain_deferred();
      return;
    }
    if (auto p = pending_starts_.find(child); p != pending_starts_.end()) {
      auto rp = std::move(p->second);
      pending_starts_.erase(p);
      if (auto i = dynamic_.find(child); i != dynamic_.end())
        rp.deliver(pid_reply(i->second.current));
    }
    // Anything else: a process the start function spawned besides the
    // child, or a child stopped meanwhile; nothing waits for it.
  }

  /// The awaited child ended before acknowledging: a failed start with its
  /// exit reason, as proc_lib's `start_link` returns `{error, Reason}`.
  bool awaited_child_ended(const pid& who, const exit_reason& why) {
    if (!awaiting_ || awaiting_->child != who)
      return false;
    auto a = std::move(*awaiting_);
    awaiting_.reset();
    a.then(start_outcome{{}, to_string(why), true});
    drain_deferred();
    return true;
  }

  /// A simple_one_for_one child ended before acknowledging its init: the
  /// caller of `start_child` gets the failure; the child is not restarted.
  bool pending_child_ended(const pid& who, const exit_reason& why) {
    auto p = pending_starts_.find(who.id());
    if (p == pending_starts_.end())
      return false;
    auto rp = std::move(p->second);
    pending_starts_.erase(p);
    report_start_error(template_.id, to_string(why));
    rp.deliver(error_reply(supervisor_error::kind::start_failed, to_string(why)));
    if (stopping_ && stopping_->waiting.count(who.id()) != 0)
      return false; // a stop waits for it: let the stop see its end
    dynamic_.erase(who.id());
    dynamic_backoff_.erase(who.id());
    return true;
  }

  /// Children are watched by monitor (see `start_one`), so a child's end
  /// arrives as a down notification; exit signals come from the parent, from
  /// outside, or from a child that ended before its link was swapped.
  void on_exit_signal(const pid& from, const exit_reason& why) { child_ended(from, why, true); }

  void on_down(const pid& who, const exit_reason& why) { child_ended(who, why, false); }

  /// The supervisor process has ended (any reason, `kill` included): what
  /// its links would have done, end every child still running with it.
  void on_terminated(const caf::error& reason, const caf::actor_addr& self_addr) {
    auto why = exit_reason::from_caf(reason);
    if (!why.abnormal())
      why = exit_reason::shutdown();
    for (auto& c : children_)
      if (c.current)
        detail::send_exit_signal(c.current.handle(), why, self_addr);
    for (auto& kv : dynamic_)
      detail::send_exit_signal(kv.second.current.handle(), why, self_addr);
    if (awaiting_) // started, not yet acknowledged: it goes too
      detail::send_exit_signal(awaiting_->child.handle(), why, self_addr);
    // Ended before its children were all up (killed, or stopped while it
    // waited for an acknowledgement): `start` fails with the reason
    // instead of finding its promise broken.
    if (done_)
      done_->set_value(supervisor_result<pid>{supervisor_error{
        supervisor_error::kind::start_failed,
        fmt::format("the supervisor exited before its children were started: {}",
                    exit_reason::from_caf(reason))}});
    done_ = nullptr;
    awaiting_.reset();
    pending_starts_.clear();
    children_.clear();
    dynamic_.clear();
    restarting_.clear();
    dynamic_backoff_.clear();
    template_ = child_spec{};
    // Pending calls hold response promises, which hold this process: drop
    // them, or process and state would keep each other alive forever.
    deferred_.clear();
    deferred_exits_.clear();
    taken_exits_.clear();
    stopping_.reset();
  }

  void on_stop_timeout(std::uint64_t child_id) {
    if (!stopping_)
      return;
    auto i = stopping_->waiting.find(child_id);
    if (i == stopping_->waiting.end())
      return;
    log::warning("shutdown_timeout", log::kv("supervisor", me_), log::kv("name", name_),
                 log::kv("pid", i->second.who), log::kv("shutdown", to_string(i->second.how)));
    self_.exit(i->second.who, exit_reason::kill());
  }

  void on_exit_now() { self_.exit(pending_exit_); }

  // -- requests ------------------------------------------------------------------

  void on_request(sup_request req, caf::response_promise rp) {
    if (busy()) {
      deferred_.push_back(deferred_event{
        {}, {}, [this, req = std::move(req), rp]() mutable { on_request(std::move(req), rp); }});
      return;
    }
    switch (req.what) {
      case op::start_child_spec:
        return handle_start_child(std::move(*req.spec), rp);
      case op::start_child_args:
        return handle_start_child(std::move(req.args), rp);
      case op::terminate_id:
        return handle_terminate_child(req.id, rp);
      case op::terminate_pid:
        return handle_terminate_child(req.child, rp);
      case op::restart_id:
        return handle_restart_child(req.id, rp);
      case op::delete_id:
        return handle_delete_child(req.id, rp);
      case op::which:
        return handle_which_children(rp);
      case op::count:
        return handle_count_children(rp);
    }
  }

  void on_try_again(const std::string& id) {
    if (busy()) {
      deferred_.push_back(deferred_event{{}, {}, [this, id] { on_try_again(id); }});
      return;
    }
    auto idx = index_of(id);
    if (!idx || !children_[*idx].restarting)
      return; // terminated or deleted meanwhile
    if (!add_restart()) {
      give_up(id, {}, exit_reason::error("restart failed"));
      return;
    }
    restart_static(id);
  }

  void on_try_again(std::uint64_t serial) {
    if (busy()) {
      deferred_.push_back(deferred_event{{}, {}, [this, serial] { on_try_again(serial); }});
      return;
    }
    auto i = restarting_.find(serial);
    if (i == restarting_.end())
      return;
    if (!add_restart()) {
      restarting_.erase(i);
      give_up({}, {}, exit_reason::error("restart failed"));
      return;
    }
    auto out = start_one(template_, i->second.child.args);
    if (!out.child) {
      report_start_error({}, out.error);
      self_.send(self_.self(), try_again_atom::value, serial);
      return;
    }
    i->second.child.current = out.child;
    dynamic_.emplace(out.child.id(), std::move(i->second.child));
    restarting_.erase(i);
  }

  /// A backoff delay has passed: starts what is still waiting for it. The
  /// restart was counted when it was decided, so this one is not.
  void on_delayed_restart(std::uint64_t token) {
    if (busy()) {
      deferred_.push_back(deferred_event{{}, {}, [this, token] { on_delayed_restart(token); }});
      return;
    }
    if (simple())
      start_pending_dynamic(token);
    else
      start_pending_static(token);
  }

private:
  bool simple() const noexcept { return flags_.strategy == restart_strategy::simple_one_for_one; }
  bool busy() const noexcept { return stopping_.has_value() || exiting_ || awaiting_.has_value(); }

  std::string validate() const {
    if (flags_.intensity < 0)
      return "intensity must not be negative";
    if (flags_.period.count() <= 0)
      return "period must be positive";
    if (flags_.backoff)
      if (auto problem = libactor::validate(*flags_.backoff); !problem.empty())
        return problem;
    if (simple() && initial_.size() != 1)
      return "simple_one_for_one needs exactly one child spec";
    if (simple() && flags_.auto_shutdown != auto_shutdown_policy::never)
      return "auto_shutdown must be never for simple_one_for_one";
    std::unordered_set<std::string> ids;
    for (auto& spec : initial_) {
      if (!spec.start)
        return fmt::format("child {} has no start function", spec.id);
      if (!simple() && !ids.insert(spec.id).second)
        return fmt::format("duplicate child id {}", spec.id);
      if (auto problem = check_significant(spec); !problem.empty())
        return problem;
      if (spec.own_intensity
          && (spec.own_intensity->intensity < 0 || spec.own_intensity->period.count() <= 0))
        return fmt::format("child {}: own_intensity needs intensity >= 0 and a positive period",
                           spec.id);
    }
    return {};
  }

  /// OTP's rules for `significant`: never for a permanent child (it would
  /// never end unrestarted), never under `auto_shutdown never`.
  std::string check_significant(const child_spec& spec) const {
    if (!spec.significant)
      return {};
    if (spec.restart == restart_type::permanent)
      return fmt::format("child {}: a significant child must be transient or temporary", spec.id);
    if (flags_.auto_shutdown == auto_shutdown_policy::never)
      return fmt::format("child {}: significant needs auto_shutdown any_significant or "
                         "all_significant",
                         spec.id);
    return {};
  }

  /// A significant child ended and is not restarted: OTP's auto_shutdown.
  /// True if the supervisor is now shutting itself down.
  bool auto_shutdown(const std::string& id) {
    if (flags_.auto_shutdown == auto_shutdown_policy::all_significant)
      for (auto& c : children_)
        if (c.spec.significant && (c.current || c.restarting))
          return false; // another significant child still runs
    log::info("auto_shutdown", log::kv("supervisor", me_), log::kv("name", name_),
              log::kv("child_id", id), log::kv("policy", to_string(flags_.auto_shutdown)));
    shutdown_and_exit(exit_reason::shutdown());
    return true;
  }

  void succeed_init() {
    if (done_)
      done_->set_value(supervisor_result<pid>{self_.self()});
    done_ = nullptr;
    // A supervisor started by another one acknowledges only now, with its
    // whole subtree up: its parent starts its next child after that.
    self_.caf_self()->ack_init();
  }

  /// Stops the children started so far, then exits, as OTP's init does
  /// when a child fails to start.
  void fail_init(supervisor_error err, std::vector<stop_target> started) {
    auto reason = exit_reason::error(err.reason().empty() ? err.message() : err.reason());
    std::deque<std::vector<stop_target>> batches;
    for (auto& t : started)
      batches.push_back({t});
    stop_children(std::move(batches), [this, err = std::move(err), reason]() mutable {
      children_.clear();
      if (done_)
        done_->set_value(supervisor_result<pid>{std::move(err)});
      done_ = nullptr;
      finish(std::move(reason));
    });
  }

  /// Exits with `reason`; from inside `init` it goes through a message, so
  /// that it happens after the body has returned, in an ordinary handler.
  void finish(exit_reason reason) {
    exiting_ = true;
    if (in_init_) {
      pending_exit_ = std::move(reason);
      self_.send(self_.self(), exit_now_atom::value);
    } else {
      self_.exit(std::move(reason));
    }
  }

  /// Runs the start function. With `handshake`, what it spawns is marked to
  /// acknowledge its init, and `acks` tells whether the child it returned
  /// will (a start function may return a process it did not spawn itself).
  start_outcome start_one(const child_spec& spec, const std::any& args, bool handshake = false) {
    auto* actor = self_.caf_self();
    struct unmark {
      detail::process_actor* a;
      bool on;
      ~unmark() {
        if (on)
          a->mark_spawns(false);
      }
    } guard{actor, handshake};
    if (handshake)
      actor->mark_spawns(true);
    try {
      auto child = spec.start(self_, args);
      if (!child)
        return {{}, "start function returned no pid"};
      bool acks = handshake && actor->spawned_marked(child.id());
      // Swap the link for a monitor: a DOWN carries the same reason as the
      // EXIT would, and a monitor cannot be cut by anything the child does
      // (unlink, or a link it hands to another process). The children
      // still end with the supervisor (see `on_terminated`).
      self_.monitor(child);
      self_.unlink(child);
      return {std::move(child), {}, acks};
    } catch (const std::exception& e) {
      return {{}, e.what()};
    } catch (...) {
      return {{}, "unknown exception"};
    }
  }

  // -- child exits -----------------------------------------------------------------

  void child_ended(const pid& who, const exit_reason& why, bool by_signal) {
    if (by_signal)
      self_.demonitor(who); // the down notification would repeat the news
    if (awaited_child_ended(who, why))
      return;
    if (!pending_starts_.empty() && pending_child_ended(who, why))
      return;
    if (stopping_) {
      auto i = stopping_->waiting.find(who.id());
      if (i != stopping_->waiting.end()) {
        check_shutdown_reason(who, i->second.how, why);
        stopping_->waiting.erase(i);
        advance_stop();
        return;
      }
      deferred_.push_back(deferred_event{who, why, nullptr});
      ++deferred_exits_[who.id()];
      return;
    }
    if (awaiting_) { // handled after the start in progress, as OTP would
      deferred_.push_back(deferred_event{who, why, nullptr});
      ++deferred_exits_[who.id()];
      return;
    }
    handle_exit(who, why);
  }

  void handle_exit(const pid& from, const exit_reason& why) {
    if (exiting_)
      return;
    // An exit from the parent (or from outside any process, which arrives
    // as if from this process) ends the supervisor, children first.
    if ((parent_id_ != 0 && from.id() == parent_id_) || from.id() == self_id_) {
      log::debug("supervisor_stopping", log::kv("supervisor", me_), log::kv("name", name_),
                 log::kv("reason", why));
      shutdown_and_exit(why);
      return;
    }
    // While the node stops, every process gets `shutdown` at once: restarting
    // a child would only race that stop. The child whose exit this is has
    // ended and its news is consumed here: forget it first, or the stop
    // below would wait for a down notification that never comes (and kill
    // it after its shutdown timeout, and the tree above would hang).
    if (!self_.owner().running()) {
      forget_child(from);
      shutdown_and_exit(exit_reason::shutdown());
      return;
    }
    if (simple())
      handle_dynamic_exit(from, why);
    else
      handle_static_exit(from, why);
  }

  /// Drops an ended child from the books without acting on its exit.
  void forget_child(const pid& from) {
    if (simple()) {
      dynamic_.erase(from.id());
      dynamic_backoff_.erase(from.id());
      return;
    }
    if (auto idx = index_of(from)) {
      children_[*idx].current = pid{};
      children_[*idx].restarting = false;
      children_[*idx].pending = 0;
    }
  }

  void handle_static_exit(const pid& from, const exit_reason& why) {
    auto idx = index_of(from);
    if (!idx) {
      log::debug("supervisor_unknown_exit", log::kv("supervisor", me_),
                 log::kv("from", from), log::kv("reason", why));
      return;
    }
    auto& c = children_[*idx];
    bool restart = needs_restart(c.spec.restart, why);
    report_child_terminated(c.spec.id, from, why, restart);
    c.current = pid{};
    if (!restart) {
      auto significant = c.spec.significant;
      auto ended = c.spec.id;
      if (c.spec.restart == restart_type::temporary)
        children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*idx));
      if (significant)
        auto_shutdown(ended);
      return;
    }
    auto id = c.spec.id;
    if (c.spec.own_intensity) {
      if (!c.budget.charge(*c.spec.own_intensity, now())) {
        give_up_child(c.spec, no_args_, from, why);
        if (c.spec.restart == restart_type::temporary)
          children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*idx));
        return;
      }
    } else if (!add_restart()) {
      give_up(id, from, why);
      return;
    }
    if (flags_.backoff)
      delay_restart(*idx, true);
    else
      restart_static(id);
  }

  void handle_dynamic_exit(const pid& from, const exit_reason& why) {
    auto i = dynamic_.find(from.id());
    if (i == dynamic_.end()) {
      log::debug("supervisor_unknown_exit", log::kv("supervisor", me_),
                 log::kv("from", from), log::kv("reason", why));
      return;
    }
    bool restart = needs_restart(template_.restart, why);
    report_child_terminated(template_.id, from, why, restart);
    if (!restart) {
      dynamic_.erase(i);
      if (flags_.backoff)
        dynamic_backoff_.erase(from.id());
      return;
    }
    if (template_.own_intensity) {
      if (!i->second.budget.charge(*template_.own_intensity, now())) {
        auto args = std::move(i->second.args);
        dynamic_.erase(i);
        if (flags_.backoff)
          dynamic_backoff_.erase(from.id());
        give_up_child(template_, args, from, why);
        return;
      }
    } else if (!add_restart()) {
      dynamic_.erase(i);
      give_up(template_.id, from, why);
      return;
    }
    if (flags_.backoff) {
      backoff_track track;
      if (auto t = dynamic_backoff_.find(from.id()); t != dynamic_backoff_.end()) {
        track = t->second;
        dynamic_backoff_.erase(t);
      }
      auto child = std::move(i->second);
      dynamic_.erase(i);
      child.current = pid{};
      delay_dynamic(restarting_child{std::move(child), track}, true);
      return;
    }
    // The hot path of a session crash: reuse the map node, no allocation.
    auto node = dynamic_.extract(i);
    auto out = start_one(template_, node.mapped().args);
    if (!out.child) {
      report_start_error(template_.id, out.error);
      auto serial = next_serial_++;
      node.mapped().current = pid{};
      restarting_.emplace(serial, restarting_child{std::move(node.mapped())});
      self_.send(self_.self(), try_again_atom::value, serial);
      return;
    }
    node.key() = out.child.id();
    node.mapped().current = std::move(out.child);
    dynamic_.insert(std::move(node));
  }

  /// A child past its own budget: dropped, logged, its owner told; the
  /// supervisor's intensity is untouched (`child_spec::own_intensity`).
  void give_up_child(const child_spec& spec, const std::any& args, const pid& from,
                     const exit_reason& why) {
    log::warning("child_budget_spent", log::kv("supervisor", me_), log::kv("child", spec.id),
                 log::kv("pid", from), log::kv("reason", why),
                 log::kv("intensity", spec.own_intensity->intensity),
                 log::kv("period_ms", spec.own_intensity->period.count()));
    if (spec.on_give_up) {
      try {
        spec.on_give_up(args);
      } catch (const std::exception& e) {
        log::error("child_give_up_hook_failed", log::kv("supervisor", me_),
                   log::kv("child", spec.id), log::kv("error", e.what()));
      }
    }
  }

  /// OTP's `add_restart`: true while within intensity.
  bool add_restart() {
    auto t = now();
    restarts_.push_back(t);
    while (!restarts_.empty() && restarts_.front() + flags_.period < t)
      restarts_.pop_front();
    return restarts_.size() <= static_cast<std::size_t>(flags_.intensity);
  }

  void restart_static(const std::string& id) {
    auto idx = *index_of(id);
    switch (flags_.strategy) {
      case restart_strategy::one_for_one:
      case restart_strategy::simple_one_for_one:
        start_range(idx, idx + 1);
        return;
      case restart_strategy::one_for_all:
        restart_group(id, 0);
        return;
      case restart_strategy::rest_for_one:
        restart_group(id, idx);
        return;
    }
  }

  /// Stops the running children from `first` on (except `id`, which is not
  /// running), newest first; forgets the temporary ones; starts the rest in
  /// order. OTP's `restart_multiple_children`.
  void restart_group(const std::string& id, std::size_t first) {
    stop_group(id, first, [this](std::size_t from) { start_range(from, children_.size()); });
  }

  /// The first half of a group restart: stops the running children from
  /// `first` on, newest first, and forgets the temporary ones; then runs
  /// `then` with the index from which the group starts again.
  void stop_group(const std::string& id, std::size_t first, std::function<void(std::size_t)> then) {
    std::deque<std::vector<stop_target>> batches;
    for (auto j = children_.size(); j-- > first;)
      if (children_[j].current)
        batches.push_back({stop_target{children_[j].current, children_[j].spec.effective_shutdown()}});
    stop_children(std::move(batches), [this, id, first, then = std::move(then)] {
      for (auto j = first; j < children_.size(); ++j)
        children_[j].current = pid{};
      auto end = std::remove_if(children_.begin() + static_cast<std::ptrdiff_t>(first),
                                children_.end(), [](const static_child& c) {
                                  return c.spec.restart == restart_type::temporary;
                                });
      children_.erase(end, children_.end());
      then(flags_.strategy == restart_strategy::one_for_all ? 0 : *index_of(id));
    });
  }

  // -- restart backoff -------------------------------------------------------------

  time_point now() const { return clock_ ? clock_() : std::chrono::steady_clock::now(); }

  /// The delay of the restart being decided for child `id` with `track`,
  /// which it advances. Only a child that ran (`was_up`, as opposed to a
  /// start that failed) can have stayed up long enough for the count to
  /// start over (Akka's resetBackoffAfter, measured from its last start).
  std::chrono::milliseconds next_delay(const std::string& id, backoff_track& track, bool was_up) {
    auto& b = *flags_.backoff;
    if (was_up && now() - track.started >= b.effective_reset_after())
      track.attempt = 0;
    // u in [0, 1) exactly: uniform_real_distribution may return 1.0.
    auto u = static_cast<double>(rng_() - std::minstd_rand::min())
             / (static_cast<double>(std::minstd_rand::max() - std::minstd_rand::min()) + 1.0);
    auto delay = restart_delay(b, track.attempt, u);
    report_delayed_restart(id, track.attempt, delay);
    if (track.attempt < 64)
      ++track.attempt; // beyond 64 doublings every delay is `max` anyway
    return delay;
  }

  /// Schedules the (counted) restart of static child `idx` after its backoff
  /// delay. For a group strategy the group is stopped now, as OTP would,
  /// and all of it waits for the same timer.
  void delay_restart(std::size_t idx, bool was_up) {
    auto& c = children_[idx];
    auto delay = next_delay(c.spec.id, c.backoff, was_up);
    auto token = next_serial_++;
    auto pend = [this, token, delay](std::size_t from, std::size_t last) {
      for (auto j = from; j < last; ++j) {
        children_[j].restarting = true;
        children_[j].pending = token;
      }
      self_.send_after(delay, delayed_restart_atom::value, token);
    };
    switch (flags_.strategy) {
      case restart_strategy::one_for_one:
      case restart_strategy::simple_one_for_one:
        pend(idx, idx + 1);
        return;
      case restart_strategy::one_for_all:
      case restart_strategy::rest_for_one: {
        auto first = flags_.strategy == restart_strategy::one_for_all ? 0 : idx;
        stop_group(c.spec.id, first, [this, pend](std::size_t from) { pend(from, children_.size()); });
        return;
      }
    }
  }

  /// Starts, in order, the static children still waiting for `token`; a
  /// token no child holds is a timer of a restart cancelled or superseded
  /// meanwhile. A failed start is retried after the next delay, counted.
  void start_pending_static(std::uint64_t token, std::size_t from = 0) {
    for (std::size_t j = from; j < children_.size(); ++j) {
      auto& c = children_[j];
      if (c.pending != token)
        continue;
      c.pending = 0;
      c.restarting = false;
      start_then(c.spec, no_args_, [this, j, token](start_outcome out) {
        auto& c = children_[j];
        if (!out.child) {
          report_start_error(c.spec.id, out.error);
          if (!add_restart()) {
            give_up(c.spec.id, {}, exit_reason::error("restart failed"));
            return;
          }
          delay_restart(j, false);
          return;
        }
        c.current = std::move(out.child);
        c.backoff.started = now();
        start_pending_static(token, j + 1);
      });
      return;
    }
    if (from == 0)
      report_stale_timer(token);
  }

  /// Puts `x` among the restarting children and schedules its start.
  void delay_dynamic(restarting_child x, bool was_up) {
    auto delay = next_delay(template_.id, x.backoff, was_up);
    auto serial = next_serial_++;
    restarting_.emplace(serial, std::move(x));
    self_.send_after(delay, delayed_restart_atom::value, serial);
  }

  void start_pending_dynamic(std::uint64_t serial) {
    auto i = restarting_.find(serial);
    if (i == restarting_.end())
      return report_stale_timer(serial);
    auto x = std::move(i->second);
    restarting_.erase(i);
    auto out = start_one(template_, x.child.args);
    if (!out.child) {
      report_start_error(template_.id, out.error);
      if (!add_restart()) {
        give_up(template_.id, {}, exit_reason::error("restart failed"));
        return;
      }
      delay_dynamic(std::move(x), false);
      return;
    }
    x.backoff.started = now();
    dynamic_backoff_[out.child.id()] = x.backoff;
    x.child.current = out.child;
    dynamic_.emplace(out.child.id(), std::move(x.child));
  }

  /// Starts the stopped children in [first, last) in order; on a failure
  /// marks the child `restarting` and retries later through a message (the
  /// retry counts as a restart, so a child that never starts escalates).
  void start_range(std::size_t first, std::size_t last) {
    auto j = first;
    while (j < last && children_[j].current)
      ++j;
    if (j >= last)
      return;
    // Each child only once the previous one acknowledged its init.
    start_then(children_[j].spec, no_args_, [this, j, last](start_outcome out) {
      auto& c = children_[j];
      if (!out.child) {
        report_start_error(c.spec.id, out.error);
        c.restarting = true;
        self_.send(self_.self(), try_again_atom::value, c.spec.id);
        return;
      }
      c.current = std::move(out.child);
      c.restarting = false;
      start_range(j + 1, last);
    });
  }

  void give_up(const std::string& id, const pid& from, const exit_reason& why) {
    log::error("reached_max_restart_intensity", log::kv("supervisor", me_),
               log::kv("name", name_), log::kv("child_id", id), log::kv("pid", from),
               log::kv("reason", why), log::kv("intensity", flags_.intensity),
               log::kv("period_ms", flags_.period.count()));
    stop_all_children([this] {
      log::error("shutdown", log::kv("supervisor", me_), log::kv("name", name_),
                 log::kv("reason", "reached_max_restart_intensity"));
      finish(exit_reason::shutdown());
    });
  }

  void shutdown_and_exit(exit_reason why) {
    stop_all_children([this, why]() mutable { finish(std::move(why)); });
  }

  /// Static children newest first, one at a time; dynamic ones all at once.
  void stop_all_children(std::function<void()> then) {
    std::deque<std::vector<stop_target>> batches;
    if (simple()) {
      std::vector<stop_target> all;
      all.reserve(dynamic_.size());
      auto how = template_.effective_shutdown();
      for (auto& kv : dynamic_)
        all.push_back({kv.second.current, how});
      batches.push_back(std::move(all));
    } else {
      for (auto j = children_.size(); j-- > 0;)
        if (children_[j].current)
          batches.push_back({stop_target{children_[j].current, children_[j].spec.effective_shutdown()}});
    }
    // Pending backoff restarts go with the children: their timers, when
    // they fire, find no token to act on.
    stop_children(std::move(batches), [this, then = std::move(then)] {
      children_.clear();
      dynamic_.clear();
      restarting_.clear();
      dynamic_backoff_.clear();
      then();
    });
  }

  // -- stopping children -----------------------------------------------------------

  void stop_children(std::deque<std::vector<stop_target>> batches, std::function<void()> then) {
    stopping_.emplace();
    stopping_->batches = std::move(batches);
    stopping_->then = std::move(then);
    advance_stop();
  }

  void advance_stop() {
    while (stopping_ && stopping_->waiting.empty()) {
      if (stopping_->batches.empty()) {
        auto then = std::move(stopping_->then);
        stopping_.reset();
        then();
        drain_deferred();
        return;
      }
      auto batch = std::move(stopping_->batches.front());
      stopping_->batches.pop_front();
      for (auto& t : batch)
        begin_stop(t);
    }
  }

  /// OTP's `shutdown/2`: `shutdown` then `kill` after the timeout, or `kill`
  /// at once; the child's down notification is the acknowledgement.
  void begin_stop(const stop_target& t) {
    if (!t.who || take_deferred_exit(t.who))
      return; // already ended; its exit was held back while we were busy
    stopping_->waiting.emplace(t.who.id(), t);
    switch (t.how.what()) {
      case shutdown_mode::kind::brutal_kill:
        self_.exit(t.who, exit_reason::kill());
        break;
      case shutdown_mode::kind::timeout:
        self_.exit(t.who, exit_reason::shutdown());
        self_.send_after(t.how.timeout(), stop_timeout_atom::value, t.who.id());
        break;
      case shutdown_mode::kind::infinity:
        self_.exit(t.who, exit_reason::shutdown());
        break;
    }
  }

  /// Consumes the first held-back exit of `who`, if any. Constant time: a
  /// stop of tens of thousands of children must not scan the deferred
  /// queue once per child. The event stays queued, marked to be skipped
  /// (the first exit of `who` there, as erasing it would have removed).
  bool take_deferred_exit(const pid& who) {
    auto i = deferred_exits_.find(who.id());
    if (i == deferred_exits_.end())
      return false;
    if (--i->second == 0)
      deferred_exits_.erase(i);
    ++taken_exits_[who.id()];
    return true;
  }

  /// True if this deferred exit was consumed by `take_deferred_exit`.
  bool skip_taken_exit(const pid& from) {
    auto id = from.id();
    if (auto t = taken_exits_.find(id); t != taken_exits_.end()) {
      if (--t->second == 0)
        taken_exits_.erase(t);
      return true;
    }
    if (auto d = deferred_exits_.find(id); d != deferred_exits_.end() && --d->second == 0)
      deferred_exits_.erase(d);
    return false;
  }

  void check_shutdown_reason(const pid& who, const shutdown_mode& how, const exit_reason& why) {
    bool expected = why.what() == exit_reason::kind::shutdown
                    || (why.what() == exit_reason::kind::killed
                        && how.what() != shutdown_mode::kind::infinity);
    if (!expected)
      log::error("shutdown_error", log::kv("supervisor", me_), log::kv("name", name_),
                 log::kv("pid", who), log::kv("reason", why));
  }

  void drain_deferred() {
    if (draining_)
      return;
    draining_ = true;
    while (!busy() && !deferred_.empty()) {
      auto ev = std::move(deferred_.front());
      deferred_.pop_front();
      if (ev.run)
        ev.run();
      else if (!skip_taken_exit(ev.from))
        handle_exit(ev.from, ev.reason);
    }
    draining_ = false;
  }

  // -- API handlers ------------------------------------------------------------------

  void handle_start_child(child_spec spec, caf::response_promise& rp) {
    using k = supervisor_error::kind;
    if (simple())
      return rp.deliver(error_reply(k::simple_one_for_one, "start_child takes arguments here"));
    if (!spec.start)
      return rp.deliver(error_reply(k::bad_spec, "no start function"));
    if (auto problem = check_significant(spec); !problem.empty())
      return rp.deliver(error_reply(k::bad_spec, problem));
    if (auto idx = index_of(spec.id)) {
      auto& c = children_[*idx];
      if (c.current)
        return rp.deliver(error_reply(k::already_started, to_string(c.current)));
      return rp.deliver(error_reply(k::already_present, spec.id));
    }
    auto shared = std::make_shared<child_spec>(std::move(spec));
    start_then(*shared, no_args_, [this, shared, rp](start_outcome out) mutable {
      if (!out.child) {
        report_start_error(shared->id, out.error);
        return rp.deliver(error_reply(
          k::start_failed, fmt::format("id={} reason={}", shared->id, out.error)));
      }
      children_.push_back(static_child{std::move(*shared), out.child});
      children_.back().backoff.started = now();
      rp.deliver(pid_reply(out.child));
    });
  }

  void handle_start_child(std::any args, caf::response_promise& rp) {
    using k = supervisor_error::kind;
    if (!simple())
      return rp.deliver(error_reply(k::bad_spec, "start_child with arguments needs simple_one_for_one"));
    // A cast (`cast_start_child`) has no one to answer: no handshake, an
    // init that fails is an ordinary crash. A call is answered once the
    // child acknowledged its init; meanwhile other requests are served.
    bool handshake = !rp.async();
    auto out = start_one(template_, args, handshake);
    if (!out.child) {
      report_start_error(template_.id, out.error);
      return rp.deliver(error_reply(k::start_failed, out.error));
    }
    // A temporary child is never restarted, so its arguments need not stay.
    if (template_.restart == restart_type::temporary)
      args.reset();
    dynamic_.emplace(out.child.id(), dynamic_child{out.child, std::move(args)});
    if (out.acks)
      pending_starts_.emplace(out.child.id(), rp);
    else
      rp.deliver(pid_reply(out.child));
  }

  void handle_terminate_child(const std::string& id, caf::response_promise& rp) {
    using k = supervisor_error::kind;
    if (simple())
      return rp.deliver(error_reply(k::simple_one_for_one, "terminate_child takes a pid here"));
    auto idx = index_of(id);
    if (!idx)
      return rp.deliver(error_reply(k::not_found, id));
    auto& c = children_[*idx];
    // Cancels a pending restart (its timer will find no token) and ends the
    // crash loop, so the backoff starts over.
    c.restarting = false;
    c.pending = 0;
    c.backoff.attempt = 0;
    auto done = [this, id, rp]() mutable {
      if (auto j = index_of(id)) {
        children_[*j].current = pid{};
        if (children_[*j].spec.restart == restart_type::temporary)
          children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*j));
      }
      rp.deliver(sup_reply{});
    };
    if (!c.current)
      return done();
    std::deque<std::vector<stop_target>> batches;
    batches.push_back({stop_target{c.current, c.spec.effective_shutdown()}});
    stop_children(std::move(batches), std::move(done));
  }

  void handle_terminate_child(const pid& child, caf::response_promise& rp) {
    using k = supervisor_error::kind;
    if (!simple())
      return rp.deliver(error_reply(k::not_found, "terminate_child by pid needs simple_one_for_one"));
    auto i = dynamic_.find(child.id());
    if (!child || i == dynamic_.end())
      return rp.deliver(error_reply(k::not_found, to_string(child)));
    std::deque<std::vector<stop_target>> batches;
    batches.push_back({stop_target{child, template_.effective_shutdown()}});
    stop_children(std::move(batches), [this, child, rp]() mutable {
      dynamic_.erase(child.id());
      dynamic_backoff_.erase(child.id());
      rp.deliver(sup_reply{});
    });
  }

  /// The stopped static child `id`, which restart_child and delete_child
  /// act on; otherwise answers `rp` with OTP's error and returns nullopt.
  /// `waiting_ok`: a child waiting out a backoff delay counts as stopped.
  std::optional<std::size_t> stopped_child(const std::string& id, caf::response_promise& rp,
                                           bool waiting_ok) {
    using k = supervisor_error::kind;
    if (simple()) {
      rp.deliver(error_reply(k::simple_one_for_one));
      return std::nullopt;
    }
    auto idx = index_of(id);
    if (!idx) {
      rp.deliver(error_reply(k::not_found, id));
      return std::nullopt;
    }
    auto& c = children_[*idx];
    bool waiting = waiting_ok && c.pending != 0;
    if (c.current || (c.restarting && !waiting)) {
      rp.deliver(error_reply(c.current ? k::running : k::restarting, id));
      return std::nullopt;
    }
    return idx;
  }

  void handle_restart_child(const std::string& id, caf::response_promise& rp) {
    using k = supervisor_error::kind;
    auto idx = stopped_child(id, rp, true);
    if (!idx)
      return;
    auto& c = children_[*idx];
    // Starting now cancels the pending restart: its timer finds no token.
    c.pending = 0;
    c.restarting = false;
    auto j = *idx;
    start_then(c.spec, no_args_, [this, j, id, rp](start_outcome out) mutable {
      if (!out.child) {
        report_start_error(id, out.error);
        return rp.deliver(
          error_reply(k::start_failed, fmt::format("id={} reason={}", id, out.error)));
      }
      auto& c = children_[j];
      c.current = out.child;
      c.backoff.started = now();
      rp.deliver(pid_reply(out.child));
    });
  }

  void handle_delete_child(const std::string& id, caf::response_promise& rp) {
    auto idx = stopped_child(id, rp, false);
    if (!idx)
      return;
    children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*idx));
    rp.deliver(sup_reply{});
  }

  void handle_which_children(caf::response_promise& rp) {
    sup_reply r;
    if (simple()) {
      r.children.reserve(dynamic_.size() + restarting_.size());
      for (auto& kv : dynamic_)
        r.children.push_back({{}, kv.second.current, child_info::state::running, template_.type});
      for (std::size_t i = 0; i < restarting_.size(); ++i)
        r.children.push_back({{}, {}, child_info::state::restarting, template_.type});
    } else {
      for (auto& c : children_) {
        auto status = c.current      ? child_info::state::running
                      : c.restarting ? child_info::state::restarting
                                     : child_info::state::undefined;
        r.children.push_back({c.spec.id, c.current, status, c.spec.type});
      }
    }
    rp.deliver(std::move(r));
  }

  void handle_count_children(caf::response_promise& rp) {
    sup_reply r;
    auto& n = r.counts;
    if (simple()) {
      n.specs = 1;
      n.active = dynamic_.size();
      auto total = dynamic_.size() + restarting_.size();
      (template_.type == child_type::supervisor ? n.supervisors : n.workers) = total;
    } else {
      n.specs = children_.size();
      for (auto& c : children_) {
        if (c.current)
          ++n.active;
        ++(c.spec.type == child_type::supervisor ? n.supervisors : n.workers);
      }
    }
    rp.deliver(std::move(r));
  }

  // -- helpers -------------------------------------------------------------------------

  std::optional<std::size_t> index_of(const std::string& id) const {
    for (std::size_t j = 0; j < children_.size(); ++j)
      if (children_[j].spec.id == id)
        return j;
    return std::nullopt;
  }

  std::optional<std::size_t> index_of(const pid& who) const {
    for (std::size_t j = 0; j < children_.size(); ++j)
      if (children_[j].current == who)
        return j;
    return std::nullopt;
  }

  void report_child_terminated(const std::string& id, const pid& who, const exit_reason& why,
                               bool restart) {
    // OTP reports every exit it acts on and every abnormal one.
    if (!restart && !why.abnormal())
      return;
    auto lvl = why.abnormal() ? log::level::error : log::level::info;
    if (!log::enabled(lvl))
      return;
    log::write(lvl, "child_terminated",
               {log::kv("supervisor", me_), log::kv("name", name_), log::kv("child_id", id),
                log::kv("pid", who), log::kv("reason", why),
                log::kv("action", restart ? "restart" : "none")});
  }

  void report_start_error(const std::string& id, const std::string& why) {
    log::error("start_error", log::kv("supervisor", me_), log::kv("name", name_),
               log::kv("child_id", id), log::kv("reason", why));
  }

  /// `attempt` counts the backoff restarts in a row before this one (0: the
  /// delay is `min`, the count having started over if it had run).
  void report_delayed_restart(const std::string& id, unsigned attempt,
                              std::chrono::milliseconds delay) {
    log::info("restart_delayed", log::kv("supervisor", me_), log::kv("name", name_),
              log::kv("child_id", id), log::kv("attempt", attempt), log::kv("delay_ms", delay.count()));
  }

  void report_stale_timer(std::uint64_t token) {
    log::debug("restart_timer_ignored", log::kv("supervisor", me_), log::kv("name", name_),
               log::kv("token", token));
  }

  process self_;
  // Ids, not pids: a strong reference to itself (or to its parent, which
  // holds one to this supervisor) would keep the actors alive forever.
  std::uint64_t self_id_ = 0;
  std::uint64_t parent_id_ = 0;
  std::string me_;
  std::string name_;
  supervisor_flags flags_;
  std::function<time_point()> clock_;
  std::vector<child_spec> initial_;
  init_promise done_;
  const std::any no_args_;

  std::vector<static_child> children_;
  child_spec template_;
  std::unordered_map<std::uint64_t, dynamic_child> dynamic_;
  std::unordered_map<std::uint64_t, restarting_child> restarting_;
  /// Running dynamic children that came back through a backoff restart, by
  /// pid id; absent means attempt 0. Only used with flags.backoff.
  std::unordered_map<std::uint64_t, backoff_track> dynamic_backoff_;
  /// Serials of restarting dynamic children and tokens of pending backoff
  /// restarts alike: never reused, so a late timer cannot match a newer one.
  std::uint64_t next_serial_ = 1;
  std::minstd_rand rng_; ///< The backoff's random draws (seeded only with a backoff).

  std::deque<std::chrono::steady_clock::time_point> restarts_;
  /// The static child whose init acknowledgement is awaited, if any.
  std::optional<awaited_start> awaiting_;
  /// simple_one_for_one: `start_child` calls whose child has not yet
  /// acknowledged its init, by child id. The child is already in `dynamic_`.
  std::unordered_map<std::uint64_t, caf::response_promise> pending_starts_;
  std::optional<stop_op> stopping_;
  std::deque<deferred_event> deferred_;
  /// Per child id: exits held in `deferred_` not yet consumed, and exits
  /// consumed by `take_deferred_exit` that `drain_deferred` must skip.
  std::unordered_map<std::uint64_t, std::size_t> deferred_exits_;
  std::unordered_map<std::uint64_t, std::size_t> taken_exits_;
  bool draining_ = false;
  bool in_init_ = false;
  bool exiting_ = false;
  exit_reason pending_exit_;
};

caf::behavior supervisor_body(process& self, supervisor_spec& spec, init_promise& done) {
  auto st = std::make_shared<supervisor_state>(self, std::move(spec), std::move(done));
  // A supervisor acknowledges its own start (to a supervisor above it)
  // only once its children are up, not when this body returns.
  self.caf_self()->defer_init_ack();
  self.caf_self()->set_stops_own_children();
  self.on_exit([st](const pid& from, const exit_reason& why) { st->on_exit_signal(from, why); });
  self.on_down([st](const pid& who, const exit_reason& why) { st->on_down(who, why); });
  auto* actor = self.caf_self();
  actor->attach_functor([st, addr = actor->address()](const caf::error& reason) {
    st->on_terminated(reason, addr);
  });
  st->init();
  return {
    [st, actor](sup_request& req) -> caf::response_promise {
      auto rp = actor->make_response_promise();
      st->on_request(std::move(req), rp);
      return rp;
    },
    [st](stop_timeout_atom, std::uint64_t child) { st->on_stop_timeout(child); },
    [st](try_again_atom, const std::string& id) { st->on_try_again(id); },
    [st](try_again_atom, std::uint64_t serial) { st->on_try_again(serial); },
    [st](delayed_restart_atom, std::uint64_t token) { st->on_delayed_restart(token); },
    [st](exit_now_atom) { st->on_exit_now(); },
    [st](detail::init_ack_atom, std::uint64_t child) { st->on_init_ack(child); },
  };
}

// -- calls -------------------------------------------------------------------------

template <class T, class F>
supervisor_result<T> blocking_call(node& owner, const pid& sup, std::chrono::milliseconds timeout,
                                   sup_request req, F extract) {
  auto r = call<sup_reply>(owner, sup, timeout, std::move(req));
  if (!r)
    return supervisor_error{supervisor_error::kind::call_failed, r.error().message()};
  if (r.value().error)
    return *r.value().error;
  return extract(r.value());
}

/// A call from inside a process: `then` runs in `self` with the outcome.
template <class T, class F>
void async_call(process& self, const pid& sup, std::chrono::milliseconds timeout, sup_request req,
                std::function<void(supervisor_result<T>)> then, F extract) {
  auto shared = std::make_shared<std::function<void(supervisor_result<T>)>>(std::move(then));
  self.call(sup, timeout, std::move(req))
    .then(
      [shared, extract](sup_reply& r) {
        if (r.error)
          (*shared)(supervisor_result<T>{std::move(*r.error)});
        else
          (*shared)(supervisor_result<T>{extract(r)});
      },
      [shared](const call_error& e) {
        (*shared)(
          supervisor_result<T>{supervisor_error{supervisor_error::kind::call_failed, e.message()}});
      });
}

sup_request make_request(op what) {
  sup_request req;
  req.what = what;
  return req;
}

} // namespace

// -- public API ----------------------------------------------------------------------

namespace supervisor {

supervisor_result<pid> start(node& owner, supervisor_spec spec, std::chrono::milliseconds timeout) {
  if (owner.on_io_thread()) // the new supervisor would get this thread, which would be waiting
    return supervisor_error{supervisor_error::kind::call_failed,
                            "supervisor::start(node&, ...) on an I/O thread would block it; "
                            "use supervisor::start_link from a process"};
  auto done = std::make_shared<std::promise<supervisor_result<pid>>>();
  auto result = done->get_future();
  auto name = spec.name;
  auto sup = spawn(owner, spawn_options{std::move(name)}, supervisor_body, std::move(spec),
                   std::move(done));
  if (result.wait_for(timeout) != std::future_status::ready) {
    // As proc_lib's start on timeout: kill it, untrappably. Its children
    // end with it (see `on_terminated`), theirs with them: the whole tree.
    exit(sup, exit_reason::kill());
    return supervisor_error{supervisor_error::kind::call_failed,
                            "timeout: the supervisor did not finish starting its children in time"};
  }
  try {
    return result.get();
  } catch (const std::future_error&) {
    // The supervisor's state went away without an answer (a path that
    // does not pass through `on_terminated`): still an error, not a throw.
    return supervisor_error{supervisor_error::kind::start_failed,
                            "the supervisor exited before its children were started"};
  }
}

pid start_link(process& parent, supervisor_spec spec) {
  auto name = spec.name;
  return parent.spawn_with(detail::spawn_mode::link, spawn_options{std::move(name)}, supervisor_body,
                           std::move(spec), init_promise{});
}

child_spec child(std::string id, supervisor_spec spec) {
  child_spec out;
  out.id = std::move(id);
  out.start = [spec = std::move(spec)](process& sup, const std::any&) {
    return start_link(sup, spec);
  };
  out.restart = restart_type::permanent;
  out.shutdown = shutdown_mode::infinity();
  out.type = child_type::supervisor;
  return out;
}

supervisor_result<pid> start_child(node& owner, const pid& sup, child_spec spec,
                                   std::chrono::milliseconds timeout) {
  auto req = make_request(op::start_child_spec);
  req.spec = std::move(spec);
  return blocking_call<pid>(owner, sup, timeout, std::move(req),
                            [](sup_reply& r) { return std::move(r.child); });
}

supervisor_result<pid> start_child(node& owner, const pid& sup, std::any args,
                                   std::chrono::milliseconds timeout) {
  auto req = make_request(op::start_child_args);
  req.args = std::move(args);
  return blocking_call<pid>(owner, sup, timeout, std::move(req),
                            [](sup_reply& r) { return std::move(r.child); });
}

supervisor_result<ok_t> terminate_child(node& owner, const pid& sup, const std::string& id,
                                        std::chrono::milliseconds timeout) {
  auto req = make_request(op::terminate_id);
  req.id = id;
  return blocking_call<ok_t>(owner, sup, timeout, std::move(req), [](sup_reply&) { return ok_t{}; });
}

supervisor_result<ok_t> terminate_child(node& owner, const pid& sup, const pid& child,
                                        std::chrono::milliseconds timeout) {
  auto req = make_request(op::terminate_pid);
  req.child = child;
  return blocking_call<ok_t>(owner, sup, timeout, std::move(req), [](sup_reply&) { return ok_t{}; });
}

supervisor_result<pid> restart_child(node& owner, const pid& sup, const std::string& id,
                                     std::chrono::milliseconds timeout) {
  auto req = make_request(op::restart_id);
  req.id = id;
  return blocking_call<pid>(owner, sup, timeout, std::move(req),
                            [](sup_reply& r) { return std::move(r.child); });
}

supervisor_result<ok_t> delete_child(node& owner, const pid& sup, const std::string& id,
                                     std::chrono::milliseconds timeout) {
  auto req = make_request(op::delete_id);
  req.id = id;
  return blocking_call<ok_t>(owner, sup, timeout, std::move(req), [](sup_reply&) { return ok_t{}; });
}

supervisor_result<std::vector<child_info>> which_children(node& owner, const pid& sup,
                                                          std::chrono::milliseconds timeout) {
  return blocking_call<std::vector<child_info>>(owner, sup, timeout, make_request(op::which),
                                                [](sup_reply& r) { return std::move(r.children); });
}

supervisor_result<child_counts> count_children(node& owner, const pid& sup,
                                               std::chrono::milliseconds timeout) {
  return blocking_call<child_counts>(owner, sup, timeout, make_request(op::count),
                                     [](sup_reply& r) { return r.counts; });
}

void cast_start_child(const pid& sup, std::any args) {
  auto req = make_request(op::start_child_args);
  req.args = std::move(args);
  // Not a request: the supervisor's reply goes to no one.
  caf::anon_send(sup.handle(), std::move(req));
}

void start_child(process& self, const pid& sup, child_spec spec,
                 std::function<void(supervisor_result<pid>)> then, std::chrono::milliseconds timeout) {
  auto req = make_request(op::start_child_spec);
  req.spec = std::move(spec);
  async_call<pid>(self, sup, timeout, std::move(req), std::move(then),
                  [](sup_reply& r) { return std::move(r.child); });
}

void start_child(process& self, const pid& sup, std::any args,
                 std::function<void(supervisor_result<pid>)> then, std::chrono::milliseconds timeout) {
  auto req = make_request(op::start_child_args);
  req.args = std::move(args);
  async_call<pid>(self, sup, timeout, std::move(req), std::move(then),
                  [](sup_reply& r) { return std::move(r.child); });
}

void terminate_child(process& self, const pid& sup, const std::string& id,
                     std::function<void(supervisor_result<ok_t>)> then,
                     std::chrono::milliseconds timeout) {
  auto req = make_request(op::terminate_id);
  req.id = id;
  async_call<ok_t>(self, sup, timeout, std::move(req), std::move(then),
                   [](sup_reply&) { return ok_t{}; });
}

void terminate_child(process& self, const pid& sup, const pid& child,
                     std::function<void(supervisor_result<ok_t>)> then,
                     std::chrono::milliseconds timeout) {
  auto req = make_request(op::terminate_pid);
  req.child = child;
  async_call<ok_t>(self, sup, timeout, std::move(req), std::move(then),
                   [](sup_reply&) { return ok_t{}; });
}

void restart_child(process& self, const pid& sup, const std::string& id,
                   std::function<void(supervisor_result<pid>)> then,
                   std::chrono::milliseconds timeout) {
  auto req = make_request(op::restart_id);
  req.id = id;
  async_call<pid>(self, sup, timeout, std::move(req), std::move(then),
                  [](sup_reply& r) { return std::move(r.child); });
}

void delete_child(process& self, const pid& sup, const std::string& id,
                  std::function<void(supervisor_result<ok_t>)> then,
                  std::chrono::milliseconds timeout) {
  auto req = make_request(op::delete_id);
  req.id = id;
  async_call<ok_t>(self, sup, timeout, std::move(req), std::move(then),
                   [](sup_reply&) { return ok_t{}; });
}

void which_children(process& self, const pid& sup,
                    std::function<void(supervisor_result<std::vector<child_info>>)> then,
                    std::chrono::milliseconds timeout) {
  async_call<std::vector<child_info>>(self, sup, timeout, make_request(op::which), std::move(then),
                                      [](sup_reply& r) { return std::move(r.children); });
}

void count_children(process& self, const pid& sup,
                    std::function<void(supervisor_result<child_counts>)> then,
                    std::chrono::milliseconds timeout) {
  async_call<child_counts>(self, sup, timeout, make_request(op::count), std::move(then),
                           [](sup_reply& r) { return r.counts; });
}

} // namespace supervisor

} // namespace libactor
