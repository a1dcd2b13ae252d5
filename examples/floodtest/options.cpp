#include "options.hpp"

#include <cmath>
#include <cstdio>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace floodtest {

std::string options::user_of(std::uint32_t index) const {
  return fmt::format("{}{}", id_prefix, users != 0 ? index % users : index);
}

std::optional<duration> parse_duration(std::string_view text) {
  static const std::map<std::string_view, double> units{
      {"", 1e9}, {"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}, {"m", 60e9}, {"h", 3600e9}};
  auto end = text.find_first_not_of("0123456789.");
  auto number = text.substr(0, end);
  auto unit = end == std::string_view::npos ? std::string_view{} : text.substr(end);
  auto scale = units.find(unit);
  if (number.find_first_of("0123456789") == std::string_view::npos || scale == units.end() ||
      number.find('.') != number.rfind('.'))
    return std::nullopt;
  double value = std::stod(std::string{number}) * scale->second;
  if (!std::isfinite(value) || value > 1e18)
    return std::nullopt;
  return duration{static_cast<std::int64_t>(value)};
}

std::string format_duration(duration d) {
  auto ns = d.count();
  if (ns % 1'000'000'000 == 0)
    return fmt::format("{}s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0)
    return fmt::format("{}ms", ns / 1'000'000);
  return fmt::format("{}us", ns / 1000);
}

std::string_view name_of(load_mode m) noexcept {
  switch (m) {
    case load_mode::streams: return "streams";
    case load_mode::hello: return "hello";
    case load_mode::latency: return "latency";
  }
  return "?";
}

std::string_view name_of(send_via v) noexcept {
  return v == send_via::broadcast ? "broadcast" : "send";
}

namespace {

/// A duration flag: parsed by `parse_duration`, its default shown as typed.
void add_duration(CLI::App& app, const std::string& name, duration& target, const std::string& what) {
  app.add_option_function<std::string>(
         name, [&target](const std::string& s) { target = *parse_duration(s); }, what)
      ->check(CLI::Validator(
          [](std::string& s) {
            return parse_duration(s) ? std::string{}
                                     : fmt::format("'{}' is not a duration such as 10s, 500ms or 2m", s);
          },
          "DURATION"))
      ->type_name("DURATION")
      ->default_str(format_duration(target));
}

/// Checks that CLI11 cannot express; an empty string when all is well.
std::string check(const options& o) {
  if (o.connections == 0)
    return "--connections must be at least 1";
  if (o.users > o.connections)
    return fmt::format("--users {} exceeds --connections {}", o.users, o.connections);
  if (o.mode == load_mode::latency && o.messages == 0)
    return "--messages must be at least 1 in latency mode";
  if (o.per_process == 0)
    return "--per-process must be at least 1";
  if (o.concurrency == 0)
    return "--concurrency must be at least 1";
  if (o.timeout.count() <= 0)
    return "--timeout must be positive";
  if (o.connect_timeout.count() <= 0)
    return "--connect-timeout must be positive";
  if (o.id_prefix.find_first_of("/ ?#%\r\n") != std::string::npos)
    return fmt::format("--id-prefix '{}' must not contain '/', '?', '#', '%' or spaces", o.id_prefix);
  return {};
}

} // namespace

parse_result parse_options(int argc, char** argv) {
  options o;
  std::string mode{name_of(o.mode)};
  std::string via{name_of(o.via)};
  CLI::App app{"floodtest: load generator for the comet server (GET /stream/<id>, GET /hello, "
               "POST /broadcast, POST /send/<id>). Progress on stderr every second, one JSON "
               "summary line on stdout at the end.",
               "floodtest"};
  app.option_defaults()->always_capture_default();
  app.get_formatter()->column_width(30);

  app.add_option("--mode", mode, "streams: hold N streams; hello: Connection: close conns/s; "
                                 "latency: time broadcast/send deliveries")
      ->check(CLI::IsMember({"streams", "hello", "latency"}));
  app.add_option("--host", o.host, "server IPv4 address");
  app.add_option("--port", o.port, "server port");
  app.add_option("--targets", o.targets,
                 "several servers, 'ip:port,ip:port,...': connection i goes to server i % count, "
                 "messages to the first (overrides --host and --port)");
  app.add_option("--post-to", o.post_to, "latency: POST the messages to this ip:port instead of the first target");
  std::string expect = "answered";
  app.add_option("--expect", expect, "latency: deliveries expected: 'answered' (the server's counts) or "
                                     "'all-streams' (every open stream: a broadcast to a cluster) or 'user-streams' (every open "
                                     "stream of the user: a send to a cluster)")
      ->check(CLI::IsMember({"answered", "all-streams", "user-streams"}));
  app.add_option("-n,--connections", o.connections, "streams to open (streams, latency)")
      ->check(CLI::Range(1u, 10'000'000u));
  app.add_option("--rate", o.rate, "new streams per second over all workers (0: no limit)")
      ->check(CLI::Range(0.0, 1e7));
  app.add_option("-c,--concurrency", o.concurrency,
                 "connections in flight (hello); stream handshakes in flight (streams, latency)")
      ->check(CLI::Range(1u, 1'000'000u));
  add_duration(app, "--hold", o.hold, "how long streams mode holds the streams once all are open");
  add_duration(app, "--duration", o.run_for, "how long hello mode runs");
  app.add_option("--id-prefix", o.id_prefix, "user id of stream i is <prefix><i>");
  app.add_option("--users", o.users, "put the streams on this many user ids (<prefix><i % users>); 0: one per stream");
  app.add_option("--messages", o.messages, "timestamped messages latency mode sends")
      ->check(CLI::Range(0u, 10'000'000u));
  add_duration(app, "--interval", o.interval, "time between two messages (latency)");
  app.add_option("--via", via, "latency: POST /broadcast, or POST /send/<id> to user (k-1) % users")
      ->check(CLI::IsMember({"broadcast", "send"}));
  add_duration(app, "--drain", o.drain, "latency: how long to wait for deliveries after the last send");
  app.add_option("--workers", o.workers, "worker processes (0: enough for --per-process; hello: 1)")
      ->check(CLI::Range(0u, 256u));
  app.add_option("--per-process", o.per_process, "most connections one worker holds (the per-process file cap is 20,000 here)");
  app.add_option("--source-base", o.source_base, "first client source address; 'none': let the kernel choose");
  app.add_option("--sources", o.sources, "source addresses from --source-base up (0: one per 25,000 streams)")
      ->check(CLI::Range(0u, 65'000u));
  add_duration(app, "--connect-timeout", o.connect_timeout, "a connection not answered within this fails");
  add_duration(app, "--timeout", o.timeout, "hard cap on the whole run; every mode ends by then");
  app.add_option("--histogram", o.histogram_file, "write the latency histogram here (µs, count, cumulative fraction)");
  app.add_option("--ramp", o.ramp_file, "write a per-second CSV of the connection counts here");
  app.add_flag("-q,--quiet", o.quiet, "no progress lines on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0)
      return {std::nullopt, app.exit(e)}; // --help
    std::fprintf(stderr, "floodtest: %s (see --help)\n", e.what());
    return {std::nullopt, 2};
  }
  o.mode = mode == "hello" ? load_mode::hello : mode == "latency" ? load_mode::latency : load_mode::streams;
  o.via = via == "send" ? send_via::send : send_via::broadcast;
  o.expect = expect == "all-streams"    ? options::expectation::all_streams
             : expect == "user-streams" ? options::expectation::user_streams
                                        : options::expectation::answered;
  if (auto why = check(o); !why.empty()) {
    std::fprintf(stderr, "floodtest: %s\n", why.c_str());
    return {std::nullopt, 2};
  }
  return {std::move(o), 0};
}

} // namespace floodtest
