/// @file
/// CAF's actor clock (timeouts, delayed sends, request timeouts) driven by
/// one Asio timer instead of a dedicated thread.
#pragma once

#include <mutex>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <caf/detail/simple_actor_clock.hpp>

namespace libactor::detail {

/// CAF 0.17's `thread_safe_actor_clock` runs its own thread and wakes it on
/// every actor exit (`cancel_timeouts`): a context switch per connection.
/// This clock keeps CAF's schedule behind a mutex, arms a single steady_timer
/// at the earliest deadline, and fires on the first I/O thread, which posts
/// each message to its receiver's home thread. A process that never had a
/// timeout exits without touching the mutex (process_actor::had_timeouts).
class asio_actor_clock : public caf::detail::simple_actor_clock {
public:
  using super = caf::detail::simple_actor_clock;

  explicit asio_actor_clock(boost::asio::io_context& io);

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override;
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override;
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override;
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override;
  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override;
  void cancel_timeouts(caf::abstract_actor* self) override;
  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override;
  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override;
  void cancel_all() override;

  /// Drops every pending event and stops the timer (at shutdown).
  void stop();

private:
  /// Re-arms the timer if the earliest deadline moved. Requires `mtx_`.
  void rearm();
  void on_timer();

  std::mutex mtx_;
  boost::asio::steady_timer timer_;
  /// The deadline the timer is armed for; `time_point::max()` when idle.
  time_point armed_for_ = time_point::max();
  bool stopped_ = false;
};

} // namespace libactor::detail
