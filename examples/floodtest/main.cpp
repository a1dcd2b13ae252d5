// floodtest: the load tool for the comet server (mochiweb's floodtest and
// MegaComet's megatest, with exact counts). It parses its flags, plans how
// many worker processes and source addresses the run needs, checks that
// the server answers, forks the workers before any thread or io_context
// exists, and then coordinates them from the parent. docs/floodtest.md
// explains the modes and the output.
//
//   floodtest --mode streams -n 15000 --rate 2000 --hold 30s --port 8080
//   floodtest --mode latency -n 2000 --messages 10 --via broadcast
//   floodtest --mode hello --duration 10s --concurrency 50
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "coordinator.hpp"
#include "options.hpp"
#include "plan.hpp"
#include "report.hpp"
#include "target.hpp"
#include "worker.hpp"

using namespace floodtest;

namespace {

void say(const std::string& line) {
  fmt::print(stderr, "floodtest: {}\n", line);
}

/// The child's side of the fork: only its own pipe ends stay open, so that
/// a sibling's control pipe reaches end of file when the parent closes it.
[[noreturn]] void become_worker(const options& opts, const plan& layout, std::uint32_t index,
                                int report_fd, int control_fd,
                                const std::vector<worker_link>& siblings, const sigset_t& blocked) {
  for (auto& s : siblings) {
    ::close(s.report_fd);
    ::close(s.control_fd);
  }
  ::sigprocmask(SIG_UNBLOCK, &blocked, nullptr);
  int status = 1;
  try {
    status = run_worker(worker_setup{opts, layout, index, report_fd, control_fd});
  } catch (const std::exception& e) {
    say(fmt::format("worker {}: {}", index, e.what()));
  }
  // _exit: the parent's stdio buffers and atexit handlers are not the child's.
  ::_exit(status);
}

} // namespace

int main(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (!parsed.opts)
    return parsed.exit_code;
  const options& opts = *parsed.opts;

  auto made = make_plan(opts, raise_open_file_limit());
  if (auto* why = std::get_if<std::string>(&made)) {
    say(*why);
    return 2;
  }
  const plan& layout = std::get<plan>(made);
  ramp_csv ramp;
  if (!opts.ramp_file.empty()) {
    if (auto why = ramp.open(opts.ramp_file); !why.empty()) {
      say(why);
      return 2;
    }
  }
  for (auto& target : layout.targets) {
    if (auto why = probe(target, opts.connect_timeout); !why.empty()) {
      say(why);
      return 1;
    }
  }
  if (!opts.quiet) {
    auto what = opts.mode == load_mode::hello
                    ? fmt::format("concurrency {} for {}", opts.concurrency, format_duration(opts.run_for))
                    : fmt::format("{} streams at {}/s", opts.connections, opts.rate);
    auto from = layout.sources.empty()
                    ? std::string{"kernel-chosen source addresses"}
                    : fmt::format("{} source address(es) from {}", layout.sources.size(), opts.source_base);
    say(fmt::format("{} mode, {} to {}, {} worker(s), {}, open-file limit {}", name_of(opts.mode), what,
                    targets_string(layout), layout.workers.size(), from, layout.file_limit));
  }

  // Signals wait until each process has its handler: the parent's
  // signal_set, a worker's SIG_IGN for Ctrl-C.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &blocked, nullptr);
  std::fflush(nullptr);

  auto started = std::chrono::steady_clock::now();
  std::vector<worker_link> links;
  for (std::uint32_t i = 0; i < layout.workers.size(); ++i) {
    int report[2];
    int control[2];
    if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(control, O_CLOEXEC) != 0) {
      say(fmt::format("pipe: {}", std::strerror(errno)));
      return 1; // workers already forked see their control pipe close
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      say(fmt::format("fork: {}", std::strerror(errno)));
      return 1;
    }
    if (pid == 0) {
      ::close(report[0]);
      ::close(control[1]);
      become_worker(opts, layout, i, report[1], control[0], links, blocked);
    }
    ::close(report[1]);
    ::close(control[0]);
    worker_link link;
    link.pid = pid;
    link.report_fd = report[0];
    link.control_fd = control[1];
    links.push_back(std::move(link));
  }

  boost::asio::io_context io{1};
  coordinator parent{io, opts, layout, std::move(links), started, ramp};
  ::sigprocmask(SIG_UNBLOCK, &blocked, nullptr); // its signal_set is in place
  int status = parent.run();
  return status;
}
