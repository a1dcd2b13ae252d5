// A minimal HTTP/1.1 server in plain Asio, with no actors: the baseline
// against which bench/accept_rate.sh and the broadcast benchmarks quote
// libactor's figures. Written the way one would write the fastest simple
// Asio server: one io_context per I/O thread, one coroutine-free async
// chain per connection, a small fixed buffer, no parser object.
//
//   GET /stream/<id>   chunked response: a `welcome <id>\n` chunk, then one
//                      chunk per broadcast; the stream stays open until the
//                      peer closes it.
//   POST /broadcast    writes one `<body>\n` chunk to every open stream (each
//                      I/O thread writes to its own streams) and answers
//                      `<streams>\n`.
//   anything else      "hello\n", honouring keep-alive and `Connection: close`.
//
//   asio_baseline [--port N] [--threads N]   prints "port=<N>" when ready
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <strings.h>
#include <thread>
#include <vector>

#include <boost/asio.hpp>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view keep_alive_reply =
  "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\nhello\n";
constexpr std::string_view close_reply =
  "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello\n";
constexpr std::string_view stream_head =
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";

class conn;

/// One I/O thread: its io_context and the streams it owns. Only that thread
/// touches `streams`.
struct worker {
  asio::io_context io{1};
  std::vector<std::shared_ptr<conn>> streams;
};

std::vector<std::unique_ptr<worker>> workers;
std::atomic<std::size_t> open_streams{0};

/// Appends one chunk holding `a` then `b` (hex size CRLF data CRLF).
void append_chunk(std::string& out, std::string_view a, std::string_view b) {
  char hex[24];
  int n = std::snprintf(hex, sizeof hex, "%zx\r\n", a.size() + b.size());
  out.append(hex, static_cast<std::size_t>(n)).append(a).append(b).append("\r\n");
}

class conn : public std::enable_shared_from_this<conn> {
public:
  conn(tcp::socket s, worker& w) : sock_(std::move(s)), w_(w) {
  }

  void start() { read(); }

