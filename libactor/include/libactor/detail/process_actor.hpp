/// @file
/// The CAF actor class behind every libactor process. Public only because
/// templates in process.hpp and call.hpp need its definition; use `process`.
#pragma once

#include <typeinfo>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>

#include "libactor/exit_reason.hpp"
#include "libactor/pid.hpp"

namespace libactor {
class node;
class process;
class call_error;
} // namespace libactor

namespace libactor::detail {

/// What to start: the body returns the process's initial behaviour.
struct process_spec {
  std::string name;
  std::function<caf::behavior(process&)> body;
  /// proc_lib's `init_ack`: tell the parent once the body has returned
  /// (set for a child spawned by a supervisor's start function).
  bool ack_init = false;
};

/// A child's init acknowledgement to its parent: `(init_ack_atom, child id)`.
using init_ack_atom = caf::atom_constant<caf::atom("init_ack")>;

/// An event-based CAF actor that adds what BEAM processes have and CAF lacks:
/// an exact mailbox length readable from other threads, a name and a parent
/// for crash reports, OTP exit-signal semantics (trap_exit, untrappable kill),
/// exceptions turned into error exits, and calls that fail as soon as the
/// callee dies.
class process_actor final : public caf::event_based_actor {
public:
  using super = caf::event_based_actor;
  using exit_handler = std::function<void(const pid& from, const exit_reason&)>;
  using down_handler = std::function<void(const pid& who, const exit_reason&)>;
  using fail_handler = std::function<void(const call_error&)>;

  process_actor(caf::actor_config& cfg, libactor::node* owner, process_spec spec, pid parent);
  ~process_actor() override;

  // -- caf::event_based_actor overrides --------------------------------------

  caf::behavior make_behavior() override;
  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override;
  caf::invoke_message_result consume(caf::mailbox_element& x) override;
  const char* name() const override;
  bool cleanup(caf::error&& fail_state, caf::execution_unit* host) override;

protected:
  void on_cleanup(const caf::error& reason) override;

public:

  // -- process properties ----------------------------------------------------

  libactor::node& owner() const noexcept { return *owner_; }
  const std::string& process_name() const noexcept { return name_; }
  const pid& parent() const noexcept { return parent_; }
  /// The I/O thread this process runs on (its index in the node's pool),
  /// fixed at creation.
  std::size_t home() const noexcept { return home_; }

  /// Set by a supervisor: it stops its own children (top-down, each once),
  /// so `node::stop` leaves a child it starts during the stop to it.
  void set_stops_own_children() noexcept { stops_own_children_.store(true, std::memory_order_release); }
  bool stops_own_children() const noexcept {
    return stops_own_children_.load(std::memory_order_acquire);
  }

  /// Whether the actor clock has ever held a timeout of this process (a
  /// request with a timeout, `after`): if not, its exit skips the clock's
  /// lock, which every exit on every I/O thread would otherwise share.
  bool had_timeouts() const noexcept { return had_timeouts_.load(std::memory_order_acquire); }
  void note_timeouts() noexcept { had_timeouts_.store(true, std::memory_order_release); }

  /// Messages waiting, counted on enqueue and on consumption.
  std::size_t mailbox_length() const noexcept {
    return mailbox_length_.load(std::memory_order_relaxed);
  }

  // -- exit signals and monitors -----------------------------------------------

  void trap_exit(bool on) noexcept { trap_exit_ = on; }
  bool trapping_exits() const noexcept { return trap_exit_; }
  void on_exit_signal(exit_handler fn) { on_exit_ = std::move(fn); }
  void on_down(down_handler fn) { on_down_ = std::move(fn); }
  void add_user_monitor(const caf::actor& who);
  void remove_user_monitor(const caf::actor& who);

  // -- init acknowledgement (proc_lib's start handshake) -----------------------

