#include "libactor/timer_ref.hpp"

#include <caf/actor_system.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "internal/asio_actor_clock.hpp"
#include "libactor/detail/process_actor.hpp"

namespace libactor {

namespace {

/// Whole milliseconds, as Erlang reports them: a pending timer with under
/// a millisecond left has 0 left (still pending: not nullopt).
std::chrono::milliseconds to_ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

} // namespace

timer_ref detail::start_timer(detail::process_actor* self,
                              std::chrono::steady_clock::duration delay, caf::message msg) {
  // Every node's scheduler is the asio_coordinator, whose clock this is.
  auto& clock = static_cast<detail::asio_actor_clock&>(self->home_system().clock());
  auto due = clock.now() + (delay > delay.zero() ? delay : delay.zero());
  auto content = caf::make_mailbox_element(self->ctrl(), caf::make_message_id(), {}, std::move(msg));
  auto key = clock.start_timer(due, self->ctrl(), std::move(content));
  timer_ref ref;
  ref.clock_ = &clock;
  ref.lane_ = key.lane;
  ref.due_ = key.due;
  ref.id_ = key.id;
  return ref;
}

std::optional<std::chrono::milliseconds> cancel_timer(const timer_ref& ref) {
  if (!ref)
    return std::nullopt;
  auto left = ref.clock_->cancel_timer({ref.lane_, ref.due_, ref.id_});
  if (!left)
    return std::nullopt;
  return to_ms(*left);
}

std::optional<std::chrono::milliseconds> read_timer(const timer_ref& ref) {
  if (!ref)
    return std::nullopt;
  auto left = ref.clock_->read_timer({ref.lane_, ref.due_, ref.id_});
  if (!left)
    return std::nullopt;
  return to_ms(*left);
}

} // namespace libactor
