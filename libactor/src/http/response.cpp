#include "libactor/http/response.hpp"

#include <charconv>
#include <ctime>
#include <ostream> // boost/beast/http/status.hpp uses std::ostream without including it

#include <boost/beast/http/status.hpp>

namespace libactor::http {

namespace bhttp = boost::beast::http;

namespace {

/// The Date value, formatted at most once a second per thread: a
/// strftime per response would be measurable at comet rates.
std::string_view http_date() {
  struct cache {
    std::time_t second = -1;
    char text[40] = {};
    std::size_t size = 0;
  };
  thread_local cache c;
  const std::time_t now = std::time(nullptr);
  if (now != c.second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    c.size = std::strftime(c.text, sizeof c.text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    c.second = now;
  }
  return {c.text, c.size};
}

bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) noexcept {
  if (s.empty())
    return false;
  for (char c : s)
    if (!is_tchar(c))
      return false;
  return true;
}

void append_number(std::string& out, unsigned long long v, int base = 10) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v, base);
  out.append(buf, r.ptr);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ");
  for (char c : value)
    if (c != '\r' && c != '\n' && c != '\0')
      out.push_back(c);
  out.append("\r\n");
}

unsigned valid_status(unsigned status) noexcept {
  return (status >= 100 && status <= 999) ? status : 500;
}

void append_status_line(std::string& out, unsigned status) {
  out.append("HTTP/1.1 ");
  append_number(out, status);
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\n");
}

bool has_field(const response& res, std::string_view name) {
  for (const auto& [n, v] : res.headers)
    if (iequals(n, name))
      return true;
  return false;
}

void append_connection(std::string& out, const request_info& info) {
  if (!info.keep_alive)
    out.append("Connection: close\r\n");
  else if (info.version < 11)
    out.append("Connection: keep-alive\r\n");
}

} // namespace

response& response::set_header(std::string name, std::string value) {
  for (auto& [n, v] : headers) {
    if (iequals(n, name)) {
      v = std::move(value);
      return *this;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

response text(unsigned status, std::string body, std::string content_type) {
  response res;
  res.status = status;
  res.headers.emplace_back("Content-Type", std::move(content_type));
  res.body = std::move(body);
  return res;
}

request_info info_of(const request& req) noexcept {
  return request_info{req.version(), req.method() == "HEAD", req.keep_alive()};
}

std::string_view reason_phrase(unsigned status) noexcept {
  const auto s = bhttp::int_to_status(status);
  if (s == bhttp::status::unknown)
    return "Unknown";
  const auto r = bhttp::obsolete_reason(s);
  return {r.data(), r.size()};
}

std::string serialize(const response& res, const request_info& info) {
  const unsigned status = valid_status(res.status);
  // RFC 9110 6.4.1: 1xx, 204 and 304 never carry content; 304 and HEAD keep
  // quiet about a length they would not send correctly.
  const bool no_content = status < 200 || status == 204 || status == 304;
  const bool send_body = !no_content && !info.head;

  std::string out;
  out.reserve(160 + (send_body ? res.body.size() : 0));
  append_status_line(out, status);
  if (!has_field(res, "server"))
    out.append("Server: libactor\r\n");
  if (!has_field(res, "date"))
    append_field(out, "Date", http_date());
  for (const auto& [name, value] : res.headers) {
    if (!is_token(name) || iequals(name, "content-length") ||
        iequals(name, "transfer-encoding") || iequals(name, "connection"))
      continue;
    append_field(out, name, value);
  }
  append_connection(out, info);
  if (!no_content) {
    out.append("Content-Length: ");
    append_number(out, res.body.size());
    out.append("\r\n");
  }
  out.append("\r\n");
  if (send_body)
    out.append(res.body);
  return out;
}

response error(unsigned status, std::string_view reason, std::string_view allow) {
  status = valid_status(status);
  std::string body;
  append_number(body, status);
  body.push_back(' ');
  body.append(reason_phrase(status));
  if (!reason.empty())
    body.append(": ").append(reason);
  body.push_back('\n');
  response res = text(status, std::move(body));
  if (!allow.empty())
    res.headers.emplace_back("Allow", std::string(allow));
  return res;
}

std::string error_response(unsigned status, std::string_view reason, std::string_view allow) {
  return serialize(error(status, reason, allow), request_info{11, false, false});
}

std::string chunked_head(unsigned status, std::string_view content_type,
                         const request_info& info, std::string_view extra_fields) {
  std::string out;
  out.reserve(200);
  append_status_line(out, valid_status(status));
  out.append("Server: libactor\r\n");
  append_field(out, "Date", http_date());
  append_field(out, "Content-Type", content_type);
  out.append("Cache-Control: no-cache\r\n");
  out.append(extra_fields);
  if (uses_chunked(info)) {
    out.append("Transfer-Encoding: chunked\r\n");
    append_connection(out, info);
  } else {
    // HTTP/1.0 has no chunked framing: the end of the stream is the close.
    out.append("Connection: close\r\n");
  }
  out.append("\r\n");
  return out;
}

std::string chunk(std::string_view data) {
  std::string out;
  if (data.empty())
    return out;
  out.reserve(data.size() + 20);
  append_number(out, data.size(), 16);
  out.append("\r\n").append(data).append("\r\n");
  return out;
}

std::string last_chunk() {
  return "0\r\n\r\n";
}

} // namespace libactor::http