  /// While on, each process this one spawns is marked to acknowledge its
  /// init, and its id is recorded (a supervisor runs a start function so).
  void mark_spawns(bool on) noexcept {
    mark_spawns_ = on;
    marked_.clear();
  }
  bool marking_spawns() const noexcept { return mark_spawns_; }
  void note_marked_spawn(std::uint64_t child) { marked_.push_back(child); }
  /// Whether `child` was spawned while marking: it will acknowledge.
  bool spawned_marked(std::uint64_t child) const noexcept {
    for (auto x : marked_)
      if (x == child)
        return true;
    return false;
  }
  /// Called from the body: the acknowledgement waits for `ack_init()`
  /// (a supervisor acknowledges once its own children are up).
  void defer_init_ack() noexcept { ack_deferred_ = true; }
  /// Sends the acknowledgement, if this process owes one (once).
  void ack_init();

  // -- calls -------------------------------------------------------------------

  /// Watches `callee` for the duration of one call; returns the call's id.
  std::uint64_t begin_call(const caf::actor& callee, fail_handler on_fail);

  /// Ends call `id`; false if it already ended (its callee died first).
  bool finish_call(std::uint64_t id);

  // -- exit hooks ----------------------------------------------------------------

  /// Runs once when the process exits, on the thread that ends it, before
  /// CAF drains the mailbox and before any link or monitor hears of the exit
  /// (so before any DOWN or EXIT is delivered, as Erlang frees a registered
  /// name). What the registry and the name table use to forget a process.
  using exit_hook = std::function<void(process_actor& self, const caf::error& reason)>;

  /// Adds a hook from any thread; returns its handle, or 0 if the process has
  /// already run its hooks (it is exiting or gone): the caller then treats it
  /// as exited, so a registration can never outlive its process.
  std::uint64_t add_exit_hook(exit_hook fn);

  /// Removes a hook that has not run yet, from any thread; false otherwise.
  bool remove_exit_hook(std::uint64_t handle);

  /// Whether hook `handle` is still waiting to run (not run, not running,
  /// not removed), from any thread.
  bool has_exit_hook(std::uint64_t handle);

  /// From inside an exit hook only: visits every message still waiting in
  /// the mailbox, oldest first (the one whose handler ended the process has
  /// been consumed and is not among them). Nothing is removed; CAF drops
  /// them right after the hooks.
  void visit_unprocessed(const std::function<void(const caf::mailbox_element&)>& fn);

private:
  struct watch {
    bool user = false;     ///< The user called `monitor`.
    std::size_t calls = 0; ///< Calls in flight to this process.
  };

  struct pending_call {
    caf::actor_addr callee;
    fail_handler on_fail;
  };

  void handle_exit_signal(caf::exit_msg& x);
  void handle_down(caf::down_msg& x);
  caf::error handle_exception(std::exception_ptr& x);
  void release_watch(const caf::actor_addr& who);
  /// At exit: drops handlers, pending calls and monitors (see the .cpp).
  void release_handlers();

  libactor::node* owner_;
  std::size_t home_;
  std::string name_;
  pid parent_;
  std::function<caf::behavior(process&)> body_;
  std::atomic<std::size_t> mailbox_length_{0};
  std::atomic<bool> had_timeouts_{false};
  std::atomic<bool> stops_own_children_{false};
  bool trap_exit_ = false;
  exit_handler on_exit_;
  down_handler on_down_;
  std::unordered_map<caf::actor_addr, watch> watches_;
  std::unordered_map<std::uint64_t, pending_call> calls_;
  std::uint64_t next_call_id_ = 1;

  // Exit hooks: added from any thread, run once by `cleanup`.
  void run_exit_hooks(const caf::error& reason);
  std::mutex exit_hooks_mtx_;
  bool exit_hooks_ran_ = false;
  std::uint64_t next_exit_hook_ = 1;
  std::vector<std::pair<std::uint64_t, exit_hook>> exit_hooks_;
  bool ack_init_ = false;
  bool ack_deferred_ = false;
  bool mark_spawns_ = false;
  std::vector<std::uint64_t> marked_;
};

/// `x` as a process, or nullptr if it is another kind of actor (CAF's own).
/// Asked on every wake-up and every exit, so an exact type check (one
/// vtable read; process_actor is final) instead of a `dynamic_cast`.
template <class Base>
process_actor* as_process(Base* x) noexcept {
  if (x != nullptr && typeid(*x) == typeid(process_actor))
    return static_cast<process_actor*>(x);
  return nullptr;
}

} // namespace libactor::detail
