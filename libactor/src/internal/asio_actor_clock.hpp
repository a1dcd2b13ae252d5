/// @file
/// CAF's actor clock (timeouts, delayed sends, request timeouts) driven by
/// Asio timers on the I/O threads instead of a dedicated thread: one
/// schedule per I/O thread, as each BEAM scheduler keeps its own timer wheel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor_clock.hpp>

#include "internal/io_pool.hpp"

namespace libactor::detail {

/// CAF 0.17's `thread_safe_actor_clock` runs its own thread and wakes it on
/// every actor exit (`cancel_timeouts`): a context switch per connection.
/// A single schedule shared by the node instead puts every timeout of every
/// thread behind one mutex and fires them all from one thread.
///
/// This clock keeps one schedule (a `lane`) per I/O thread, each driven by a
/// steady_timer on that thread's io_context. CAF has one `actor_clock&` per
/// actor system, so this object dispatches every call to the lane of the
/// actor it concerns: a process's home thread (process_actor::home()), so its
/// timeouts and delayed sends fire there and its lane's lock is, in practice,
/// only ever taken by that thread. Other actors (CAF's own) map to a lane by
/// their id. The lock stays because CAF may set or cancel a timeout from
/// another thread (a request from outside, a delayed send to another
/// process); it is never shared by all threads.
///
/// A process that never had a timeout exits without touching any lock
/// (process_actor::had_timeouts).
class asio_actor_clock final : public caf::actor_clock {
public:
  explicit asio_actor_clock(io_pool& pool);
  ~asio_actor_clock() override;

  asio_actor_clock(const asio_actor_clock&) = delete;
  asio_actor_clock& operator=(const asio_actor_clock&) = delete;

  // -- caf::actor_clock --------------------------------------------------------------

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

  // -- cancellable timers (erlang:send_after / erlang:cancel_timer) -------------------

  /// Names one timer: the lane that holds it, its deadline and its number.
  struct timer_key {
    std::size_t lane = 0;
    time_point due;
    std::uint64_t id = 0;
  };

  /// Delivers `content` to `receiver` at `due`, on the receiver's home
  /// thread, unless cancelled first. The timer also ends with its receiver
  /// (`cancel_timeouts`), as Erlang cancels a timer whose process exits.
  timer_key start_timer(time_point due, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content);

  /// Cancels a timer. Returns the time it had left if it was still pending:
  /// its message is then never delivered. Returns nullopt if it had already
  /// fired (its message is delivered or on its way) or was cancelled.
  std::optional<duration_type> cancel_timer(const timer_key& key);

  /// The time a pending timer has left; nullopt if it is no longer pending.
  std::optional<duration_type> read_timer(const timer_key& key);

  // -- white box ------------------------------------------------------------------------

  /// Request timeouts held now, over all lanes (for tests: an answered call
  /// must leave none).
  std::size_t request_timeouts();

  /// Lane `i`'s pending entries of every kind.
  std::size_t pending(std::size_t lane);

  std::size_t lanes() const noexcept { return lanes_.size(); }

  // -- lifetime ------------------------------------------------------------------------

  /// Drops every pending event and stops the timers (at shutdown).
  void stop();

  class lane;

private:
  lane& lane_of(const caf::abstract_actor* x) noexcept;

  std::vector<std::unique_ptr<lane>> lanes_;
};

} // namespace libactor::detail
