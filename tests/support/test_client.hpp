/// @file
/// A blocking TCP client for tests: raw bytes in and out, with deadlines on
/// every read so that a broken server fails a test instead of hanging it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace libactor::test {

/// One parsed HTTP response (Content-Length or chunked bodies).
struct http_reply {
  int status = 0;
  std::string head; ///< Status line and header fields, CRLF-separated.
  std::string body;

  bool has_header(std::string_view field_line) const {
    return head.find(std::string{field_line}) != std::string::npos;
  }
};

/// A receive buffer size to set before connecting: the window a peer sees
/// is fixed at the handshake, so a slow reader must shrink it first.
struct receive_buffer {
  int bytes;
};

class test_client {
public:
  explicit test_client(std::uint16_t port, const char* address = "127.0.0.1") { open(port, address, 0); }

  test_client(std::uint16_t port, receive_buffer rb) { open(port, "127.0.0.1", rb.bytes); }

  ~test_client() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  test_client(const test_client&) = delete;
  test_client& operator=(const test_client&) = delete;

private:
  void open(std::uint16_t port, const char* address, int rcvbuf) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0)
      throw std::runtime_error("socket failed");
    if (rcvbuf > 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, address, &sa.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect failed");
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }

public:
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("send failed");
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  /// Reads until `needle` appears in the unread data; returns everything up
  /// to and including it, or nullopt at EOF or the deadline.
  std::optional<std::string> read_until(std::string_view needle,
                                        std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto pos = buf_.find(needle);
      if (pos != std::string::npos) {
        auto out = buf_.substr(0, pos + needle.size());
        buf_.erase(0, pos + needle.size());
        return out;
      }
      if (!fill(until))
        return std::nullopt;
    }
  }

  /// Reads exactly `n` bytes, or nullopt at EOF or the deadline.
  std::optional<std::string> read_exactly(std::size_t n,
                                          std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (buf_.size() < n)
      if (!fill(until))
        return std::nullopt;
    auto out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  /// Reads one response with a Content-Length body (or none).
  std::optional<http_reply> read_reply(std::chrono::milliseconds timeout = std::chrono::seconds{10},
                                       bool head_request = false) {
    auto head = read_until("\r\n\r\n", timeout);
    if (!head)
      return std::nullopt;
    http_reply r;
    r.head = *head;
    r.status = std::stoi(head->substr(9, 3));
    if (head_request)
      return r;
    auto cl = find_field(*head, "content-length:");
    if (cl) {
      auto body = read_exactly(std::stoul(*cl), timeout);
      if (!body)
        return std::nullopt;
      r.body = *body;
    }
    return r;
  }

  /// Reads the next chunk of a chunked body; nullopt at EOF or the deadline,
  /// an empty string for the last chunk.
  std::optional<std::string> read_chunk(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    auto size_line = read_until("\r\n", timeout);
    if (!size_line)
      return std::nullopt;
    auto size = std::stoul(*size_line, nullptr, 16);
    auto data = read_exactly(size + 2, timeout);
    if (!data)
      return std::nullopt;
    return data->substr(0, size);
  }

  /// True if the server closes the connection before the deadline (no
  /// further bytes expected).
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (eof_)
        return true;
      if (!fill(until))
        return eof_;
    }
  }

  /// Shrinks the kernel's receive buffer: a slow reader whose window fills fast.
  void set_receive_buffer(int bytes) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  }

  /// Half-closes the sending side (the server then sees EOF).
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  int fd() const noexcept { return fd_; }

private:
  static std::optional<std::string> find_field(const std::string& head, std::string_view name) {
    std::string lower;
    for (char c : head)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto pos = lower.find(name);
    if (pos == std::string::npos)
      return std::nullopt;
    auto start = pos + name.size();
    auto end = head.find("\r\n", start);
    auto value = head.substr(start, end - start);
    while (!value.empty() && value.front() == ' ')
      value.erase(0, 1);
    return value;
  }

  bool fill(std::chrono::steady_clock::time_point until) {
    if (eof_)
      return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    char tmp[16384];
    auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

} // namespace libactor::test
