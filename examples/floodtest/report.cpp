#include "report.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace floodtest {

std::string progress_line(load_mode mode, const counters& t, std::uint64_t planned, double elapsed_s,
                          double per_second) {
  if (mode == load_mode::hello)
    return fmt::format("[{:7.1f}s] completed {} failed {} conns/s {:.0f}", elapsed_s, t[counter::established],
                       t[counter::failed], per_second);
  return fmt::format("[{:7.1f}s] established {}/{} active {} closed {} failed {} chunks/s {:.0f} messages {}",
                     elapsed_s, t[counter::established], planned, t.active(), t[counter::closed],
                     t[counter::failed], per_second, t[counter::messages]);
}

ramp_csv::~ramp_csv() {
  if (file_ != nullptr)
    std::fclose(file_);
}

std::string ramp_csv::open(const std::string& path) {
  file_ = std::fopen(path.c_str(), "w");
  if (file_ == nullptr)
    return fmt::format("cannot write --ramp {}: {}", path, std::strerror(errno));
  fmt::print(file_, "elapsed_s,attempted,established,active,closed,failed,per_s,messages\n");
  return {};
}

void ramp_csv::row(double elapsed_s, const counters& t, double per_second) {
  if (file_ == nullptr)
    return;
  fmt::print(file_, "{:.1f},{},{},{},{},{},{:.0f},{}\n", elapsed_s, t[counter::attempted], t[counter::established],
             t.active(), t[counter::closed], t[counter::failed], per_second, t[counter::messages]);
  std::fflush(file_);
}

std::string write_histogram(const std::string& path, const latency_histogram& h) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr)
    return fmt::format("cannot write --histogram {}: {}", path, std::strerror(errno));
  fmt::print(f, "# upper_us count cumulative_fraction ({} samples)\n", h.count());
  std::uint64_t seen = 0;
  h.for_each_bucket([&](std::uint64_t upper_ns, std::uint64_t n) {
    seen += n;
    fmt::print(f, "{:.3f} {} {:.6f}\n", static_cast<double>(std::min(upper_ns, h.max())) / 1000.0, n,
               static_cast<double>(seen) / static_cast<double>(h.count()));
  });
  std::fclose(f);
  return {};
}

bool summary::clean() const {
  if (timed_out || interrupted || !worker_failure.empty() || total[counter::failed] != 0)
    return false;
  if (opts->mode == load_mode::hello)
    return total[counter::established] != 0;
  if (total[counter::established] != planned || total[counter::closed] != 0)
    return false;
  if (opts->mode == load_mode::latency)
    return answered == opts->messages && total[counter::deliveries] == expected &&
           total[counter::out_of_order] == 0;
  return true;
}

namespace {

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20)
          out += fmt::format("\\u{:04x}", ch);
        else
          out += ch;
    }
  }
  return out + "\"";
}

std::string object(const std::map<std::string, std::uint64_t>& m) {
  std::string out = "{";
  for (auto& [k, v] : m)
    out += fmt::format("{}{}:{}", out.size() > 1 ? "," : "", quoted(k), v);
  return out + "}";
}

double us(std::uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

std::string percentiles(const latency_histogram& h) {
  return fmt::format("\"samples\":{},\"p50_us\":{:.1f},\"p90_us\":{:.1f},\"p99_us\":{:.1f},\"max_us\":{:.1f}",
                     h.count(), us(h.percentile(50)), us(h.percentile(90)), us(h.percentile(99)), us(h.max()));
}

} // namespace

std::string summary_json(const summary& s) {
  const auto& o = *s.opts;
  auto& t = s.total;
  std::string out = fmt::format(
      "{{\"mode\":\"{}\",\"target\":{},\"workers\":{},\"sources\":{},\"planned\":{},\"elapsed_s\":{:.2f},"
      "\"clean\":{},\"timed_out\":{},\"interrupted\":{}",
      name_of(o.mode), quoted(s.target), s.workers, s.sources, s.planned, s.elapsed_s, s.clean(), s.timed_out,
      s.interrupted);
  if (!s.worker_failure.empty())
    out += fmt::format(",\"worker_failure\":{}", quoted(s.worker_failure));
  for (std::size_t i = 0; i < counter_count; ++i)
    out += fmt::format(",\"{}\":{}", name_of(static_cast<counter>(i)), t.v[i]);
  if (o.mode != load_mode::hello)
    out += fmt::format(",\"active\":{},\"peak_active\":{}", t.active(), s.peak_active);
  if (s.bytes_per_conn)
    out += fmt::format(",\"client_bytes_per_conn\":{:.0f}", *s.bytes_per_conn);
  out += fmt::format(",\"errors\":{}", object(s.errors));
  switch (o.mode) {
    case load_mode::streams:
      out += fmt::format(",\"streams\":{{\"rate\":{},\"ramp_s\":{:.2f},\"hold_s\":{:.2f},\"chunks_per_s\":{:.1f}}}",
                         o.rate, s.ramp_s, s.hold_s, s.chunks_per_s);
      break;
    case load_mode::latency: {
      auto received = t[counter::deliveries];
      out += fmt::format(
          ",\"latency\":{{\"via\":\"{}\",\"messages\":{},\"sent\":{},\"answered\":{},\"send_errors\":{},"
          "\"expected\":{},\"received\":{},\"lost\":{},\"extra\":{},\"out_of_order\":{},{}}}",
          name_of(o.via), o.messages, s.sent, s.answered, object(s.send_errors), s.expected, received,
          s.expected > received ? s.expected - received : 0, received > s.expected ? received - s.expected : 0,
          t[counter::out_of_order], percentiles(s.latency));
      break;
    }
    case load_mode::hello:
      out += fmt::format(",\"hello\":{{\"concurrency\":{},\"duration_s\":{:.2f},\"conns_per_s\":{:.1f},"
                         "\"errors\":{},{}}}",
                         o.concurrency, s.run_s, s.run_s > 0 ? static_cast<double>(t[counter::established]) / s.run_s : 0.0,
                         t[counter::failed], percentiles(s.latency));
      break;
  }
  return out + "}";
}

} // namespace floodtest
