/// @file
/// Latency mode's message source, in the parent: `--messages` POSTs on one
/// keep-alive connection, `--interval` apart, each body `t=<ns> k=<seq>`
/// with the steady clock read just before the write. Each answer is the
/// number of streams the server reached; their sum is the number of
/// deliveries the workers must see.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "options.hpp"

namespace floodtest {

class sender {
public:
  struct outcome {
    std::uint32_t sent = 0;     ///< requests written
    std::uint32_t answered = 0; ///< 200 answers with a count
    std::uint64_t reached = 0;  ///< sum of the counts: expected deliveries
    std::map<std::string, std::uint64_t> errors;
  };

  sender(boost::asio::io_context& io, const options& opts, boost::asio::ip::tcp::endpoint target,
         std::function<void()> on_done);

  void start();
  /// Stops sending; `on_done` is not called.
  void cancel();
  const outcome& result() const noexcept { return result_; }

private:
  void send(std::uint32_t k);
  void write(std::uint32_t k);
  void answered(std::uint32_t k);
  void failed(std::uint32_t k, const std::string& why);
  void next(std::uint32_t k);

  const options& opts_;
  boost::asio::ip::tcp::endpoint target_;
  std::function<void()> on_done_;
  boost::beast::tcp_stream stream_;
  boost::asio::steady_timer timer_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::request<boost::beast::http::string_body> req_;
  boost::beast::http::response<boost::beast::http::string_body> res_;
  std::chrono::steady_clock::time_point first_;
  bool connected_ = false;
  bool cancelled_ = false;
  outcome result_;
};

} // namespace floodtest
