/// @file
/// One parsed HTTP/1.x request as a session's handlers see it. The request
/// parser produces it, the router adds the route parameters, and a handler
/// reads it; it holds plain strings only, so handlers and tests need neither
/// Beast nor a socket.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace libactor::http {

/// Header fields in the order they arrived, names as the client spelt them.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// A complete HTTP request: request line, header fields, body and the
/// parameters the router extracted from the path.
///
/// It owns its strings, so it stays valid after the parser and the read
/// buffer that produced it are gone (the parser exists only while a request is
/// in flight).
class request {
public:
  /// An empty `GET /` HTTP/1.1 request; mostly useful to tests.
  request();

  /// Builds a request from its parts. `version` is 10 or 11 (HTTP/1.0, 1.1).
  /// Whether the connection stays open is decided here, once, from `version`
  /// and the Connection fields.
  request(std::string method, std::string target, unsigned version, header_list headers,
          std::string body);

  // -- request line --

  /// The method as sent, e.g. "GET"; methods are case-sensitive (RFC 9110).
  std::string_view method() const noexcept { return method_; }

  /// The request target as sent, e.g. "/stream/42?since=3".
  std::string_view target() const noexcept { return target_; }

  /// The target without its query: "/stream/42". For an absolute-form target
  /// ("http://host/a?b") the path after the authority ("/a"); "/" when empty.
  std::string_view path() const noexcept;

  /// The query after '?', without the '?'; empty when there is none.
  std::string_view query() const noexcept;

  /// The first query parameter `name` (`a=1&name=x`), percent-decoded and
  /// with `+` as a space; an empty string for `name` without `=`; nullopt
  /// when it is absent or its encoding is broken.
  std::optional<std::string> query_param(std::string_view name) const;

  /// 10 for HTTP/1.0, 11 for HTTP/1.1.
  unsigned version() const noexcept { return version_; }

  // -- header fields and body --

  /// The first field named `name`, compared case-insensitively.
  std::optional<std::string_view> header(std::string_view name) const noexcept;

  /// Every field, in arrival order.
  const header_list& headers() const noexcept { return headers_; }

  /// The body, already de-chunked.
  const std::string& body() const noexcept { return body_; }

  /// Whether the connection may carry another request after this one:
  /// HTTP/1.1 unless a Connection field lists `close`; HTTP/1.0 only when a
  /// Connection field lists `keep-alive` (and not `close`).
  bool keep_alive() const noexcept { return keep_alive_; }

  // -- route parameters --

  /// The route parameter `name` (":id" in "/stream/:id"), percent-decoded.
  std::optional<std::string_view> param(std::string_view name) const noexcept;

  /// Sets a route parameter, replacing one of the same name. The router's
  /// match result calls this; handlers normally only read parameters.
  void set_param(std::string name, std::string value);

private:
  std::string method_;
  std::string target_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  header_list headers_;
  std::string body_;
  std::vector<std::pair<std::string, std::string>> params_;
};

/// Case-insensitive ASCII comparison, as header names and tokens need.
bool iequals(std::string_view a, std::string_view b) noexcept;

/// Whether a comma-separated header value (`Connection`, `Expect`, ...)
/// contains `token`, case-insensitively, ignoring optional whitespace.
bool has_token(std::string_view list, std::string_view token) noexcept;

} // namespace libactor::http
