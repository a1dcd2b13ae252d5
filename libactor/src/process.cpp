#include "libactor/process.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/logger.hpp>
#include <caf/system_messages.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>

#include "internal/exit_signal.hpp"
#include "internal/node_impl.hpp"

namespace libactor {

namespace detail {

pid spawn_from_node(node& owner, process_spec spec) {
  pid child{owner.system().spawn<process_actor>(&owner, std::move(spec), pid{})};
  // CAF's spawn made its logger this thread's current one, a reference only
  // this thread can drop, which the actor system's destructor waits for: a
  // node stopped from another thread would hang. libactor logs through
  // log.hpp, so drop it.
  caf::logger::set_current_actor_system(nullptr);
  return child;
}

pid spawn_from_process(process_actor* parent, process_spec spec, spawn_mode mode) {
  pid parent_pid{caf::actor_cast<caf::actor>(parent)};
  libactor::node* owner = &parent->owner();
  if (parent->marking_spawns())
    spec.ack_init = true; // spawned by a supervisor's start function
  switch (mode) {
    case spawn_mode::link: {
      // Linked before the child runs, so no exit can slip between the two.
      pid child{parent->spawn<process_actor, caf::linked>(owner, std::move(spec),
                                                          std::move(parent_pid))};
      if (parent->marking_spawns())
        parent->note_marked_spawn(child.id());
      return child;
    }
    case spawn_mode::monitor: {
      pid child{parent->spawn<process_actor>(owner, std::move(spec), std::move(parent_pid))};
      if (parent->marking_spawns())
        parent->note_marked_spawn(child.id());
      // A monitor set on a process that already ended fires at once with its
      // reason, so monitoring after the spawn loses nothing.
      parent->add_user_monitor(child.handle());
      return child;
    }
    case spawn_mode::plain:
      break;
  }
  pid child{parent->spawn<process_actor>(owner, std::move(spec), std::move(parent_pid))};
  if (parent->marking_spawns())
    parent->note_marked_spawn(child.id());
  return child;
}

void send_exit_signal(const caf::actor& to, const exit_reason& reason,
                      const caf::actor_addr& from) {
  if (!to)
    return;
  auto source = from ? from : to.address();
  // A process gets the signal tagged, so that its links survive it (see
  // exit_signal.hpp); any other CAF actor only understands `exit_msg`.
  auto msg = as_process(caf::actor_cast<caf::abstract_actor*>(to)) != nullptr
               ? make_exit_signal(std::move(source), reason)
               : caf::make_message(caf::exit_msg{std::move(source), reason.to_caf()});
  to->enqueue(nullptr, caf::make_message_id(), std::move(msg), nullptr);
}

} // namespace detail

pid process::self() const {
  return pid{caf::actor_cast<caf::actor>(self_)};
}

void process::link(const pid& other) {
  if (other)
    self_->link_to(other.handle());
}

void process::unlink(const pid& other) {
  if (other)
    self_->unlink_from(other.handle());
}

void process::monitor(const pid& other) {
  self_->add_user_monitor(other.handle());
}

void process::demonitor(const pid& other) {
  self_->remove_user_monitor(other.handle());
}

void process::exit(exit_reason reason) {
  self_->quit(reason.to_caf());
}

void process::exit(const pid& to, const exit_reason& reason) {
  // Erlang's one exception to "normal is ignored": exit(self(), normal)
  // ends the caller unless it traps exits (then it gets the EXIT message).
  if (reason.is_normal() && !self_->trapping_exits() && to.handle()
      && to.handle().address() == self_->address()) {
    self_->quit(reason.to_caf());
    return;
  }
  detail::send_exit_signal(to.handle(), reason, self_->address());
}

void exit(const pid& to, const exit_reason& reason) {
  detail::send_exit_signal(to.handle(), reason, {});
}

bool alive(const pid& x) noexcept {
  return x && !x.handle()->getf(caf::abstract_actor::is_terminated_flag);
}

std::optional<std::size_t> mailbox_length(const pid& x) noexcept {
  if (!alive(x))
    return std::nullopt;
  auto* p = dynamic_cast<detail::process_actor*>(caf::actor_cast<caf::abstract_actor*>(x.handle()));
  if (p == nullptr)
    return std::nullopt;
  return p->mailbox_length();
}

} // namespace libactor
