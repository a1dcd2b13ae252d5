#include "coordinator.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <boost/asio/read_until.hpp>
#include <fmt/format.h>

#include "target.hpp"

namespace floodtest {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;

namespace {

/// How long stopped workers get to send their final report before SIGKILL.
constexpr auto stop_grace = 10s;

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

} // namespace

coordinator::coordinator(asio::io_context& io, const options& opts, const plan& layout,
                         std::vector<worker_link> workers,
                         std::chrono::steady_clock::time_point started, ramp_csv& ramp)
    : io_{io},
      opts_{opts},
      layout_{layout},
      workers_{std::move(workers)},
      inboxes_(workers_.size()),
      started_{started},
      signals_{io, SIGINT, SIGTERM},
      tick_timer_{io},
      phase_timer_{io},
      timeout_timer_{io},
      grace_timer_{io},
      ramp_{ramp} {
  for (auto& w : workers_)
    pipes_.push_back(std::make_unique<asio::posix::stream_descriptor>(io, w.report_fd));
  planned_ = opts.mode == load_mode::hello ? 0 : opts.connections;
}

double coordinator::since_start() const {
  return seconds(std::chrono::steady_clock::now() - started_);
}

counters coordinator::total() const {
  counters sum;
  for (auto& w : workers_)
    sum += w.latest;
  return sum;
}

int coordinator::run() {
  signals_.async_wait([this](const error_code& ec, int) {
    if (ec)
      return;
    interrupted_ = true;
    stop();
  });
  timeout_timer_.expires_at(started_ + opts_.timeout);
  timeout_timer_.async_wait([this](const error_code& ec) {
    if (ec)
      return;
    timed_out_ = true;
    stop();
  });
  if (opts_.mode == load_mode::hello) {
    phase_ = phase::running;
    phase_timer_.expires_at(started_ + opts_.run_for);
    phase_timer_.async_wait([this](const error_code& ec) {
      if (!ec)
        stop();
    });
  }
  last_tick_at_ = started_;
  tick_timer_.expires_at(started_ + 1s);
  tick_timer_.async_wait([this](const error_code& ec) {
    if (!ec)
      tick();
  });
  for (std::size_t i = 0; i < workers_.size(); ++i)
    read(i);
  io_.run();
  return finish();
}

// -- the workers' pipes ---------------------------------------------------------

std::uint64_t coordinator::expected_deliveries() const {
  // A comet node answers with the streams it reached itself; in a cluster
  // a broadcast also reaches the other nodes' streams: every open one.
  const std::uint64_t answered = sender_->result().answered;
  switch (opts_.expect) {
    case options::expectation::all_streams:
      return answered * streams_at_send_;
    case options::expectation::user_streams: {
      // Streams are spread evenly over the users (<prefix><i % users>).
      std::uint64_t users = opts_.users == 0 ? streams_at_send_ : opts_.users;
      return users == 0 ? 0 : answered * (streams_at_send_ / users);
    }
    case options::expectation::answered:
      break;
  }
  return sender_->result().reached;
}

void coordinator::read(std::size_t i) {
  asio::async_read_until(*pipes_[i], asio::dynamic_buffer(inboxes_[i]), '\n',
                         [this, i](const error_code& ec, std::size_t n) {
                           if (ec)
                             return on_eof(i);
                           std::string line = inboxes_[i].substr(0, n - 1);
                           inboxes_[i].erase(0, n);
                           on_line(workers_[i], line);
                           read(i);
                         });
}

void coordinator::on_line(worker_link& w, std::string_view line) {
  auto kind = line.substr(0, 2);
  auto body = line.size() > 2 ? line.substr(2) : std::string_view{};
  if (kind == "c ") {
    if (w.latest.parse(body))
      advance();
  } else if (kind == "h ") {
    w.latency.parse(body);
  } else if (kind == "e ") {
    auto space = body.find(' ');
    if (space != std::string_view::npos)
      w.errors[std::string{body.substr(space + 1)}] += std::stoull(std::string{body.substr(0, space)});
  } else if (line == "end") {
    w.ended = true;
  }
}

void coordinator::on_eof(std::size_t i) {
  auto& w = workers_[i];
  w.eof = true;
  if (!w.ended && worker_failure_.empty())
    worker_failure_ = fmt::format("worker {} (pid {}) ended without its final report", i, w.pid);
  stop(); // one worker gone ends the run: its share would be missing
  for (auto& other : workers_)
    if (!other.eof)
      return;
  phase_ = phase::done;
  tick_timer_.cancel();
  phase_timer_.cancel();
  timeout_timer_.cancel();
  grace_timer_.cancel();
  signals_.cancel();
  io_.stop();
}

// -- phases -----------------------------------------------------------------------

void coordinator::advance() {
  auto t = total();
  switch (phase_) {
    case phase::ramp:
      if (t[counter::established] + t[counter::failed] < planned_)
        return;
      ramp_s_ = since_start();
      sample_peak(t);
      if (t[counter::established] == 0)
        return stop(); // nothing to hold or to measure
      if (opts_.mode == load_mode::streams) {
        phase_ = phase::hold;
        hold_started_s_ = ramp_s_;
        chunks_at_hold_ = t[counter::chunks];
        phase_timer_.expires_after(opts_.hold);
        phase_timer_.async_wait([this](const error_code& ec) {
          if (!ec)
            stop();
        });
      } else {
        phase_ = phase::sending;
        streams_at_send_ = t[counter::established] - t[counter::closed];
        sender_.emplace(io_, opts_, layout_.post_to, [this] {
          phase_ = phase::draining;
          phase_timer_.expires_after(opts_.drain);
          phase_timer_.async_wait([this](const error_code& ec) {
            if (!ec)
              stop();
          });
          advance();
        });
        sender_->start();
      }
      return;
    case phase::hold:
      if (t.active() == 0)
        stop(); // the server closed every stream: nothing left to hold
      return;
    case phase::draining:
      if (t[counter::deliveries] >= expected_deliveries())
        stop();
      return;
    default:
      return;
  }
}

void coordinator::tick() {
  auto now = std::chrono::steady_clock::now();
  auto t = total();
  double dt = seconds(now - last_tick_at_);
  auto which = opts_.mode == load_mode::hello ? counter::established : counter::chunks;
  double per_s = dt > 0 ? static_cast<double>(t[which] - last_tick_[which]) / dt : 0;
  if (!opts_.quiet)
    fmt::print(stderr, "{}\n", progress_line(opts_.mode, t, planned_, seconds(now - started_), per_s));
  ramp_.row(seconds(now - started_), t, per_s);
  sample_peak(t);
  last_tick_ = t;
  last_tick_at_ = now;
  tick_timer_.expires_at(tick_timer_.expiry() + 1s);
  tick_timer_.async_wait([this](const error_code& ec) {
    if (!ec)
      tick();
  });
}

void coordinator::sample_peak(const counters& t) {
  if (opts_.mode == load_mode::hello || t.active() == 0 || t.active() < peak_active_)
    return;
  peak_active_ = t.active();
  auto grown = t[counter::rss] > t[counter::rss_start] ? t[counter::rss] - t[counter::rss_start] : 0;
  bytes_per_conn_ = static_cast<double>(grown) / static_cast<double>(peak_active_);
}

void coordinator::stop() {
  if (phase_ == phase::stopping || phase_ == phase::done)
    return;
  phase_ = phase::stopping;
  stopped_s_ = since_start();
  sample_peak(total());
  phase_timer_.cancel();
  if (sender_)
    sender_->cancel();
  for (auto& w : workers_) {
    if (w.control_fd >= 0) {
      ::close(w.control_fd);
      w.control_fd = -1;
    }
  }
  grace_timer_.expires_after(stop_grace);
  grace_timer_.async_wait([this](const error_code& ec) {
    if (ec)
      return;
    for (auto& w : workers_)
      if (!w.eof)
        ::kill(w.pid, SIGKILL);
  });
}

// -- the end ------------------------------------------------------------------------

int coordinator::finish() {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    int status = 0;
    if (::waitpid(workers_[i].pid, &status, 0) == workers_[i].pid &&
        !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && worker_failure_.empty())
      worker_failure_ = WIFSIGNALED(status)
                            ? fmt::format("worker {} killed by signal {}", i, WTERMSIG(status))
                            : fmt::format("worker {} exited with status {}", i, WEXITSTATUS(status));
  }
  summary s;
  s.opts = &opts_;
  s.target = targets_string(layout_);
  s.workers = workers_.size();
  s.sources = layout_.sources.size();
  s.planned = planned_;
  s.elapsed_s = since_start();
  s.timed_out = timed_out_;
  s.interrupted = interrupted_;
  s.worker_failure = worker_failure_;
  for (auto& w : workers_) {
    s.total += w.latest;
    s.latency.merge(w.latency);
    for (auto& [why, n] : w.errors)
      s.errors[why] += n;
  }
  s.peak_active = std::max(peak_active_, s.total.active());
  s.bytes_per_conn = bytes_per_conn_;
  s.ramp_s = ramp_s_;
  if (opts_.mode == load_mode::streams && hold_started_s_ > 0) {
    s.hold_s = stopped_s_ - hold_started_s_;
    if (s.hold_s > 0)
      s.chunks_per_s = static_cast<double>(s.total[counter::chunks] - chunks_at_hold_) / s.hold_s;
  }
  if (sender_) {
    s.sent = sender_->result().sent;
    s.answered = sender_->result().answered;
    s.expected = expected_deliveries();
    s.send_errors = sender_->result().errors;
  }
  s.run_s = stopped_s_;
  if (!opts_.quiet) {
    // The last line gives the whole run's average rate.
    auto which = opts_.mode == load_mode::hello ? counter::established : counter::chunks;
    double per_s = s.run_s > 0 ? static_cast<double>(s.total[which]) / s.run_s : 0;
    fmt::print(stderr, "{} (run average)\n", progress_line(opts_.mode, s.total, planned_, s.elapsed_s, per_s));
  }
  if (!opts_.histogram_file.empty()) {
    if (auto why = write_histogram(opts_.histogram_file, s.latency); !why.empty())
      fmt::print(stderr, "floodtest: {}\n", why);
  }
  fmt::print("{}\n", summary_json(s));
  std::fflush(stdout);
  return s.clean() ? 0 : 1;
}

} // namespace floodtest
