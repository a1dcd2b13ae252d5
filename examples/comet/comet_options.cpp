#include "comet_options.hpp"

#include <charconv>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace comet {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end == text.data())
    return std::nullopt;
  std::string_view unit{end, static_cast<std::size_t>(text.data() + text.size() - end)};
  constexpr std::uint64_t max_ms = 365ull * 24 * 3600 * 1000; // a year: anything more is a typo
  std::uint64_t ms = 0;
  if (unit == "ms")
    ms = n;
  else if (unit == "s")
    ms = n * 1000;
  else if (unit == "m")
    ms = n * 60'000;
  else if (unit.empty() && n == 0)
    ms = 0;
  else
    return std::nullopt;
  if (n > max_ms || ms > max_ms)
    return std::nullopt;
  return std::chrono::milliseconds{ms};
}

namespace {

/// A CLI11 option that reads a duration into `out`.
void add_duration(CLI::App& app, const std::string& name, std::chrono::milliseconds& out,
                  const std::string& what) {
  app.add_option_function<std::string>(
       name,
       [&out, name](const std::string& text) {
         auto d = parse_duration(text);
         if (!d)
           throw CLI::ValidationError(name, "'" + text + "' is not a duration such as 10s, 250ms or 2m");
         out = *d;
       },
       what)
    ->default_str(out.count() % 1000 == 0 ? fmt::format("{}s", out.count() / 1000)
                                          : fmt::format("{}ms", out.count()));
}

/// A CLI11 option that reads a size (`65536`, `64KiB`, `1MiB`) into `out`.
void add_size(CLI::App& app, const std::string& name, std::size_t& out, const std::string& what) {
  app.add_option_function<std::string>(
       name,
       [&out, name](const std::string& text) {
         auto n = parse_size(text);
         if (!n)
           throw CLI::ValidationError(name, "'" + text + "' is not a size such as 65536, 64KiB or 1MiB");
         out = *n;
       },
       what)
    ->default_str(out % (1 << 20) == 0 ? fmt::format("{}MiB", out >> 20)
                  : out % 1024 == 0    ? fmt::format("{}KiB", out >> 10)
                                       : fmt::format("{}", out));
}

} // namespace

std::optional<std::size_t> parse_size(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end == text.data())
    return std::nullopt;
  std::string_view unit{end, static_cast<std::size_t>(text.data() + text.size() - end)};
  std::uint64_t scale = 0;
  if (unit.empty())
    scale = 1;
  else if (unit == "KiB")
    scale = 1024;
  else if (unit == "MiB")
    scale = 1024 * 1024;
  else if (unit == "GiB")
    scale = 1024 * 1024 * 1024;
  else
    return std::nullopt;
  constexpr std::uint64_t max_bytes = std::uint64_t{1} << 40; // a TiB: anything more is a typo
  if (n > max_bytes / scale)
    return std::nullopt;
  return static_cast<std::size_t>(n * scale);
}

parse_outcome parse_command_line(int argc, char** argv) {
  options o;
  CLI::App app{"comet: the million-user comet server on libactor.\n"
               "GET /hello, /stream/<id>, /events/<id>, /metrics, /; POST /send/<id>, /broadcast"};
  app.option_defaults()->always_capture_default();
  app.add_option("--address", o.address, "address to listen on");
  app.add_option("--port", o.port, "port to listen on; 0 picks a free one (see the first log line)");
  app.add_option("--threads", o.threads, "I/O threads; 0 means one per core")
    ->check(CLI::Range(std::size_t{0}, std::size_t{256}));
  app.add_option("--shards", o.shards, "session supervisor shards; 0 means threads x 4")
    ->check(CLI::Range(std::size_t{0}, std::size_t{4096}));
  app.add_option("--intensity", o.intensity, "failed session starts a shard allows per --period before it escalates (session crashes are charged to their connection, 3 a minute)")
    ->check(CLI::Range(0, 1'000'000));
  add_duration(app, "--period", o.period, "the window of --intensity");
  app.add_option("--max-connections", o.max_connections, "open connections at most (soft)")
    ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  add_duration(app, "--heartbeat", o.heartbeat, "interval of the 'tick <n>' chunk; 0 disables it");
  app.add_option("--replay", o.replay, "messages kept per user id (delivered, or waiting for a stream that is away or restarting) for Last-Event-ID replay; beyond it a reconnect gets a window_exceeded reset")
    ->check(CLI::Range(std::size_t{0}, std::size_t{100'000}));
  add_duration(app, "--keep", o.keep, "how long a user's history outlives its last stream (a reconnect after that gets a history_reset)");
  add_size(app, "--max-stream-output", o.max_stream_output,
           "bytes a stream may hold unwritten before --slow-consumer applies");
  add_size(app, "--max-body", o.max_body, "largest publish body (413 beyond); at most --max-stream-output");
  app.add_option("--slow-consumer", o.slow_consumer,
                 "close: a stream that cannot take more is closed and its client resumes; drop: messages are dropped and the client gets a reset")
    ->check(CLI::IsMember({"close", "drop"}));
  std::string level{libactor::log::to_string(o.log_level)};
  app.add_option("--log-level", level, "debug, info, warning, error or none")
    ->check(CLI::IsMember({"debug", "info", "warning", "error", "none"}));
  app.add_flag("--allow-crash", o.allow_crash, "add POST /crash/<id> (that user's streams throw) and POST /crash (a poison broadcast: every stream throws); tests and demos only");
  app.add_option("--nats", o.nats, "NATS server URL of the cluster (repeat for several); none: one node");
  app.add_option("--node-name", o.node_name, "this node's name in logs and NATS (default <hostname>:<pid>)");
  app.add_option("--nats-prefix", o.nats_prefix, "first subject token(s), shared by the cluster's nodes");
  add_duration(app, "--run-for", o.run_for, "stop by itself after this long; 0 runs until a signal");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return {std::nullopt, 0};
  } catch (const CLI::ParseError& e) {
    // One clear line, as nginx or a GNU tool would print it.
    std::fputs(fmt::format("comet: {} (see comet --help)\n", e.what()).c_str(), stderr);
    return {std::nullopt, 2};
  }
  o.log_level = *libactor::log::parse_level(level);
#ifndef LIBACTOR_WITH_NATS
  if (!o.nats.empty()) {
    std::fputs("comet: --nats: this libactor was built without NATS (LIBACTOR_WITH_NATS=OFF)\n", stderr);
    return {std::nullopt, 2};
  }
#endif
  if (o.period.count() == 0) {
    std::fputs("comet: --period must be longer than 0 (see comet --help)\n", stderr);
    return {std::nullopt, 2};
  }
  if (o.max_body > o.max_stream_output) {
    std::fputs(fmt::format("comet: --max-body ({}) may not exceed --max-stream-output ({}): such a message "
                           "could never reach a stream (see comet --help)\n",
                           o.max_body, o.max_stream_output)
                 .c_str(),
               stderr);
    return {std::nullopt, 2};
  }
  if (o.max_body == 0 || o.max_stream_output == 0) {
    std::fputs("comet: --max-body and --max-stream-output must be above 0 (see comet --help)\n", stderr);
    return {std::nullopt, 2};
  }
  if (o.keep.count() == 0) {
    std::fputs("comet: --keep must be longer than 0 (see comet --help)\n", stderr);
    return {std::nullopt, 2};
  }
  return {std::move(o), 0};
}

} // namespace comet
