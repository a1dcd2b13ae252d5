/// @file
/// What a session writes back: a `response` value that handlers fill, and the
/// functions that turn it (or a streamed reply's head and chunks, or a parser
/// error) into the exact bytes for the socket. No socket is involved: the
/// session calls these and writes the strings it gets.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libactor/http/request.hpp"

namespace libactor::http {

/// A complete, non-streamed response as a handler builds it.
///
/// Content-Length, Connection, Server and Date are the serialiser's job:
/// a Content-Length, Transfer-Encoding or Connection field set here is
/// ignored, so a handler can never make the framing lie.
struct response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// Sets a field, replacing one of the same name (case-insensitively).
  response& set_header(std::string name, std::string value);
};

/// A response with a body and its Content-Type, e.g. `text(200, "hello\n")`.
response text(unsigned status, std::string body,
              std::string content_type = "text/plain; charset=utf-8");

/// The facts about the request that shape the response's framing.
struct request_info {
  /// 10 or 11: whether the client understands chunked framing and keep-alive.
  unsigned version = 11;
  /// A HEAD request gets the header block only, with the body's Content-Length.
  bool head = false;
  /// Whether the connection stays open after this response; when false the
  /// response says `Connection: close`.
  bool keep_alive = true;
};

/// The framing facts of `req`: its version, HEAD-ness and `keep_alive()`.
request_info info_of(const request& req) noexcept;

/// The status line's reason phrase ("Not Found"), from Beast's table; "Unknown"
/// for a code it does not know.
std::string_view reason_phrase(unsigned status) noexcept;

/// The bytes of `res` answering a request described by `info`.
///
/// Always sends `Content-Length` (none for 1xx, 204 and 304, which carry no
/// body), `Server: libactor` and `Date`, unless the handler set those two
/// itself. `Connection: close` when `!info.keep_alive`; `Connection:
/// keep-alive` for a persistent HTTP/1.0 connection, which would otherwise
/// close. A status outside 100..999 is sent as 500. CR, LF and NUL are removed
/// from field values and fields with an invalid name are dropped, so a handler
/// cannot split the response.
std::string serialize(const response& res, const request_info& info);

/// A text/plain response naming a problem: "404 Not Found: no route\n". `allow`,
/// when not empty, becomes the `Allow` field (405). Use it with `serialize` to
/// answer a well-formed request that can be kept alive (404, 405).
response error(unsigned status, std::string_view reason, std::string_view allow = {});

/// The bytes of `error(status, reason, allow)` with `Connection: close`: the
/// answer to a request the parser refused, after which the session closes.
std::string error_response(unsigned status, std::string_view reason,
                           std::string_view allow = {});

// -- streaming --

/// Whether a streamed reply to this request can use chunked framing. HTTP/1.0
/// cannot: `chunked_head` then announces `Connection: close`, and the session
/// writes the data raw (not through `chunk`) and closes to end the stream.
inline bool uses_chunked(const request_info& info) noexcept {
  return info.version >= 11;
}

/// The header block of a streamed reply: `Transfer-Encoding: chunked` (see
/// `uses_chunked`), `Cache-Control: no-cache`, the content type, Server, Date,
/// and `Connection: close` when the connection will not be kept. For a HEAD
/// request the session sends only this. `extra_fields` are whole field lines
/// (`Name: value\r\n`) added as they are, e.g. `X-Accel-Buffering: no`.
std::string chunked_head(unsigned status, std::string_view content_type,
                         const request_info& info,
                         std::string_view extra_fields = {});

/// One chunk carrying `data`. Empty data gives an empty string, because a
/// zero-size chunk would end the stream.
std::string chunk(std::string_view data);

/// The zero-size chunk that ends a chunked stream (no trailers).
std::string last_chunk();

} // namespace libactor::http
