/// @file
/// One client connection: an Asio state machine (connect, write the request,
/// wait for readability, read into the worker thread's buffer, parse) on its
/// worker's single-threaded io_context. It holds no read buffer and no timer
/// of its own; the worker's sweep times it out. About 200 bytes plus
/// Asio's per-socket state while a stream is held.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "response_reader.hpp"

namespace floodtest {

class worker;

class connection final : private reader_events {
public:
  /// The io_context executor (8 bytes) instead of any_io_executor (56).
  using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

  explicit connection(worker& owner);
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Opens connection number `index`: stream `index` (its user id and
  /// source address) or, in hello mode, the index-th request of its slot.
  void start(std::uint32_t index);

  /// Cancels the pending operation of a connection that has waited longer
  /// than `limit_ns` since `start` to be established (in hello mode: to be
  /// closed by the server); its handler then reports the timeout. Only one
  /// operation is ever pending, so a cancelled handler is the last one.
  void expire(std::int64_t now_ns, std::int64_t limit_ns);

  /// Closes without reporting anything: the run is over.
  void close();

  bool is_open() const noexcept { return phase_ != phase::idle; }

private:
  enum class phase : std::uint8_t {
    idle,       ///< no socket
    connecting, ///< async_connect pending
    awaiting,   ///< request written; no welcome chunk (or hello response) yet
    streaming,  ///< established stream
    finishing,  ///< hello: response read, waiting for the server to close
  };

  void on_connected(const boost::system::error_code& ec);
  void arm_read();
  void on_readable(const boost::system::error_code& ec);
  /// Parses `data`, keeps what the parser could not use yet; false if the
  /// connection ended inside.
  bool feed(std::string_view data);
  void on_eof(const boost::system::error_code& ec);
  /// Ends a connection that was never established (counted as failed).
  void fail(std::string_view why);
  /// Ends an established stream the server closed (counted as closed).
  void end_stream(std::string_view why);
  void release();
  std::string_view timeout_reason() const noexcept;

  void on_chunk(std::string_view chunk) override;
  void on_body(std::string_view piece) override;

  worker& owner_;
  socket_type socket_;
  std::optional<response_reader> reader_; ///< exists only while open
  std::string leftover_;                  ///< bytes the parser needs more of; usually empty
  std::int64_t started_ns_ = 0;
  std::uint32_t index_ = 0;
  /// Streams: the highest `k` seen. Hello: bytes of `hello\n` matched.
  std::uint32_t progress_ = 0;
  phase phase_ = phase::idle;
  bool timed_out_ = false;
  const char* violation_ = nullptr; ///< set inside the parser; ends the connection after `put`
};

} // namespace floodtest
