#include "libactor/http/sse.hpp"

#include <charconv>

namespace libactor::http {

namespace {

/// Calls `f` for each line of `text`, splitting at CRLF, CR or LF; a text
/// ending in a line break has an empty last line, as the event stream
/// parser would see it.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r' && text[i] != '\n')
      continue;
    f(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
      ++i;
    start = i + 1;
  }
  f(text.substr(start));
}

void append_number(std::string& out, unsigned long long v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

} // namespace

std::string format(const sse_event& ev) {
  std::string out;
  out.reserve(ev.data.size() + ev.event.size() + 48);
  if (ev.id) {
    out.append("id: ");
    for (char c : *ev.id)
      if (c != '\r' && c != '\n' && c != '\0')
        out.push_back(c);
    out.push_back('\n');
  }
  if (!ev.event.empty()) {
    out.append("event: ");
    for (char c : ev.event)
      if (c != '\r' && c != '\n')
        out.push_back(c);
    out.push_back('\n');
  }
  if (ev.retry_ms) {
    out.append("retry: ");
    append_number(out, *ev.retry_ms);
    out.push_back('\n');
  }
  for_each_line(ev.data, [&](std::string_view line) {
    out.append("data: ").append(line).push_back('\n');
  });
  out.push_back('\n');
  return out;
}

std::string sse_comment(std::string_view text) {
  std::string out;
  for_each_line(text, [&](std::string_view line) {
    out.append(": ").append(line).push_back('\n');
  });
  out.push_back('\n');
  return out;
}

} // namespace libactor::http
