/// @file
/// Wake-ups of processes collected while a lock is held and handed to the
/// scheduler once it is released.
#pragma once

#include <boost/container/small_vector.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>

namespace libactor::detail {

/// An execution unit to pass to `enqueue` under a lock. The message lands in
/// the mailbox at once (so the order of messages is the lock's order), but
/// an idle process's wake-up, which with the Asio coordinator is a post to
/// the io_context and often a system call to wake a sleeping I/O thread,
/// waits here until `flush`, after the caller unlocked. The registry's
/// partition locks were held across those system calls, so senders queued
/// behind them (measured: futex waits on the partition mutexes in
/// bench/registry_send), and a broadcast paid one post per process where
/// one per batch does (asio_coordinator::enqueue_batch).
///
/// A process woken here is already marked runnable: until the flush, more
/// messages to it only join its mailbox. The destructor flushes, so an early
/// return or an exception cannot strand one.
class deferred_wakeups final : public caf::execution_unit {
public:
  deferred_wakeups() = default;
  deferred_wakeups(const deferred_wakeups&) = delete;
  deferred_wakeups& operator=(const deferred_wakeups&) = delete;
  ~deferred_wakeups() override { flush(); }

  void exec_later(caf::resumable* job) override { jobs_.push_back(job); }

  /// Hands every collected wake-up to `sys`'s scheduler, in batches when it
  /// is libactor's. `sys` is the actor system of the processes woken (a
  /// registry serves the processes of one node). Call it without the lock.
  void flush(caf::actor_system& sys);

  /// As `flush(sys)` for the system remembered by `bind`; nothing if none.
  void flush() {
    if (sys_ != nullptr)
      flush(*sys_);
  }

  /// The system `flush()` uses.
  void bind(caf::actor_system& sys) noexcept { sys_ = &sys; }

  bool empty() const noexcept { return jobs_.empty(); }

private:
  caf::actor_system* sys_ = nullptr;
  /// Inline room for a send's one wake-up (no allocation per send); a
  /// broadcast's thousands spill to the heap.
  boost::container::small_vector<caf::resumable*, 4> jobs_;
};

} // namespace libactor::detail
