#include "worker.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "clock.hpp"
#include "target.hpp"

namespace floodtest {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;

namespace {

constexpr auto pace_period = 10ms;
constexpr auto report_period = 250ms;
constexpr auto sweep_period = 1s;
/// How long a worker outlives `--timeout` if its parent never tells it to stop.
constexpr auto backstop_grace = 30s;

std::uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr)
    return 0;
  unsigned long size = 0;
  unsigned long resident = 0;
  int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

} // namespace

worker::worker(asio::io_context& io, worker_setup setup)
    : io_{io},
      opts_{setup.opts},
      share_{setup.layout.workers[setup.index]},
      sources_{setup.layout.sources},
      targets_{setup.layout.targets},
      report_fd_{setup.report_fd},
      control_{io, setup.control_fd},
      pace_timer_{io},
      report_timer_{io},
      sweep_timer_{io},
      backstop_{io} {
  for (auto& t : targets_)
    hosts_.push_back(to_string(t));
}

const asio::ip::address_v4* worker::source_for(std::uint32_t index) const noexcept {
  return sources_.empty() ? nullptr : &sources_[index % sources_.size()];
}

int worker::run() {
  began_ = std::chrono::steady_clock::now();
  stats_[counter::rss_start] = stats_[counter::rss] = resident_bytes();
  if (opts_.mode == load_mode::hello) {
    for (std::uint32_t i = 0; i < share_.in_flight; ++i)
      connections_.push_back(std::make_unique<connection>(*this));
    for (auto& c : connections_)
      c->start(next_seq_++);
  } else {
    connections_.reserve(share_.count);
    pace();
  }
  report();
  sweep();
  watch_control();
  backstop_.expires_after(opts_.timeout + backstop_grace);
  backstop_.async_wait([this](const error_code& ec) {
    if (!ec)
      stop();
  });
  io_.run();
  return 0;
}

// -- pacing: streams at --rate, at most `in_flight` handshakes at a time ----

void worker::pace() {
  if (stopping_)
    return;
  std::uint32_t due = share_.count;
  if (share_.rate > 0) {
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - began_;
    auto by_now = static_cast<std::uint64_t>(share_.rate * elapsed.count()) + 1;
    due = static_cast<std::uint32_t>(std::min<std::uint64_t>(due, by_now));
  }
  while (started_ < due && pending_ < share_.in_flight) {
    connections_.push_back(std::make_unique<connection>(*this));
    ++started_;
    ++pending_;
    connections_.back()->start(share_.first + started_ - 1);
  }
  if (started_ < share_.count) {
    pace_timer_.expires_after(pace_period);
    pace_timer_.async_wait([this](const error_code& ec) {
      if (!ec)
        pace();
    });
  }
}

void worker::schedule_pace() {
  if (pace_posted_ || started_ >= share_.count)
    return;
  pace_posted_ = true;
  asio::post(io_, [this] {
    pace_posted_ = false;
    pace();
  });
}

void worker::restart(connection& c) {
  if (stopping_)
    return;
  asio::post(io_, [this, &c] {
    if (!stopping_ && !c.is_open())
      c.start(next_seq_++);
  });
}

// -- what connections report ------------------------------------------------

void worker::on_established(connection&) {
  stats_[counter::established] += 1;
  --pending_;
  schedule_pace();
}

void worker::on_failed(connection& c, std::string_view why) {
  stats_[counter::failed] += 1;
  auto it = errors_.find(why);
  if (it == errors_.end())
    it = errors_.emplace(std::string{why}, 0).first;
  ++it->second;
  if (opts_.mode == load_mode::hello) {
    restart(c);
  } else {
    --pending_;
    schedule_pace();
  }
}

void worker::on_closed(connection&, std::string_view why) {
  stats_[counter::closed] += 1;
  ++errors_[fmt::format("stream closed: {}", why)];
}

void worker::on_completed(connection& c) {
  stats_[counter::established] += 1;
  restart(c);
}

// -- timers and the pipes -----------------------------------------------------

void worker::sweep() {
  auto now = now_ns();
  auto limit = opts_.connect_timeout.count();
  for (auto& c : connections_)
    c->expire(now, limit);
  sweep_timer_.expires_after(sweep_period);
  sweep_timer_.async_wait([this](const error_code& ec) {
    if (!ec)
      sweep();
  });
}

void worker::report() {
  stats_[counter::rss] = resident_bytes();
  write_line(fmt::format("c {}", stats_.serialize()));
  if (stopping_)
    return;
  report_timer_.expires_after(report_period);
  report_timer_.async_wait([this](const error_code& ec) {
    if (!ec)
      report();
  });
}

void worker::watch_control() {
  // The parent never writes: end of file (or its death) is the stop signal.
  control_.async_read_some(asio::buffer(&control_byte_, 1), [this](const error_code& ec, std::size_t) {
    if (ec)
      stop();
    else
      watch_control();
  });
}

void worker::write_line(std::string_view line) {
  std::string data{line};
  data += '\n';
  std::size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(report_fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      stop(); // the parent is gone: nobody to report to
      return;
    }
    done += static_cast<std::size_t>(n);
  }
}

void worker::stop() {
  if (stopping_)
    return;
  stopping_ = true;
  pace_timer_.cancel();
  report_timer_.cancel();
  sweep_timer_.cancel();
  backstop_.cancel();
  for (auto& c : connections_)
    c->close();
  for (auto& [why, n] : errors_)
    write_line(fmt::format("e {} {}", n, why));
  write_line(fmt::format("h {}", latency_.serialize()));
  report();
  write_line("end");
  io_.stop();
}

int run_worker(const worker_setup& setup) {
  // Ctrl-C reaches the whole process group; the parent decides what it means.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_DFL);
  asio::io_context io{1};
  worker w{io, setup};
  return w.run();
}

} // namespace floodtest
