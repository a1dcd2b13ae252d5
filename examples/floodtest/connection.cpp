#include "connection.hpp"

#include <netinet/in.h>

#include <array>
#include <charconv>
#include <cstring>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>
#include <fmt/format.h>

#include "clock.hpp"
#include "worker.hpp"

namespace floodtest {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

/// `t=<ns> k=<seq>` (what latency mode sends); false for any other chunk.
bool parse_stamp(std::string_view chunk, std::int64_t& t, std::uint32_t& k) noexcept {
  if (!starts_with(chunk, "t="))
    return false;
  const char* end = chunk.data() + chunk.size();
  auto r = std::from_chars(chunk.data() + 2, end, t);
  if (r.ec != std::errc{} || end - r.ptr < 3 || std::string_view{r.ptr, 3} != " k=")
    return false;
  return std::from_chars(r.ptr + 3, end, k).ec == std::errc{};
}

constexpr std::string_view hello_body = "hello\n";

/// One read buffer per worker thread, shared by all its connections.
thread_local std::array<char, 64 * 1024> read_buffer;

} // namespace

connection::connection(worker& owner) : owner_{owner}, socket_{owner.io().get_executor()} {}

void connection::start(std::uint32_t index) {
  index_ = index;
  progress_ = 0;
  timed_out_ = false;
  violation_ = nullptr;
  started_ns_ = now_ns();
  phase_ = phase::connecting;
  owner_.stats()[counter::attempted] += 1;
  error_code ec;
  socket_.open(asio::ip::tcp::v4(), ec);
  if (ec)
    return fail(fmt::format("socket: {}", ec.message()));
  socket_.non_blocking(true, ec);
  if (auto src = owner_.source_for(index)) {
    // Leave the port to connect(): the kernel then picks it per (source,
    // server) pair, so one source address is not limited to one
    // connection per port over all servers.
    int on = 1;
    ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    socket_.bind({*src, 0}, ec);
    if (ec)
      return fail(fmt::format("bind {}: {}", src->to_string(), ec.message()));
  }
  reader_.emplace(static_cast<reader_events&>(*this)); // the base is private
  socket_.async_connect(owner_.target_for(index_), [this](const error_code& e) { on_connected(e); });
}

