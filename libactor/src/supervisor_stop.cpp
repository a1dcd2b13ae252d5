/// @file
/// `supervisor::stop`: OTP's `supervisor:stop/3` (a `gen_server:stop`) for a
/// caller outside any process. The supervisor gets `shutdown` as from its
/// parent, stops its children top-down in reverse start order, and exits;
/// the caller waits on the node's process table, which hears of every exit.
#include <chrono>

#include <caf/actor_cast.hpp>
#include <fmt/format.h>

#include "internal/node_impl.hpp"
#include "libactor/detail/process_actor.hpp"
#include "libactor/log.hpp"
#include "libactor/process.hpp"
#include "libactor/supervisor.hpp"

namespace libactor::supervisor {

namespace {

using clock_type = std::chrono::steady_clock;

detail::process_actor* process_of(const caf::actor& hdl) {
  return detail::as_process(caf::actor_cast<caf::abstract_actor*>(hdl));
}

/// Whether `hdl` is exiting and descends from `root`.
bool exiting_below(const caf::actor& hdl, caf::actor_id root) {
  if (!hdl->getf(caf::abstract_actor::is_terminated_flag))
    return false;
  for (auto* p = process_of(hdl); p != nullptr && p->parent(); p = process_of(p->parent().handle()))
    if (p->parent().id() == root)
      return true;
  return false;
}

/// The tree is gone once its root has left the table and no process of it
/// is still between its exit and its removal: a child's exit reaches its
/// supervisor a moment before the child leaves the table.
bool tree_gone(const detail::process_table& procs, const detail::process_actor& root) {
  if (procs.contains(root.home(), root.id()))
    return false;
  return !procs.any_of([id = root.id()](const caf::actor& hdl) { return exiting_below(hdl, id); });
}

} // namespace

supervisor_result<ok_t> stop(node& owner, const pid& sup, std::chrono::milliseconds timeout) {
  if (owner.on_io_thread()) // the supervisor's tree may need this very thread to stop
    return supervisor_error{supervisor_error::kind::call_failed,
                            "supervisor::stop(node&, ...) on an I/O thread would block it; "
                            "send the supervisor an exit signal from a process instead"};
  auto* root = sup ? process_of(sup.handle()) : nullptr;
  // Another node's process would never show in this node's table.
  if (root == nullptr || !alive(sup) || &root->owner() != &owner)
    return supervisor_error{supervisor_error::kind::not_found,
                            fmt::format("no process {} on this node", sup)};
  auto& procs = owner.internals().processes;
  auto gone = [&] { return tree_gone(procs, *root); };
  // From outside any process: the supervisor takes it as from its parent.
  libactor::exit(sup, exit_reason::shutdown());
  using wake = detail::process_table::wake;
  if (procs.wait_until(gone, clock_type::now() + timeout) == wake::done)
    return ok_t{};
  // As gen_server:stop: past the timeout the supervisor is killed (its
  // children then get `killed` from it) and the call fails with `timeout`.
  log::warning("supervisor_stop_timeout", log::kv("supervisor", sup),
               log::kv("timeout_ms", timeout.count()));
  libactor::exit(sup, exit_reason::kill());
  procs.wait_until([&] { return !procs.contains(root->home(), root->id()); },
                   clock_type::now() + timeout);
  return supervisor_error{supervisor_error::kind::call_failed,
                          fmt::format("timeout: {} did not stop within {} ms and was killed", sup,
                                      timeout.count())};
}

} // namespace libactor::supervisor
