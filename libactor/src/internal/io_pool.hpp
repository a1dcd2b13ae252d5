/// @file
/// The node's Asio I/O threads: one io_context per thread. They run both
/// socket completions and, through the asio_coordinator, every process.
///
/// Why one context per thread rather than one shared by all: with a shared
/// queue every post takes the same mutex and, whenever another thread is
/// idle, wakes it through a futex, which often finds nothing left to do and
/// sleeps again. Measured with the churn benchmark, two threads on one
/// context did the work of one at twice the CPU. Per-thread contexts are the
/// layout Asio's own performance advice and the plain-Asio baseline use;
/// each process has a home thread (see `place`) and runs only there, as a
/// BEAM process runs from its scheduler's run queue.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "libactor/log.hpp"

namespace libactor::detail {

class io_pool {
public:
  explicit io_pool(std::size_t threads) : size_(threads == 0 ? 1 : threads) {
    for (std::size_t i = 0; i < size_; ++i)
      contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
  }

  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  ~io_pool() { join(); }

  /// Thread `i`'s context.
  boost::asio::io_context& context(std::size_t i) noexcept { return *contexts_[i % size_]; }
  /// The first thread's: for node-wide objects (listeners).
  boost::asio::io_context& context() noexcept { return *contexts_[0]; }
  std::size_t size() const noexcept { return size_; }

  void start() {
    for (std::size_t i = 0; i < size_; ++i)
      work_.emplace_back(contexts_[i]->get_executor());
    for (std::size_t i = 0; i < size_; ++i)
      threads_.emplace_back([this, i] {
        current() = {this, i};
        run(i);
        current() = {};
      });
  }

  /// Exceptions that escaped a handler on one of the threads (and were
  /// logged as `io_handler_exception`).
  std::uint64_t handler_exceptions() const noexcept {
    return handler_exceptions_.load(std::memory_order_relaxed);
  }

  /// Lets the threads finish once no work is left, joins them, then runs on
  /// the calling thread whatever was posted meanwhile (a job run on one
  /// context may post to another), so no job is dropped.
  void join() {
    work_.clear();
    for (auto& t : threads_)
      t.join();
    threads_.clear();
    for (bool ran = true; ran;) {
      ran = false;
      for (std::size_t i = 0; i < size_; ++i) {
        auto& c = *contexts_[i];
        c.restart();
        // A handler that threw did run (and may have posted more).
        ran = !completes(i, [&] { ran = c.poll() > 0 || ran; }) || ran;
      }
    }
  }

  /// The home thread of a process created now: the one chosen by a
  /// `placement` in scope; else the calling thread if it is one of this
  /// pool's (a process spawned by a process stays with it, as BEAM puts a
  /// spawned process on its parent's run queue); else the next thread in
  /// round robin (processes started from outside spread over the threads).
  std::size_t place() noexcept {
    auto& pinned = pinned_home();
    if (pinned.pool == this)
      return pinned.index;
    return here_or_next();
  }

  /// Where a job with no home of its own runs: the calling thread if it is
  /// one of this pool's, else round robin.
  std::size_t here_or_next() noexcept {
    auto& cur = current();
    if (cur.pool == this)
      return cur.index;
    return next_.fetch_add(1, std::memory_order_relaxed) % size_;
  }

  /// A pool and one of its threads.
  struct slot {
    const io_pool* pool = nullptr;
    std::size_t index = 0;
  };

  /// The calling thread's index if it is one of this pool's threads, else
  /// `size()`.
  std::size_t thread_index() const noexcept {
    auto& cur = current();
    return cur.pool == this ? cur.index : size_;
  }

  /// While in scope, processes created on this thread get home `index`:
  /// how a sharded supervisor spreads its shards, and with them their
  /// children, over the threads.
  class placement {
  public:
    placement(io_pool& pool, std::size_t index) : saved_(pinned_home()) {
      pinned_home() = {&pool, index % pool.size_};
    }
    placement(const placement&) = delete;
    placement& operator=(const placement&) = delete;
    ~placement() { pinned_home() = saved_; }

  private:
    slot saved_;
  };

private:
  /// Thread `i`'s loop. An exception escaping a handler leaves `run`; left
  /// to escape the thread it would end the whole node (std::terminate). As
  /// the BEAM keeps its schedulers running whatever one process does, it is
  /// logged and the loop goes on: Asio lets `run` be called again after a
  /// handler threw, with the rest of the queue intact.
  void run(std::size_t i) {
    while (!completes(i, [this, i] { contexts_[i]->run(); }))
      continue;
  }

  /// Runs `step` over thread `i`'s context; false if a handler threw (then
  /// logged and counted).
  template <class Step>
  bool completes(std::size_t i, Step step) {
    try {
      step();
      return true;
    } catch (const std::exception& e) {
      handler_exceptions_.fetch_add(1, std::memory_order_relaxed);
      log::error("io_handler_exception", log::kv("thread", i), log::kv("what", e.what()));
    } catch (...) {
      handler_exceptions_.fetch_add(1, std::memory_order_relaxed);
      log::error("io_handler_exception", log::kv("thread", i), log::kv("what", "unknown exception"));
    }
    return false;
  }

  /// Which pool and thread the calling thread is (none outside pools).
  static slot& current() noexcept {
    thread_local slot s;
    return s;
  }
  static slot& pinned_home() noexcept {
    thread_local slot s;
    return s;
  }

  using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  std::size_t size_;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<work_guard> work_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::uint64_t> handler_exceptions_{0};
};

} // namespace libactor::detail
