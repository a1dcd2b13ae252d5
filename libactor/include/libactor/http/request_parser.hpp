/// @file
/// Turns the bytes a session reads into `request`s, one request per parser.
/// It wraps Boost.Beast's request parser (kept out of this header) and adds
/// what a server needs around it: the `limits`, 414/431/501/505 detection,
/// `Expect: 100-continue`, and a bound on the bytes a client can make the
/// session hold. No socket is involved: bytes in, a request or a status out.
///
/// Beast is lenient where RFC 9110/9112 let a server be strict, and strictness
/// is what keeps a proxy in front and this server agreeing on where a request
/// ends (request smuggling). So the header block's bytes are checked as they
/// arrive, before Beast parses them, and the parsed header is checked after:
///  - 400: a malformed request line (a space in the target, a bare LF, no
///    HTTP/d.d version); obs-fold, bare LF or CR, whitespace before the colon,
///    a non-token field name, a control character (NUL...) in a field value;
///    no Host in HTTP/1.1, two Host fields, a Host that is not
///    uri-host[:port] (userinfo, a path, a comma list); Transfer-Encoding in
///    HTTP/1.0, with Content-Length, with chunked not last or twice;
///    Content-Lengths that differ; a bad chunk or trailer section.
///  - 414 / 431: past `max_request_line`, `max_header_bytes` or `max_headers`,
///    at the byte or line that crosses it, whether or not the block is done.
///  - 501: an unknown method; a transfer coding other than chunked
///    (`gzip, chunked`).
///  - 505: a well-formed request line whose version is not HTTP/1.0 or 1.1.
/// Trailer fields of a chunked body are checked and counted the same way, then
/// dropped: a `request` holds the header section only.
///
/// How a session uses it (memory discipline: no parser on an idle connection):
/// @code
///   // `pending` = leftover bytes kept from the last read + newly read bytes
///   if (!parser) parser.emplace(lim);
///   auto r = parser->feed(pending);
///   pending.erase(0, r.consumed);          // the rest is re-fed later
///   switch (r.st) {
///     case state::need_more: read more, append, feed again; break;
///     case state::expect_continue: write continue_response, feed again; break;
///     case state::complete: handle(parser->take()); parser.reset();
///                           if (!pending.empty()) start the next request; break;
///     case state::error: write error_response(r.status, r.reason); close;
///   }
/// @endcode
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "libactor/http/limits.hpp"
#include "libactor/http/request.hpp"

namespace libactor::http {

/// What a session writes when `feed` reports `expect_continue`.
inline constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

/// Incremental parser for exactly one request.
///
/// Feed it the unconsumed bytes of the connection, from the first byte of the
/// request on: bytes it did not consume (a header block still incomplete, a
/// split chunk-size line) must be fed again, with the newly read bytes
/// appended. Bytes after a complete request are never consumed: they start
/// the next, pipelined request, which needs a new parser.
///
/// Whatever the input, the bytes left unconsumed after `need_more` are at most
/// `max(max_header_bytes, max_chunk_header)`, so a session's leftover buffer
/// is bounded; a body is consumed as it arrives and held, up to `max_body`,
/// inside the parser. The fuzz target checks this bound on every call.
class request_parser {
public:
  /// What one `feed` achieved.
  struct result {
    enum class state {
      need_more,       ///< Consumed what it could; feed the rest plus more bytes.
      expect_continue, ///< Header block done, `Expect: 100-continue` and a body is
                       ///< due: write `continue_response`, then keep feeding.
      complete,        ///< A whole request is ready: call `take()`.
      error,           ///< The request is unusable: reply `status` and close.
    };
    state st = state::need_more;
    /// Bytes of the input that belong to this request and were used; never
    /// more than the input's size.
    std::size_t consumed = 0;
    /// The status to answer with on `error` (4xx/5xx), 100 on `expect_continue`,
    /// 0 otherwise.
    unsigned status = 0;
    /// A short, client-safe description of the error, for the response body.
    std::string reason;
  };

  explicit request_parser(const limits& lim = {});
  ~request_parser();
  request_parser(request_parser&&) noexcept;
  request_parser& operator=(request_parser&&) noexcept;
  request_parser(const request_parser&) = delete;
  request_parser& operator=(const request_parser&) = delete;

  /// Parses as much of `bytes` as it can. After `complete` or `error` it
  /// consumes nothing and repeats its last answer.
  result feed(std::string_view bytes);

  /// Moves the parsed request out. Only after `feed` returned `complete`;
  /// otherwise (or a second time) it throws `std::logic_error`.
  request take();

  /// Whether the header block has been parsed (the body may still be due).
  bool header_done() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace libactor::http
