#include "libactor/http/request.hpp"

#include "libactor/http/router.hpp"

#include <algorithm>

namespace libactor::http {

namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

/// Decides persistence once, at construction, so `keep_alive()` is a field
/// read and every field named Connection counts (a client may send several).
bool compute_keep_alive(unsigned version, const header_list& headers) noexcept {
  bool close = false;
  bool keep = false;
  for (const auto& [name, value] : headers) {
    if (!iequals(name, "connection"))
      continue;
    close = close || has_token(value, "close");
    keep = keep || has_token(value, "keep-alive");
  }
  if (close)
    return false;
  return version >= 11 || keep;
}

} // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i]))
      return false;
  return true;
}

bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = trim_ows(list.substr(0, comma));
    if (iequals(item, token))
      return true;
    if (comma == std::string_view::npos)
      break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

request::request() : method_("GET"), target_("/") {}

request::request(std::string method, std::string target, unsigned version, header_list headers,
                 std::string body)
    : method_(std::move(method)),
      target_(std::move(target)),
      version_(version),
      keep_alive_(compute_keep_alive(version, headers)),
      headers_(std::move(headers)),
      body_(std::move(body)) {}

std::string_view request::path() const noexcept {
  std::string_view t = target_;
  t = t.substr(0, t.find_first_of("?#"));
  if (!t.empty() && t.front() != '/') {
    // Absolute form (RFC 9112 3.2.2): a server must accept it; route on the
    // path after the authority. Anything else ("*") is returned as is.
    auto scheme_end = t.find("://");
    if (scheme_end != std::string_view::npos) {
      auto slash = t.find('/', scheme_end + 3);
      t = slash == std::string_view::npos ? std::string_view{} : t.substr(slash);
    }
  }
  return t.empty() ? std::string_view{"/"} : t;
}

std::string_view request::query() const noexcept {
  std::string_view t = target_;
  auto q = t.find('?');
  if (q == std::string_view::npos)
    return {};
  t.remove_prefix(q + 1);
  return t.substr(0, t.find('#'));
}

std::optional<std::string_view> request::header(std::string_view name) const noexcept {
  for (const auto& [n, v] : headers_)
    if (iequals(n, name))
      return std::string_view{v};
  return std::nullopt;
}

std::optional<std::string_view> request::param(std::string_view name) const noexcept {
  for (const auto& [n, v] : params_)
    if (n == name)
      return std::string_view{v};
  return std::nullopt;
}

void request::set_param(std::string name, std::string value) {
  auto it = std::find_if(params_.begin(), params_.end(),
                         [&](const auto& p) { return p.first == name; });
  if (it != params_.end())
    it->second = std::move(value);
  else
    params_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string> request::query_param(std::string_view name) const {
  auto q = query();
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    auto eq = part.find('=');
    if (part.substr(0, eq) != name)
      continue;
    if (eq == std::string_view::npos)
      return std::string{};
    std::string value{part.substr(eq + 1)};
    for (auto& c : value)
      if (c == '+')
        c = ' ';
    return percent_decode(value);
  }
  return std::nullopt;
}

} // namespace libactor::http
