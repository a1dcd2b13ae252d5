/// @file
/// The bridge between CAF and Asio: a CAF scheduler whose workers are the
/// node's I/O threads.
#pragma once

#include <vector>

#include <caf/execution_unit.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "internal/asio_actor_clock.hpp"
#include "internal/io_pool.hpp"

namespace libactor::detail {

/// Runs every actor on the Asio I/O threads.
///
/// With CAF's default scheduler, each I/O completion that concerns a process
/// crosses from an Asio thread to a CAF worker and back: measured here at
/// 0.71-0.78x the connection rate of plain Asio (docs/architecture.md). With
/// this coordinator, `enqueue` posts `resume()` to the io_context of the
/// process's home thread (io_pool.hpp), so a process runs on I/O threads and
/// may touch its socket directly, and always on the same one. CAF 0.17 loads it through `actor_system_config::module_factories`
/// (the system builds its default scheduler only when none was supplied).
class asio_coordinator final : public caf::scheduler::abstract_coordinator {
public:
  using super = caf::scheduler::abstract_coordinator;

  asio_coordinator(caf::actor_system& sys, io_pool& pool);

  // -- caf::actor_system::module -----------------------------------------------

  void start() override;
  /// Called by the actor system's destructor once every actor is done.
  void stop() override;

  // -- caf::scheduler::abstract_coordinator --------------------------------------

  void enqueue(caf::resumable* job) override;

  /// Schedules many jobs with one post per `batch_size` of them (per home
  /// thread) instead of one each: a broadcast wakes thousands of processes
  /// at once. Takes the jobs' references.
  void enqueue_batch(caf::resumable* const* jobs, std::size_t count);

  /// Jobs per post in `enqueue_batch`: small enough that the I/O threads
  /// share a broadcast's processes and that a socket completion waits
  /// behind at most this many processes, large enough to save most posts.
  static constexpr std::size_t batch_size = 32;
  caf::actor_clock& clock() noexcept override { return clock_; }

  /// Runs `job` once on the calling thread and applies CAF's release rules.
  void run(caf::resumable* job);

private:
  /// The pool thread a job runs on: a process's home, fixed at its
  /// creation (io_pool::place).
  std::size_t home_of(caf::resumable* job) noexcept;

  /// What `resume` sees as its worker: `exec_later` defers to the io_context.
  class unit : public caf::execution_unit {
  public:
    unit(caf::actor_system* sys, asio_coordinator* owner)
      : caf::execution_unit(sys), owner_(owner) {
    }
    void exec_later(caf::resumable* job) override { owner_->enqueue(job); }

  private:
    asio_coordinator* owner_;
  };

  io_pool& pool_;
  asio_actor_clock clock_;
  unit unit_;
};

} // namespace libactor::detail
