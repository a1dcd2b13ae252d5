#include "libactor/node.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/logger.hpp>
#include <caf/send.hpp>

#include "internal/asio_coordinator.hpp"
#include "internal/node_impl.hpp"
#include "libactor/detail/process_actor.hpp"
#include "libactor/exit_reason.hpp"
#include "libactor/log.hpp"
#include "libactor/process.hpp"

namespace libactor {

namespace {

std::size_t or_cores(std::size_t n) {
  if (n != 0)
    return n;
  auto cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

using clock_type = std::chrono::steady_clock;

detail::process_actor* process_of(const caf::actor& hdl) {
  return detail::as_process(caf::actor_cast<caf::abstract_actor*>(hdl));
}

bool exiting(const caf::actor& hdl) {
  return hdl->getf(caf::abstract_actor::is_terminated_flag);
}

/// The process that `hdl` descends from which was spawned from the node
/// (itself if it was). Parents are fixed at spawn, and each pid holds its
/// parent's object, so the chain can be walked from any thread.
caf::actor top_of(caf::actor hdl) {
  for (auto* p = process_of(hdl); p != nullptr && p->parent(); p = process_of(hdl))
    hdl = p->parent().handle();
  return hdl;
}

/// Whether some ancestor of `hdl` is still running: then `hdl` is that
/// ancestor's to stop (a supervisor stops its children itself).
bool has_live_ancestor(const caf::actor& hdl) {
  for (auto* p = process_of(hdl); p != nullptr && p->parent();) {
    auto& up = p->parent().handle();
    if (!exiting(up))
      return true;
    p = process_of(up);
  }
  return false;
}

/// One run of `node::stop`, as OTP's `init:stop`: the applications stop in
/// reverse start order, each supervision tree top-down; then whatever is
/// left gets `shutdown`, and what is still alive at the deadline is killed.
/// The node signals each process at most once with `shutdown` (a supervisor
/// signals its own children), and keeps signalling the processes spawned
/// while it stops, so that the table empties and `stop` returns.
class orderly_stop {
public:
  explicit orderly_stop(detail::process_table& procs) : procs_(procs) {
  }

  void run(std::chrono::milliseconds budget) {
    auto start = clock_type::now();
    auto deadline = start + budget;
    // Half the budget for stopping in order: a tree that takes longer does
    // not leave the stragglers without time for an orderly exit.
    auto ordered_deadline = start + budget / 2;
    // Before the snapshot: every process is in it, or a newcomer, or both.
    procs_.watch_newcomers();
    std::vector<caf::actor> top;
    for (auto& hdl : procs_.snapshot())
      if (auto* p = process_of(hdl); p != nullptr && !p->parent())
        top.push_back(hdl);
    // Actor ids grow with each spawn: the highest was started last.
    std::sort(top.begin(), top.end(), [](auto& x, auto& y) { return x.id() > y.id(); });
    for (auto& hdl : top)
      queued_.insert(hdl.id());
    stop_in_order(top, ordered_deadline);
    top.clear();
    stop_stragglers(deadline);
    kill_the_rest();
  }

private:
  /// Each top-level process gets `shutdown` and is waited for before the
  /// next (earlier-started) one; a supervisor stops its tree on that signal.
  void stop_in_order(const std::vector<caf::actor>& top, clock_type::time_point deadline) {
    for (auto& hdl : top) {
      queued_.erase(hdl.id());
      if (clock_type::now() >= deadline)
        continue; // out of time: left to `stop_stragglers`
      if (exiting(hdl))
        continue;
      signal(hdl);
      auto* p = process_of(hdl);
      auto home = p->home();
      auto id = p->id();
      wait_for([&] { return !procs_.contains(home, id); }, deadline);
    }
  }

  /// What the ordered stop left: `shutdown` to every process the node has
  /// not signalled whose ancestors have all ended (a live ancestor stops it).
  void stop_stragglers(clock_type::time_point deadline) {
    for (auto& hdl : procs_.snapshot())
      if (!exiting(hdl) && !has_live_ancestor(hdl))
        signal(hdl);
    wait_for([&] { return procs_.size() == 0; }, deadline);
  }

  /// OTP kills whatever ignores `shutdown`; newcomers too, until none is left.
  void kill_the_rest() {
    killing_ = true;
    auto stubborn = procs_.snapshot();
    if (stubborn.empty())
      return;
    log::warning("node_stop_killing", log::kv("processes", stubborn.size()));
    for (auto& hdl : stubborn)
      detail::send_exit_signal(hdl, exit_reason::kill(), {});
    stubborn.clear();
    wait_for([&] { return procs_.size() == 0; }, clock_type::time_point::max());
  }

  /// Waits for `done`, signalling the newcomers as they arrive.
  template <class Pred>
  bool wait_for(Pred done, clock_type::time_point deadline) {
    for (;;) {
      switch (procs_.wait_until(done, deadline, true)) {
        case detail::process_table::wake::done:
          return true;
        case detail::process_table::wake::timeout:
          return false;
        case detail::process_table::wake::newcomers:
          for (auto& hdl : procs_.take_newcomers())
            on_newcomer(hdl);
          break;
      }
    }
  }

  /// A process spawned while the node stops gets `shutdown` at once, unless
  /// its tree has yet to be stopped in order (then it is stopped with it).
  void on_newcomer(const caf::actor& hdl) {
    if (killing_) {
      detail::send_exit_signal(hdl, exit_reason::kill(), {});
      return;
    }
    if (queued_.count(top_of(hdl).id()) != 0)
      return;
    // A child of a live supervisor (restarting or still starting its
    // children) is stopped by it, top-down and once; a signal from here
    // too would reach it twice, or before its parent. Any other newcomer
    // has no one to stop it.
    if (auto* p = process_of(hdl); p != nullptr && p->parent()) {
      auto* parent = process_of(p->parent().handle());
      if (parent != nullptr && parent->stops_own_children() && !exiting(p->parent().handle()))
        return;
    }
    signal(hdl);
  }

  void signal(const caf::actor& hdl) {
    if (signalled_.insert(hdl.id()).second)
      detail::send_exit_signal(hdl, exit_reason::shutdown(), {});
  }

  detail::process_table& procs_;
  /// Top-level processes whose turn has not come yet.
  std::unordered_set<caf::actor_id> queued_;
  /// Processes this stop has sent `shutdown`.
  std::unordered_set<caf::actor_id> signalled_;
  bool killing_ = false;
};

} // namespace

node::node(node_config cfg) : impl_(std::make_unique<impl>()) {
  cfg.io_threads = or_cores(cfg.io_threads);
  if (cfg.max_throughput == 0)
    cfg.max_throughput = 1;
  impl_->config = cfg;
  log::set_level(cfg.log_level);
  impl_->io = std::make_unique<detail::io_pool>(cfg.io_threads);
  auto& caf_cfg = impl_->caf_config;
  caf_cfg.set("scheduler.max-threads", cfg.io_threads);
  caf_cfg.set("scheduler.max-throughput", cfg.max_throughput);
  caf_cfg.module_factories.push_back(
    [pool = impl_->io.get()](caf::actor_system& sys) -> caf::actor_system::module* {
      return new detail::asio_coordinator(sys, *pool);
    });
  impl_->system = std::make_unique<caf::actor_system>(caf_cfg);
  // CAF's constructor made its logger the current one of this thread, a
  // reference only this thread can drop, and the system's destructor waits
  // for all of them: a node stopped from another thread would hang there.
  // libactor logs through its own log.hpp, so drop it now.
  caf::logger::set_current_actor_system(nullptr);
  impl_->running = true;
  log::debug("node_started", log::kv("io_threads", cfg.io_threads));
}

node::~node() {
  try {
    stop();
  } catch (const std::exception& e) {
    // Destroyed by one of its own threads: it can neither wait for its
    // processes nor join that thread. Say so before the program ends.
    log::error("node_destroyed_on_io_thread", log::kv("what", e.what()));
    std::terminate();
  }
}

void node::stop() {
  // Stopping waits for every process and joins the I/O threads: on one of
  // them it would wait for itself. Refused before anything changes, so the
  // node keeps running and a later stop from outside still works.
  if (on_io_thread())
    throw std::logic_error("node::stop on one of the node's I/O threads would wait for itself; "
                           "call it from outside the node");
  if (!impl_->running.exchange(false))
    return;
  orderly_stop{impl_->processes}.run(impl_->config.shutdown_timeout);
  // The actor system's destructor waits for every actor to finish, then
  // stops the scheduler, which joins the I/O threads.
  impl_->system.reset();
  log::debug("node_stopped");
}

bool node::on_io_thread() const noexcept {
  return impl_->io->thread_index() < impl_->io->size();
}

bool node::running() const noexcept {
  return impl_->running.load();
}

std::size_t node::process_count() const {
  return impl_->processes.size();
}

const node_config& node::config() const noexcept {
  return impl_->config;
}

caf::actor_system& node::system() noexcept {
  return *impl_->system;
}

} // namespace libactor