void connection::on_connected(const error_code& ec) {
  if (ec) {
    if (ec == asio::error::operation_aborted)
      return timed_out_ ? fail(timeout_reason()) : void();
    return fail(fmt::format("connect: {}", ec.message()));
  }
  owner_.stats()[counter::connected] += 1;
  thread_local fmt::memory_buffer request;
  request.clear();
  if (owner_.opts().mode == load_mode::hello)
    fmt::format_to(std::back_inserter(request), "GET /hello HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                   owner_.host_for(index_));
  else
    fmt::format_to(std::back_inserter(request), "GET /stream/{} HTTP/1.1\r\nHost: {}\r\n\r\n",
                   owner_.opts().user_of(index_), owner_.host_for(index_));
  // A fresh socket's send buffer always takes a request this small, so the
  // connection needs no buffer to keep it until a write completes.
  error_code wec;
  auto n = socket_.write_some(asio::buffer(request.data(), request.size()), wec);
  if (wec || n != request.size())
    return fail(fmt::format("write: {}", wec ? wec.message() : "short write"));
  phase_ = phase::awaiting;
  arm_read();
}

void connection::arm_read() {
  socket_.async_wait(asio::socket_base::wait_read, [this](const error_code& ec) { on_readable(ec); });
}

void connection::on_readable(const error_code& ec) {
  if (ec) {
    if (ec == asio::error::operation_aborted)
      return timed_out_ ? fail(timeout_reason()) : void();
    return phase_ == phase::streaming ? end_stream(ec.message()) : fail(ec.message());
  }
  auto& buf = read_buffer;
  for (;;) {
    // Bytes the parser left last time go first, then as much as fits.
    auto kept = leftover_.size();
    std::memcpy(buf.data(), leftover_.data(), kept);
    error_code rec;
    auto n = socket_.read_some(asio::buffer(buf.data() + kept, buf.size() - kept), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again)
      break;
    if (rec || n == 0)
      return on_eof(rec);
    owner_.stats()[counter::bytes] += n;
    if (!feed({buf.data(), kept + n}))
      return;
    if (kept + n < buf.size())
      break;
  }
  arm_read();
}

bool connection::feed(std::string_view data) {
  bool hello = owner_.opts().mode == load_mode::hello;
  while (!data.empty() && phase_ != phase::finishing) {
    error_code ec;
    auto used = reader_->put(asio::buffer(data.data(), data.size()), ec);
    data.remove_prefix(used);
    if (ec == boost::beast::http::error::need_more)
      break;
    if (ec) {
      auto why = fmt::format("bad response: {}", ec.message());
      phase_ == phase::streaming ? end_stream(why) : fail(why);
      return false;
    }
    if (reader_->is_header_done() && reader_->status() != 200) {
      fail(fmt::format("HTTP {}", reader_->status()));
      return false;
    }
    if (violation_ != nullptr) {
      fail(violation_);
      return false;
    }
    if (reader_->is_done()) {
      if (hello) {
        if (progress_ != hello_body.size()) {
          fail("body is not 'hello\\n'");
          return false;
        }
        owner_.record_latency(static_cast<std::uint64_t>(now_ns() - started_ns_));
        phase_ = phase::finishing; // what follows is the server's close
      } else {
        phase_ == phase::streaming ? end_stream("server ended the stream") : fail("response ended before the welcome chunk");
        return false;
      }
    }
  }
  if (phase_ == phase::finishing)
    data = {};
  if (data.empty()) {
    if (leftover_.capacity() > 15)
      std::string{}.swap(leftover_); // an idle stream keeps no buffer
    else
      leftover_.clear();
  } else {
    leftover_.assign(data.data(), data.size());
  }
  return true;
}

void connection::on_eof(const error_code& ec) {
  switch (phase_) {
    case phase::finishing:
      release();
      owner_.on_completed(*this);
      return;
    case phase::streaming:
      return end_stream(ec ? ec.message() : "server closed the stream");
    default:
      return fail(ec ? ec.message() : "server closed the connection before answering");
  }
}

void connection::on_chunk(std::string_view chunk) {
  auto& s = owner_.stats();
  s[counter::chunks] += 1;
  if (phase_ == phase::awaiting) {
    if (!starts_with(chunk, "welcome ")) {
      violation_ = "first chunk is not 'welcome <id>'";
      return;
    }
    s[counter::welcomes] += 1;
    phase_ = phase::streaming;
    owner_.on_established(*this);
    return;
  }
  if (starts_with(chunk, "tick ")) {
    s[counter::ticks] += 1;
    return;
  }
  s[counter::messages] += 1;
  std::int64_t t = 0;
  std::uint32_t k = 0;
  if (parse_stamp(chunk, t, k)) {
    auto now = now_ns();
    s[counter::deliveries] += 1;
    owner_.record_latency(now > t ? static_cast<std::uint64_t>(now - t) : 0);
    if (k <= progress_)
      s[counter::out_of_order] += 1;
    else
      progress_ = k;
  }
}

void connection::on_body(std::string_view piece) {
  if (owner_.opts().mode != load_mode::hello)
    return; // a non-200 answer's body: the status check reports it
  if (hello_body.substr(progress_, piece.size()) != piece)
    violation_ = "body is not 'hello\\n'";
  else
    progress_ += static_cast<std::uint32_t>(piece.size());
}

void connection::expire(std::int64_t now, std::int64_t limit_ns) {
  bool waiting = phase_ == phase::connecting || phase_ == phase::awaiting || phase_ == phase::finishing;
  if (waiting && !timed_out_ && now - started_ns_ > limit_ns) {
    timed_out_ = true;
    error_code ec;
    socket_.cancel(ec);
  }
}

std::string_view connection::timeout_reason() const noexcept {
  switch (phase_) {
    case phase::connecting: return "connect timeout";
    case phase::finishing: return "server kept the connection open after Connection: close";
    default:
      return owner_.opts().mode == load_mode::hello ? "no response within --connect-timeout"
                                                     : "no welcome chunk within --connect-timeout";
  }
}

void connection::release() {
  error_code ec;
  socket_.close(ec);
  reader_.reset();
  std::string{}.swap(leftover_);
  phase_ = phase::idle;
}

void connection::fail(std::string_view why) {
  release();
  owner_.on_failed(*this, why);
}

void connection::end_stream(std::string_view why) {
  release();
  owner_.on_closed(*this, why);
}

void connection::close() {
  if (phase_ != phase::idle)
    release();
}

} // namespace floodtest
