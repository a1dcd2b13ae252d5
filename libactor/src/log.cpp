#include "libactor/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include <fmt/chrono.h>

namespace libactor::log {

namespace {

std::atomic<int> threshold{static_cast<int>(level::info)};

std::mutex sink_mtx;
sink current_sink;

bool needs_quotes(std::string_view x) {
  if (x.empty())
    return true;
  for (char c : x)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      return true;
  return false;
}

void append_value(std::string& out, std::string_view x) {
  if (!needs_quotes(x)) {
    out += x;
    return;
  }
  out += '"';
  for (char c : x) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  out += '"';
}

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fmt::gmtime(system_clock::to_time_t(now)),
                     ms);
}

} // namespace

std::string_view to_string(level x) noexcept {
  switch (x) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warning:
      return "warning";
    case level::error:
      return "error";
    case level::none:
      break;
  }
  return "none";
}

std::optional<level> parse_level(std::string_view name) noexcept {
  for (auto x : {level::debug, level::info, level::warning, level::error, level::none})
    if (to_string(x) == name)
      return x;
  return std::nullopt;
}

void set_level(level x) noexcept {
  threshold.store(static_cast<int>(x), std::memory_order_relaxed);
}

level current_level() noexcept {
  return static_cast<level>(threshold.load(std::memory_order_relaxed));
}

void set_sink(sink fn) {
  std::lock_guard<std::mutex> guard{sink_mtx};
  current_sink = std::move(fn);
}

void reset_sink() {
  set_sink(nullptr);
}

void write(level lvl, std::string_view event, std::initializer_list<field> fields) {
  std::string line;
  line.reserve(128);
  line += "ts=";
  line += timestamp();
  line += " level=";
  line += to_string(lvl);
  line += " event=";
  append_value(line, event);
  for (auto& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    append_value(line, f.value);
  }
  // One lock per line keeps lines whole when several threads log at once.
  std::lock_guard<std::mutex> guard{sink_mtx};
  if (current_sink) {
    current_sink(lvl, line);
  } else {
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

} // namespace libactor::log
