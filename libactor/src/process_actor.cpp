#include "libactor/detail/process_actor.hpp"

#include <exception>

#include <caf/actor_cast.hpp>
#include <caf/system_messages.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/response_promise.hpp>
#include <caf/sec.hpp>

#include "internal/error_category.hpp"
#include "internal/exit_signal.hpp"
#include "internal/node_impl.hpp"
#include "libactor/call.hpp"
#include "libactor/log.hpp"
#include "libactor/process.hpp"

namespace libactor::detail {

namespace {

pid pid_of(const caf::actor_addr& addr) {
  return pid{caf::actor_cast<caf::actor>(addr)};
}

} // namespace

process_actor::process_actor(caf::actor_config& cfg, libactor::node* owner, process_spec spec,
                             pid parent)
  : super(cfg),
    owner_(owner),
    home_(owner->internals().io->place()),
    name_(std::move(spec.name)),
    parent_(std::move(parent)),
    body_(std::move(spec.body)),
    ack_init_(spec.ack_init) {
  // Registered here, on the spawning thread, before the process can run and
  // exit: the exit hook below then always finds its entry.
  owner_->internals().processes.add(home_, id(), caf::actor_cast<caf::actor>(this));
  attach_functor([owner = owner_, home = home_, self = id()] {
    owner->internals().processes.remove(home, self);
  });
  set_exit_handler([this](caf::exit_msg& x) { handle_exit_signal(x); });
  set_down_handler([this](caf::down_msg& x) { handle_down(x); });
  set_exception_handler([this](std::exception_ptr& x) { return handle_exception(x); });
  set_default_handler([this](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
    // CAF drops what no handler matches; never silently (a caller of a
    // request gets `rejected`, and the event is logged).
    log::warning("unexpected_message", log::kv("process", pid_of(address())),
                 log::kv("name", name_), log::kv("message", caf::to_string(x.content())));
    return caf::sec::unexpected_message;
  });
}

process_actor::~process_actor() = default;

// -- caf::event_based_actor overrides ------------------------------------------

caf::behavior process_actor::make_behavior() {
  process self{this};
  auto body = std::move(body_);
  auto bhvr = body(self);
  // Its init has completed, unless the body deferred the ack. A body that
  // threw, or called `exit`, has not: its parent sees the exit instead,
  // with its reason, as proc_lib's start sees `{error, Reason}`.
  if (!ack_deferred_ && !getf(is_terminated_flag | is_shutting_down_flag))
    ack_init();
  return bhvr;
}

void process_actor::ack_init() {
  if (!ack_init_)
    return;
  ack_init_ = false;
  if (parent_)
    send(parent_.handle(), init_ack_atom::value, id());
}

void process_actor::enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) {
  mailbox_length_.fetch_add(1, std::memory_order_relaxed);
  super::enqueue(std::move(ptr), eu);
}

caf::invoke_message_result process_actor::consume(caf::mailbox_element& x) {
  // As Erlang's message_queue_len, the message being handled is not waiting.
  mailbox_length_.fetch_sub(1, std::memory_order_relaxed);
  // An exit/2 signal is handled here, before CAF would unlink its sender,
  // and whatever the behaviour (a process awaiting a reply still gets it).
  if (is_exit_signal(x.content())) {
    auto signal = x.content().move_if_unshared<caf::exit_msg>(1);
    handle_exit_signal(signal);
    return caf::invoke_message_result::consumed;
  }
  auto result = super::consume(x);
  // A skipped message stays in the mailbox and is consumed again later.
  if (result == caf::invoke_message_result::skipped)
    mailbox_length_.fetch_add(1, std::memory_order_relaxed);
  return result;
}

const char* process_actor::name() const {
  return name_.c_str();
}

void process_actor::on_cleanup(const caf::error& reason) {
  // Runs once, before links and monitors hear of the exit: whoever reacts
  // to the exit finds the crash report already written (as SASL's report
  // precedes the 'EXIT' in OTP).
  super::on_cleanup(reason);
  auto why = exit_reason::from_caf(reason);
  if (why.abnormal() && log::enabled(log::level::error))
    log::error("crash_report", log::kv("process", pid_of(address())), log::kv("name", name_),
               log::kv("parent", parent_), log::kv("reason", why));
  release_handlers();
}