  /// Queues `data` on this stream: written at once as far as the socket
  /// takes it, the rest asynchronously. Runs on the owning thread.
  void send(std::string_view data) {
    if (dead_)
      return;
    if (writing_) {
      queued_.append(data);
      return;
    }
    boost::system::error_code ec;
    std::size_t n = sock_.write_some(asio::buffer(data.data(), data.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      n = 0;
    }
    if (ec)
      return kill();
    if (n == data.size())
      return;
    out_.assign(data.substr(n));
    writing_ = true;
    flush();
  }

private:
  void read() {
    sock_.async_read_some(asio::buffer(buf_.data() + used_, buf_.size() - used_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            if (!ec)
                              self->on_read(n);
                          });
  }

  void on_read(std::size_t n) {
    used_ += n;
    std::string_view data{buf_.data(), used_};
    auto end = data.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (used_ == buf_.size())
        return; // too big for a baseline: drop the connection
      read();
      return;
    }
    auto head = data.substr(0, end);
    std::string head_z{head};
    close_ = strcasestr(head_z.c_str(), "connection: close") != nullptr;
    std::size_t consumed = end + 4;
    std::string_view reply;
    if (head.compare(0, 12, "GET /stream/") == 0) {
      auto id = head.substr(12, head.find(' ', 12) - 12);
      return become_stream(id);
    }
    if (head.compare(0, 16, "POST /broadcast ") == 0) {
      const char* cl = strcasestr(head_z.c_str(), "content-length:");
      std::size_t len = cl ? std::strtoul(cl + 15, nullptr, 10) : 0;
      if (consumed + len > buf_.size())
        return; // too big for a baseline: drop the connection
      if (used_ < consumed + len) {
        read();
        return;
      }
      auto count = broadcast(data.substr(consumed, len));
      consumed += len;
      auto body = std::to_string(count) + "\n";
      reply_ = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nContent-Type: text/plain\r\n" + (close_ ? "Connection: close\r\n" : "") + "\r\n" + body;
      reply = reply_;
    } else {
      reply = close_ ? close_reply : keep_alive_reply;
    }
    auto rest = used_ - consumed;
    std::memmove(buf_.data(), buf_.data() + consumed, rest);
    used_ = rest;
    asio::async_write(sock_, asio::buffer(reply.data(), reply.size()),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec)
                          return;
                        if (self->close_) {
                          boost::system::error_code ignored;
                          self->sock_.shutdown(tcp::socket::shutdown_both, ignored);
                          return;
                        }
                        if (self->used_ > 0)
                          self->on_read(0);
                        else
                          self->read();
                      });
  }

  /// Posts one `<body>\n` chunk to every I/O thread's streams; returns how
  /// many streams are open.
  static std::size_t broadcast(std::string_view body) {
    auto chunk = std::make_shared<std::string>();
    append_chunk(*chunk, body, "\n");
    auto count = open_streams.load(std::memory_order_relaxed);
    for (auto& w : workers)
      asio::post(w->io, [w = w.get(), chunk] {
        for (auto& s : w->streams)
          s->send(*chunk);
      });
    return count;
  }

  void become_stream(std::string_view id) {
    std::string first{stream_head};
    append_chunk(first, "welcome " + std::string{id}, "\n");
    used_ = 0;
    boost::system::error_code ignored;
    sock_.non_blocking(true, ignored);
    index_ = w_.streams.size();
    w_.streams.push_back(shared_from_this());
    open_streams.fetch_add(1, std::memory_order_relaxed);
    send(first);
    watch();
  }

  /// A stream reads only to learn that the peer closed it.
  void watch() {
    sock_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (!ec)
        return self->watch();
      self->drop();
    });
  }

  void flush() {
    asio::async_write(sock_, asio::buffer(out_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec)
        return self->kill();
      if (self->queued_.empty()) {
        self->writing_ = false;
        self->out_.clear();
        return;
      }
      self->out_.swap(self->queued_);
      self->queued_.clear();
      self->flush();
    });
  }

  /// A failed write: close the socket; the aborted watch() read drops it.
  void kill() {
    dead_ = true;
    boost::system::error_code ignored;
    sock_.close(ignored);
  }

  void drop() {
    kill();
    if (index_ == npos)
      return;
    auto& v = w_.streams;
    auto i = index_;
    index_ = npos;
    std::swap(v[i], v.back());
    v[i]->index_ = v[i].get() == this ? npos : i;
    v.pop_back(); // `this` is still held by the watch() handler
    open_streams.fetch_sub(1, std::memory_order_relaxed);
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  tcp::socket sock_;
  worker& w_;
  std::array<char, 4096> buf_;
  std::size_t used_ = 0;
  bool close_ = false;
  std::string reply_;
  // Stream state.
  std::size_t index_ = npos; // in w_.streams
  std::string out_;          // being written asynchronously
  std::string queued_;       // sent while out_ is in flight
  bool writing_ = false;
  bool dead_ = false;
};

void accept(tcp::acceptor& acc, std::size_t next) {
  auto& w = *workers[next % workers.size()];
  acc.async_accept(w.io, [&acc, &w, next](boost::system::error_code ec, tcp::socket s) {
    if (!ec) {
      if (&w == workers.front().get())
        std::make_shared<conn>(std::move(s), w)->start();
      else
        asio::post(w.io, [&w, s = std::move(s)]() mutable { std::make_shared<conn>(std::move(s), w)->start(); });
    }
    accept(acc, next + 1);
  });
}

} // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 0;
  unsigned threads = 1;
  CLI::App app{"/hello, /stream/<id> and /broadcast server for the benchmarks; prints port=<N> when ready"};
  app.add_option("--port", port, "port to bind on 127.0.0.1 (0: any free one)");
  app.add_option("--threads", threads, "I/O threads")->check(CLI::Range(1u, 64u));
  CLI11_PARSE(app, argc, argv);
  for (unsigned i = 0; i < threads; ++i)
    workers.push_back(std::make_unique<worker>());
  auto& io = workers.front()->io;
  tcp::acceptor acc{io, tcp::endpoint{asio::ip::make_address("127.0.0.1"), port}};
  acc.listen(1024);
  std::printf("port=%u\n", acc.local_endpoint().port());
  std::fflush(stdout);
  accept(acc, 0);
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& w : workers)
    guards.push_back(asio::make_work_guard(w->io));
  asio::signal_set stop{io, SIGINT, SIGTERM};
  stop.async_wait([&](auto, auto) {
    for (auto& w : workers)
      w->io.stop();
  });
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back([w = workers[i].get()] { w->io.run(); });
  io.run();
  for (auto& t : pool)
    t.join();
}
