/// @file
/// A nats-server of the test's own: started on a free loopback port with
/// JetStream (`-js -sd <tmpdir>`), ready once it logs "Server is ready",
/// killed (SIGKILL, like a crash) and restarted on the same port on
/// request, killed and cleaned up at the end.
#pragma once

#include <atomic>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "support/child_process.hpp"

namespace libactor::test {

/// A loopback port nobody listens on right now, below the kernel's
/// ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, 32768 and up
/// by default): a port the kernel handed out would be free again once
/// released, but the many client connections of tests running alongside
/// could take it as their local port before nats-server binds it (seen as
/// a rare failure to start under `ctest -j`). Ports are tried from a
/// per-process random start until one binds.
inline int free_port() {
  static std::atomic<unsigned> next{static_cast<unsigned>(::getpid()) * 7919u};
  for (int attempt = 0; attempt < 2000; ++attempt) {
    int port = 20000 + static_cast<int>(next.fetch_add(1) % 12000);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
      break;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (ok)
      return port;
  }
  throw std::runtime_error("free_port: no free port in 20000-31999");
}

class nats_server {
public:
  /// Starts at once on a free port, which restarts keep.
  explicit nats_server(bool jetstream = true) : nats_server(jetstream, false) {}

  /// Picks the port but starts nothing: `start` does, later (a server that
  /// appears after its clients).
  static std::unique_ptr<nats_server> not_started(bool jetstream = true) {
    return std::unique_ptr<nats_server>{new nats_server(jetstream, true)};
  }

  ~nats_server() {
    kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;

  int port() const noexcept { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  bool running() const noexcept { return proc_ != nullptr; }

  /// Starts (again) on the same port and waits until it answers.
  void start() {
    if (proc_)
      return;
    std::string exe = LIBACTOR_NATS_SERVER;
    if (exe.empty())
      throw std::runtime_error("nats-server was not found at configure time (scripts/setup)");
    // Logs to stderr (merged into the pipe): "Server is ready" is the event
    // to wait for; the rest is drained so that the server never blocks.
    std::vector<std::string> argv{exe, "-a", "127.0.0.1", "-p", std::to_string(port_)};
    if (jetstream_)
      argv.insert(argv.end(), {"-js", "-sd", dir_ + "/js"});
    proc_ = std::make_unique<child_process>(argv, true);
    if (!proc_->read_line_with("Server is ready", std::chrono::seconds{10}))
      throw std::runtime_error("nats_server: not ready on port " + std::to_string(port_));
    proc_->discard_output();
  }

  /// SIGKILL, as a crash: clients see the connection drop at once.
  void kill() { proc_.reset(); }

  /// SIGSTOP, as a server that hangs (or a network that stops carrying
  /// packets): connections stay up, nothing is answered, until `thaw`.
  void freeze() {
    if (proc_)
      ::kill(proc_->pid(), SIGSTOP);
  }
  void thaw() {
    if (proc_)
      ::kill(proc_->pid(), SIGCONT);
  }

private:
  nats_server(bool jetstream, bool deferred) : jetstream_(jetstream), port_(free_port()) {
    auto tmpl = (std::filesystem::temp_directory_path() / "libactor-nats-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr)
      throw std::runtime_error("nats_server: mkdtemp failed");
    dir_ = buf.data();
    if (!deferred)
      start();
  }

  bool jetstream_;
  int port_;
  std::string dir_;
  std::unique_ptr<child_process> proc_;
};

} // namespace libactor::test