void process_actor::release_handlers() {
  // The handlers are closures, and a closure may hold a pid: this process's
  // own, or that of a process whose closures hold this one's. Such a cycle
  // of strong references would keep both actors, and all they captured,
  // alive after they ended. A dead process runs no handler again: drop them.
  // Monitors still set are removed from their targets, which would
  // otherwise keep an entry for this process until they end.
  for (auto& kv : watches_)
    demonitor(kv.first);
  watches_.clear();
  // Moved out first and destroyed last: a destructor that reaches back into
  // this process finds the members already empty.
  auto calls = std::move(calls_);
  auto on_exit = std::move(on_exit_);
  auto on_down = std::move(on_down_);
  auto body = std::move(body_); // never run if the process ended before it started
  calls_.clear();
  on_exit_ = nullptr;
  on_down_ = nullptr;
  body_ = nullptr;
}

bool process_actor::cleanup(caf::error&& fail_state, caf::execution_unit* host) {
  // CAF would pass `kill` itself on to linked processes, and `kill` cannot
  // be trapped: killing one child would kill its supervisor. Erlang's
  // victim exits with `killed`, which links receive as a trappable signal.
  if (fail_state == caf::exit_reason::kill)
    fail_state = exit_reason::killed().to_caf();

  // Exit hooks first: CAF's cleanup drains the mailbox and only then runs
  // the attachables (links, monitors), so this is the one point where a
  // hook still sees the unprocessed messages and acts before any DOWN or
  // EXIT is sent.
  run_exit_hooks(fail_state);

  return super::cleanup(std::move(fail_state), host);
}

// -- exit signals and monitors -------------------------------------------------

void process_actor::add_user_monitor(const caf::actor& who) {
  if (!who)
    return;
  auto& w = watches_[who.address()];
  if (!w.user && w.calls == 0)
    monitor(who);
  w.user = true;
}

void process_actor::remove_user_monitor(const caf::actor& who) {
  if (!who)
    return;
  auto i = watches_.find(who.address());
  if (i == watches_.end() || !i->second.user)
    return;
  i->second.user = false;
  if (i->second.calls == 0) {
    demonitor(who.address());
    watches_.erase(i);
  }
}

void process_actor::handle_exit_signal(caf::exit_msg& x) {
  // No process can trap `kill`. (CAF acts on a `kill` that arrives as its own
  // exit message before calling here; one sent by exit/2 arrives here.)
  if (x.reason == caf::exit_reason::kill) {
    quit(std::move(x.reason));
    return;
  }
  auto reason = exit_reason::from_caf(x.reason);
  if (trap_exit_) {
    if (on_exit_)
      on_exit_(pid_of(x.source), reason);
    else
      log::debug("exit_signal_ignored", log::kv("process", pid_of(address())),
                 log::kv("from", pid_of(x.source)), log::kv("reason", reason));
    return;
  }
  // OTP: a `normal` signal does not end a process that is not trapping.
  if (reason.is_normal())
    return;
  quit(std::move(x.reason));
}

void process_actor::handle_down(caf::down_msg& x) {
  auto i = watches_.find(x.source);
  if (i == watches_.end())
    return; // demonitored while the notification was in flight
  bool user = i->second.user;
  watches_.erase(i);
  auto reason = exit_reason::from_caf(x.reason);
  auto who = pid_of(x.source);
  // Fail every call still waiting on the dead process, now rather than at
  // its timeout. Collect first: a handler may start new calls.
  std::vector<fail_handler> failed;
  for (auto j = calls_.begin(); j != calls_.end();) {
    if (j->second.callee == x.source) {
      failed.push_back(std::move(j->second.on_fail));
      j = calls_.erase(j);
    } else {
      ++j;
    }
  }
  for (auto& fn : failed)
    fn(call_error{call_error::kind::callee_down, reason,
                  fmt::format("callee {} exited: {}", who, reason)});
  if (user && on_down_)
    on_down_(who, reason);
}

