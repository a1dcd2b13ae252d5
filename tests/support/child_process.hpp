/// @file
/// Runs a program as a child process with line-based pipes on its stdin and
/// stdout, for fixtures that must live in a process of their own (a lowered
/// RLIMIT_NOFILE, a server to kill). Reads have deadlines; the destructor
/// kills and reaps the child.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace libactor::test {

class child_process {
public:
  /// With `merge_stderr` the child's stderr goes into the same pipe as its
  /// stdout (a server that logs to stderr, read line by line).
  explicit child_process(std::vector<std::string> argv, bool merge_stderr = false) {
    int in[2];
    int out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0)
      throw std::runtime_error("pipe failed");
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    const auto parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Only async-signal-safe calls until exec: the parent has threads.
      // Killed with the test process, even one a sanitizer aborted (its
      // destructors never run): an orphaned server would hold its port and
      // a core for the rest of the run. Tests fork from their own thread,
      // which lives as long as the child (the signal follows the thread).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        ::_exit(127);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      if (merge_stderr)
        ::dup2(out[1], 2);
      ::close(in[1]);
      ::close(out[0]);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_child_ = in[1];
    from_child_ = out[0];
  }

  ~child_process() {
    ::close(to_child_);
    ::close(from_child_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (drain_.joinable())
      drain_.join(); // the child's end of the pipe is closed: read returns 0
  }

  /// Sends SIGTERM (an orderly stop request).
  void terminate() {
    if (pid_ > 0)
      ::kill(pid_, SIGTERM);
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  void write_line(const std::string& line) {
    auto data = line + "\n";
    if (::write(to_child_, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
      throw std::runtime_error("write to child failed");
  }

  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      pollfd p{from_child_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        return std::nullopt;
      char tmp[4096];
      auto n = ::read(from_child_, tmp, sizeof(tmp));
      if (n <= 0)
        return std::nullopt;
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }

  /// Reads lines until one contains `needle`; that line, or nullopt.
  std::optional<std::string> read_line_with(std::string_view needle,
                                            std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      auto line = read_line(left);
      if (!line || line->find(needle) != std::string::npos)
        return line;
    }
  }

  /// Reads and forgets whatever the child writes from now on, on a thread
  /// of its own, so that a chatty child never blocks on a full pipe.
  void discard_output() {
    int fd = from_child_;
    from_child_ = ::dup(fd);
    drain_ = std::thread{[fd] {
      char tmp[4096];
      while (::read(fd, tmp, sizeof(tmp)) > 0) {
      }
      ::close(fd);
    }};
  }

  /// Sends a command and returns the one-line answer.
  std::optional<std::string> ask(const std::string& command) {
    write_line(command);
    return read_line();
  }

  /// Waits for the child to exit by itself; its exit status or nullopt.
  /// Waits on a pidfd (readable when the child exits), not by polling.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    if (pid_ <= 0)
      return std::nullopt;
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (fd < 0)
      return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    bool exited = ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
    ::close(fd);
    int status = 0;
    if (!exited || ::waitpid(pid_, &status, 0) != pid_)
      return std::nullopt;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  int pid() const noexcept { return pid_; }

private:
  int pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string buf_;
  std::thread drain_;
};

} // namespace libactor::test
