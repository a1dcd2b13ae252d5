// A minimal HTTP/1.1 "/hello" server in plain Asio, with no actors: the
// baseline against which bench/accept_rate.sh quotes libactor's figures.
// It answers every request with "hello\n", honours keep-alive and
// `Connection: close`, and does nothing else. Written the way one would
// write the fastest simple Asio server: one coroutine-free async chain per
// connection, a small fixed buffer, no parser object.
//
//   asio_baseline [--port N] [--threads N]   prints "port=<N>" when ready
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

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

class conn : public std::enable_shared_from_this<conn> {
public:
  explicit conn(tcp::socket s) : sock_(std::move(s)) {
  }

  void start() { read(); }

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
    close_ = strcasestr(std::string{head}.c_str(), "connection: close") != nullptr;
    auto rest = used_ - (end + 4);
    std::memmove(buf_.data(), buf_.data() + end + 4, rest);
    used_ = rest;
    auto reply = close_ ? close_reply : keep_alive_reply;
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

  tcp::socket sock_;
  std::array<char, 4096> buf_;
  std::size_t used_ = 0;
  bool close_ = false;
};

void accept(tcp::acceptor& acc) {
  acc.async_accept([&acc](boost::system::error_code ec, tcp::socket s) {
    if (!ec)
      std::make_shared<conn>(std::move(s))->start();
    accept(acc);
  });
}

} // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 0;
  unsigned threads = 1;
  CLI::App app{"/hello server for bench/accept_rate.sh; prints port=<N> when ready"};
  app.add_option("--port", port, "port to bind on 127.0.0.1 (0: any free one)");
  app.add_option("--threads", threads, "I/O threads")->check(CLI::Range(1u, 64u));
  CLI11_PARSE(app, argc, argv);
  asio::io_context io;
  tcp::acceptor acc{io, tcp::endpoint{asio::ip::make_address("127.0.0.1"), port}};
  acc.listen(1024);
  std::printf("port=%u\n", acc.local_endpoint().port());
  std::fflush(stdout);
  accept(acc);
  asio::signal_set stop{io, SIGINT, SIGTERM};
  stop.async_wait([&](auto, auto) { io.stop(); });
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool)
    t.join();
}