caf::error process_actor::handle_exception(std::exception_ptr& x) {
  exit_reason reason;
  try {
    std::rethrow_exception(x);
  } catch (const std::exception& e) {
    reason = exit_reason::error(e.what());
  } catch (...) {
    reason = exit_reason::error("unknown exception");
  }
  // CAF issue 1047: a request whose handler threw would otherwise go
  // unanswered until the caller's timeout. Answer it with the crash.
  auto* current = current_mailbox_element();
  if (current != nullptr && current->mid.is_request() && !current->mid.is_answered()) {
    auto rp = make_response_promise();
    rp.deliver(reason.to_caf());
  }
  return reason.to_caf();
}

// -- calls ---------------------------------------------------------------------

std::uint64_t process_actor::begin_call(const caf::actor& callee, fail_handler on_fail) {
  auto id = next_call_id_++;
  caf::actor_addr addr;
  if (callee) {
    addr = callee.address();
    auto& w = watches_[addr];
    if (w.calls++ == 0 && !w.user)
      monitor(callee);
  }
  calls_.emplace(id, pending_call{std::move(addr), std::move(on_fail)});
  return id;
}

bool process_actor::finish_call(std::uint64_t id) {
  auto i = calls_.find(id);
  if (i == calls_.end())
    return false;
  auto addr = std::move(i->second.callee);
  calls_.erase(i);
  if (addr)
    release_watch(addr);
  return true;
}

void process_actor::release_watch(const caf::actor_addr& who) {
  auto i = watches_.find(who);
  if (i == watches_.end())
    return;
  if (--i->second.calls == 0 && !i->second.user) {
    demonitor(who);
    watches_.erase(i);
  }
}

// -- exit hooks ----------------------------------------------------------------

std::uint64_t process_actor::add_exit_hook(exit_hook fn) {
  std::lock_guard<std::mutex> lock{exit_hooks_mtx_};
  if (exit_hooks_ran_)
    return 0;
  auto handle = next_exit_hook_++;
  exit_hooks_.emplace_back(handle, std::move(fn));
  return handle;
}

bool process_actor::remove_exit_hook(std::uint64_t handle) {
  std::lock_guard<std::mutex> lock{exit_hooks_mtx_};
  for (auto i = exit_hooks_.begin(); i != exit_hooks_.end(); ++i) {
    if (i->first == handle) {
      exit_hooks_.erase(i);
      return true;
    }
  }
  return false;
}

bool process_actor::has_exit_hook(std::uint64_t handle) {
  std::lock_guard<std::mutex> lock{exit_hooks_mtx_};
  for (auto& h : exit_hooks_)
    if (h.first == handle)
      return true;
  return false;
}

void process_actor::run_exit_hooks(const caf::error& reason) {
  std::vector<std::pair<std::uint64_t, exit_hook>> hooks;
  {
    std::lock_guard<std::mutex> lock{exit_hooks_mtx_};
    if (exit_hooks_ran_)
      return;
    exit_hooks_ran_ = true;
    hooks.swap(exit_hooks_);
  }
  // Newest first, as CAF runs attachables. Each isolated: one that throws
  // (a transport's `key_removed`, say) must not leave the others' state
  // pointing at a dead process.
  for (auto i = hooks.rbegin(); i != hooks.rend(); ++i) {
    try {
      i->second(*this, reason);
    } catch (const std::exception& e) {
      log::error("exit_hook_failed", log::kv("process", pid_of(address())), log::kv("name", name_),
                 log::kv("error", e.what()));
    } catch (...) {
      log::error("exit_hook_failed", log::kv("process", pid_of(address())), log::kv("name", name_),
                 log::kv("error", "unknown exception"));
    }
  }
}

void process_actor::visit_unprocessed(const std::function<void(const caf::mailbox_element&)>& fn) {
  auto& box = mailbox();
  // Closed: already drained. Blocked: idle with nothing waiting (an exit
  // from outside its thread, as CAF's `unreachable`).
  if (box.closed() || box.blocked())
    return;
  // Skipped messages wait in the queues' caches; put them back in order
  // first (CAF's own cleanup does the same before dropping them).
  box.fetch_more();
  box.flush_cache();
  box.queue().peek_all([&](const caf::mailbox_element& x) { fn(x); });
}

} // namespace libactor::detail
