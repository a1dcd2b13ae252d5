#include "sender.hpp"

#include <charconv>

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include "clock.hpp"
#include "target.hpp"

namespace floodtest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

sender::sender(asio::io_context& io, const options& opts, asio::ip::tcp::endpoint target,
               std::function<void()> on_done)
    : opts_{opts}, target_{target}, on_done_{std::move(on_done)}, stream_{io}, timer_{io} {}

void sender::start() {
  first_ = std::chrono::steady_clock::now();
  send(1);
}

void sender::cancel() {
  cancelled_ = true;
  timer_.cancel();
  stream_.cancel();
}

void sender::send(std::uint32_t k) {
  if (cancelled_)
    return;
  if (connected_)
    return write(k);
  stream_.expires_after(opts_.connect_timeout);
  stream_.async_connect(target_, [this, k](const error_code& ec) {
    if (ec)
      return failed(k, fmt::format("connect: {}", ec.message()));
    connected_ = true;
    write(k);
  });
}

void sender::write(std::uint32_t k) {
  req_ = {};
  req_.method(http::verb::post);
  req_.target(opts_.via == send_via::broadcast ? std::string{"/broadcast"}
                                               : "/send/" + opts_.user_of((k - 1) % opts_.user_count()));
  req_.version(11);
  req_.set(http::field::host, to_string(target_));
  req_.set(http::field::content_type, "text/plain");
  // The stamp is read last, so the measured latency starts at the write.
  req_.body() = fmt::format("t={} k={}", now_ns(), k);
  req_.prepare_payload();
  ++result_.sent;
  stream_.expires_after(opts_.connect_timeout);
  http::async_write(stream_, req_, [this, k](const error_code& ec, std::size_t) {
    if (ec)
      return failed(k, fmt::format("write: {}", ec.message()));
    res_ = {};
    http::async_read(stream_, buffer_, res_, [this, k](const error_code& rec, std::size_t) {
      if (rec)
        return failed(k, fmt::format("read: {}", rec.message()));
      answered(k);
    });
  });
}

void sender::answered(std::uint32_t k) {
  if (res_.result_int() != 200)
    return failed(k, fmt::format("HTTP {}", res_.result_int()));
  const auto& body = res_.body();
  std::uint64_t reached = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), reached);
  if (ec != std::errc{} || std::string_view(end, body.data() + body.size() - end).find_first_not_of("\r\n") !=
                               std::string_view::npos)
    return failed(k, "answer is not a count");
  ++result_.answered;
  result_.reached += reached;
  if (!res_.keep_alive()) {
    error_code ignored;
    stream_.socket().close(ignored);
    connected_ = false;
  }
  next(k);
}

void sender::failed(std::uint32_t k, const std::string& why) {
  if (cancelled_)
    return;
  ++result_.errors[why];
  error_code ignored;
  stream_.socket().close(ignored);
  connected_ = false;
  buffer_.clear();
  next(k);
}

void sender::next(std::uint32_t k) {
  if (cancelled_)
    return;
  if (k >= opts_.messages) {
    on_done_();
    return;
  }
  timer_.expires_at(first_ + opts_.interval * k);
  timer_.async_wait([this, k](const error_code& ec) {
    if (!ec)
      send(k + 1);
  });
}

} // namespace floodtest
