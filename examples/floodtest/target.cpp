#include "target.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace floodtest {

std::string to_string(const boost::asio::ip::tcp::endpoint& ep) {
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

std::string resolve_target(const std::string& host, std::uint16_t port, boost::asio::ip::tcp::endpoint& out) {
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address_v4(host, ec);
  if (ec)
    return fmt::format("--host '{}' is not an IPv4 address such as 127.0.0.1", host);
  if (port == 0)
    return "--port must not be 0";
  out = {addr, port};
  return {};
}

std::string resolve_targets(const options& opts, std::vector<boost::asio::ip::tcp::endpoint>& out) {
  out.clear();
  if (opts.targets.empty()) {
    out.emplace_back();
    return resolve_target(opts.host, opts.port, out.back());
  }
  std::string_view rest = opts.targets;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    auto colon = item.rfind(':');
    unsigned port = 0;
    auto digits = colon == std::string_view::npos ? std::string_view{} : item.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || port > 65535)
      return fmt::format("--targets: '{}' is not ip:port", item);
    out.emplace_back();
    if (auto why = resolve_target(std::string{item.substr(0, colon)}, static_cast<std::uint16_t>(port), out.back());
        !why.empty())
      return fmt::format("--targets: '{}': {}", item, why);
  }
  if (out.empty())
    return "--targets is empty";
  return {};
}

std::string probe(const boost::asio::ip::tcp::endpoint& target, std::chrono::nanoseconds timeout) {
  auto fail = [&](int err) { return fmt::format("cannot connect to {}: {}", to_string(target), std::strerror(err)); };
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail(errno);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(target.port());
  sa.sin_addr.s_addr = htonl(target.address().to_v4().to_uint());
  int err = 0;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
      int n = ::poll(&p, 1, static_cast<int>(ms));
      socklen_t len = sizeof err;
      if (n == 0)
        err = ETIMEDOUT;
      else if (n < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    }
  }
  ::close(fd);
  return err == 0 ? std::string{} : fail(err);
}

} // namespace floodtest
