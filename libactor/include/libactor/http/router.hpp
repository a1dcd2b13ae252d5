/// @file
/// Maps a request's method and path to a handler, as Cowboy's router does for
/// a listener: patterns such as `/hello` and `/stream/:id`, route parameters
/// percent-decoded, and the 404 / 405 (with `Allow`) / 400 answers when
/// nothing fits. A session holds a reference to one shared, immutable router;
/// header-only and generic in the handler type, so it needs no socket.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <optional>
#include <vector>

#include "libactor/http/request.hpp"

namespace libactor::http {

/// Decodes `%XX` escapes. nullopt when a '%' is not followed by two hex
/// digits: such a path is malformed (400), not merely unknown. '+' stays '+'
/// (it means space only in form bodies, not in paths).
inline std::optional<std::string> percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size())
      return std::nullopt;
    const int hi = hex(s[i + 1]);
    const int lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

/// A routing table from (method, path pattern) to `Handler`.
///
/// Patterns start with '/' and are split at '/'; a segment `:name` matches
/// any one non-empty path segment and binds it as parameter `name`, any other
/// segment matches itself exactly. The number of segments must match too, so
/// `/hello` does not match `/hello/` or `/hello/x`. Routes are tried in the
/// order they were added; the first fitting one wins. A GET route also
/// answers HEAD, unless a HEAD route for the same path comes first.
template <class Handler>
class router {
public:
  /// The outcome of `match`.
  struct match_result {
    /// 200 when a route fits; 404 no route for the path; 405 routes for the
    /// path but not for the method; 400 a parameter with a bad % escape.
    unsigned status = 404;
    /// The handler when `status == 200`, else nullptr; owned by the router.
    const Handler* handler = nullptr;
    /// The route parameters, percent-decoded, in pattern order.
    std::vector<std::pair<std::string, std::string>> params;
    /// For 405: the methods the path accepts, e.g. "GET, HEAD, POST".
    std::string allow;

    bool found() const noexcept { return status == 200; }

    /// Copies the parameters into `req`, where handlers read them.
    void apply(request& req) const {
      for (const auto& [name, value] : params)
        req.set_param(name, value);
    }
  };

  /// Adds a route. Throws `std::invalid_argument` for a pattern that does not
  /// start with '/' or has a parameter without a name: routes are set up at
  /// start, where failing loudly is right.
  router& add(std::string method, std::string_view pattern, Handler handler) {
    if (pattern.empty() || pattern.front() != '/')
      throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
    route r{std::move(method), {}, std::move(handler)};
    for (auto seg : split(pattern)) {
      const bool is_param = !seg.empty() && seg.front() == ':';
      if (is_param && seg.size() == 1)
        throw std::invalid_argument("route parameter without a name: " + std::string(pattern));
      r.segments.push_back(
          segment{std::string(is_param ? seg.substr(1) : seg), is_param});
    }
    routes_.push_back(std::move(r));
    return *this;
  }

  /// Finds the route for `method` and `path` (a request's `path()`, still
  /// percent-encoded).
  match_result match(std::string_view method, std::string_view path) const {
    match_result res;
    const auto parts = split(path);
    const route* chosen = nullptr;
    const route* get_for_head = nullptr;
    std::vector<std::string_view> methods;
    for (const auto& r : routes_) {
      if (!fits(r, parts))
        continue;
      if (std::find(methods.begin(), methods.end(), r.method) == methods.end())
        methods.push_back(r.method);
      if (!chosen && r.method == method)
        chosen = &r;
      if (!get_for_head && method == "HEAD" && r.method == "GET")
        get_for_head = &r;
    }
    if (!chosen)
      chosen = get_for_head;
    if (!chosen) {
      if (!methods.empty()) {
        res.status = 405;
        res.allow = allow_list(methods);
      }
      return res;
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (!chosen->segments[i].is_param)
        continue;
      auto value = percent_decode(parts[i]);
      if (!value) {
        res.status = 400;
        res.params.clear();
        return res;
      }
      res.params.emplace_back(chosen->segments[i].text, std::move(*value));
    }
    res.status = 200;
    res.handler = &chosen->handler;
    return res;
  }

  std::size_t size() const noexcept { return routes_.size(); }

private:
  struct segment {
    std::string text; ///< The literal, or the parameter's name.
    bool is_param = false;
  };
  struct route {
    std::string method;
    std::vector<segment> segments;
    Handler handler;
  };

  /// "/a/b" -> {"a", "b"}; "/" -> {""}; "" -> {""}.
  static std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> parts;
    if (!path.empty() && path.front() == '/')
      path.remove_prefix(1);
    while (true) {
      auto slash = path.find('/');
      parts.push_back(path.substr(0, slash));
      if (slash == std::string_view::npos)
        break;
      path.remove_prefix(slash + 1);
    }
    return parts;
  }

  static bool fits(const route& r, const std::vector<std::string_view>& parts) {
    if (r.segments.size() != parts.size())
      return false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& seg = r.segments[i];
      if (seg.is_param ? parts[i].empty() : parts[i] != seg.text)
        return false;
    }
    return true;
  }

  static std::string allow_list(const std::vector<std::string_view>& methods) {
    const bool has_head = std::find(methods.begin(), methods.end(), "HEAD") != methods.end();
    std::string out;
    for (auto m : methods) {
      if (!out.empty())
        out.append(", ");
      out.append(m);
      if (m == "GET" && !has_head)
        out.append(", HEAD");
    }
    return out;
  }

  std::vector<route> routes_;
};

} // namespace libactor::http
