#include "internal/asio_actor_clock.hpp"

#include <caf/group.hpp>
#include <caf/mailbox_element.hpp>

#include "libactor/detail/process_actor.hpp"

namespace libactor::detail {

namespace {

/// Marks a process that gets a timeout (see process_actor::had_timeouts).
void note_timeouts(caf::abstract_actor* self) {
  if (auto* p = as_process(self))
    p->note_timeouts();
}

} // namespace

asio_actor_clock::asio_actor_clock(boost::asio::io_context& io) : timer_(io) {
}

void asio_actor_clock::set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                                            caf::atom_value type, uint64_t id) {
  note_timeouts(self);
  std::lock_guard<std::mutex> guard{mtx_};
  super::set_ordinary_timeout(t, self, type, id);
  rearm();
}

void asio_actor_clock::set_multi_timeout(time_point t, caf::abstract_actor* self,
                                         caf::atom_value type, uint64_t id) {
  note_timeouts(self);
  std::lock_guard<std::mutex> guard{mtx_};
  super::set_multi_timeout(t, self, type, id);
  rearm();
}

void asio_actor_clock::set_request_timeout(time_point t, caf::abstract_actor* self,
                                           caf::message_id id) {
  note_timeouts(self);
  std::lock_guard<std::mutex> guard{mtx_};
  super::set_request_timeout(t, self, id);
  rearm();
}

void asio_actor_clock::cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) {
  std::lock_guard<std::mutex> guard{mtx_};
  super::cancel_ordinary_timeout(self, type);
}

void asio_actor_clock::cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) {
  std::lock_guard<std::mutex> guard{mtx_};
  super::cancel_request_timeout(self, id);
}

void asio_actor_clock::cancel_timeouts(caf::abstract_actor* self) {
  // Called for every exiting actor; most processes never had a timeout, and
  // for them this skips a mutex shared by all I/O threads.
  if (auto* p = as_process(self); p != nullptr && !p->had_timeouts())
    return;
  std::lock_guard<std::mutex> guard{mtx_};
  if (actor_lookup_.count(self->id()) == 0)
    return;
  super::cancel_timeouts(self);
  // A cancelled earliest deadline leaves the timer armed early; on_timer
  // then finds nothing due and re-arms, which is cheaper than re-arming here.
}

void asio_actor_clock::schedule_message(time_point t, caf::strong_actor_ptr receiver,
                                        caf::mailbox_element_ptr content) {
  std::lock_guard<std::mutex> guard{mtx_};
  super::schedule_message(t, std::move(receiver), std::move(content));
  rearm();
}

void asio_actor_clock::schedule_message(time_point t, caf::group target,
                                        caf::strong_actor_ptr sender, caf::message content) {
  std::lock_guard<std::mutex> guard{mtx_};
  super::schedule_message(t, std::move(target), std::move(sender), std::move(content));
  rearm();
}

void asio_actor_clock::cancel_all() {
  std::lock_guard<std::mutex> guard{mtx_};
  super::cancel_all();
}

void asio_actor_clock::stop() {
  std::lock_guard<std::mutex> guard{mtx_};
  stopped_ = true;
  super::cancel_all();
  timer_.cancel();
  armed_for_ = time_point::max();
}

void asio_actor_clock::rearm() {
  if (stopped_ || schedule_.empty())
    return;
  auto earliest = schedule_.begin()->first;
  if (earliest >= armed_for_)
    return;
  armed_for_ = earliest;
  // expires_at cancels the previous wait; its handler sees operation_aborted.
  timer_.expires_at(earliest);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec)
      on_timer();
  });
}

void asio_actor_clock::on_timer() {
  std::lock_guard<std::mutex> guard{mtx_};
  armed_for_ = time_point::max();
  // Delivers due messages and timeouts: enqueues only, never runs an actor,
  // so holding the lock here cannot deadlock with actor code.
  trigger_expired_timeouts();
  rearm();
}

} // namespace libactor::detail
