/// @file
/// The node's Asio I/O threads: one io_context run by N threads. They run
/// both socket completions and, through the asio_coordinator, every process.
#pragma once

#include <cstddef>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace libactor::detail {

class io_pool {
public:
  explicit io_pool(std::size_t threads) : size_(threads) {
  }

  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  ~io_pool() { join(); }

  boost::asio::io_context& context() noexcept { return io_; }
  std::size_t size() const noexcept { return size_; }

  void start() {
    work_.emplace(io_.get_executor());
    for (std::size_t i = 0; i < size_; ++i)
      threads_.emplace_back([this] { io_.run(); });
  }

  /// Lets the threads finish once no work is left, joins them, then runs on
  /// the calling thread whatever was posted meanwhile, so no job is dropped.
  void join() {
    work_.reset();
    for (auto& t : threads_)
      t.join();
    threads_.clear();
    io_.restart();
    io_.poll();
  }

  bool in_pool_thread() const noexcept {
    auto self = std::this_thread::get_id();
    for (auto& t : threads_)
      if (t.get_id() == self)
        return true;
    return false;
  }

private:
  using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  std::size_t size_;
  boost::asio::io_context io_;
  std::optional<work_guard> work_;
  std::vector<std::thread> threads_;
};

} // namespace libactor::detail
