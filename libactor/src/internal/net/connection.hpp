/// @file
/// One accepted TCP connection: the socket plus the listener's bookkeeping.
/// It is shared (std::shared_ptr) so that it can outlive the session process
/// that uses it: when a session crashes, the supervisor restarts it with the
/// same connection (docs/http.md, "Crash isolation").
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <caf/actor_addr.hpp>

#include "libactor/net/listener.hpp"

namespace libactor::net {

class connection {
public:
  connection(boost::asio::ip::tcp::socket socket, std::shared_ptr<listener::impl> owner,
             std::uint64_t id);
  ~connection();

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Only the process that currently owns the connection touches the socket.
  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

  /// Unique per listener, for logs.
  std::uint64_t id() const noexcept { return id_; }

  /// Closes the socket now (idempotent); the listener counts it as closed.
  /// Only the owning process may call it (Asio sockets are not thread-safe).
  /// If an `abort` is inside its shutdown(2) right now, waits for that one
  /// system call before closing the descriptor.
  void close() noexcept;

  /// From any thread: shuts the socket down (shutdown(2) is thread-safe on a
  /// descriptor) so that the owner's next read or write fails and it closes.
  /// Does nothing once `close` has started: the descriptor may then be
  /// closed already and its number reused by another accept, whose socket
  /// a late shutdown(2) would cut.
  void abort() noexcept;
  bool closed() const noexcept { return (state_.load(std::memory_order_acquire) & closed_bit) != 0; }

  /// The process that owns the socket now (a restarted session replaces a
  /// crashed one), for whoever must reach it from outside: the listener's
  /// drain. A one-byte spinlock: writes are rare, reads rarer.
  void set_owner(caf::actor_addr who) noexcept {
    while (owner_lock_.test_and_set(std::memory_order_acquire)) {
    }
    owner_addr_ = std::move(who);
    owner_lock_.clear(std::memory_order_release);
  }
  caf::actor_addr owner() const noexcept {
    while (owner_lock_.test_and_set(std::memory_order_acquire)) {
    }
    auto who = owner_addr_;
    owner_lock_.clear(std::memory_order_release);
    return who;
  }

  /// Set by `listener::stop`: finish the current request, then close.
  bool draining() const noexcept { return draining_.load(std::memory_order_acquire); }
  void set_draining() noexcept { draining_.store(true, std::memory_order_release); }

private:
  friend int native_handle(const connection& conn) noexcept;

  /// `state_` bits. `close` sets `closed_bit` and then waits while
  /// `aborting_bit` is set; `abort` sets `aborting_bit` only while
  /// `closed_bit` is clear and clears it after its shutdown(2). So a
  /// shutdown(2) never overlaps or follows the close(2) of the descriptor.
  /// The owner's cost is one uncontended atomic RMW per connection.
  static constexpr std::uint8_t closed_bit = 1;
  static constexpr std::uint8_t aborting_bit = 2;

  boost::asio::ip::tcp::socket socket_;
  /// The descriptor, copied at construction: `abort` runs on another thread
  /// and must not read the Asio socket object the owner uses (and that
  /// close() rewrites).
  const int fd_;
  std::shared_ptr<listener::impl> listener_;
  std::uint64_t id_;
  std::atomic<std::uint8_t> state_{0};
  std::atomic<bool> draining_{false};
  mutable std::atomic_flag owner_lock_ = ATOMIC_FLAG_INIT;
  caf::actor_addr owner_addr_;
};

} // namespace libactor::net
