/// @file
/// Size limits a session applies to one HTTP/1.1 request, named and defaulted
/// as Cowboy names them. The request parser enforces every one of them, so a
/// peer can never make a session buffer more than a few of these bytes; each
/// limit maps to the status the client gets when it is exceeded.
#pragma once

#include <cstddef>
#include <cstdint>

namespace libactor::http {

/// Per-request limits, enforced by `request_parser`.
///
/// The defaults suit a comet server: small requests, small bodies. They bound
/// what one connection can make the process hold, which is the point of the
/// per-connection model: a hostile client costs its own session at most
/// `max_header_bytes + max_body` bytes, never the node.
struct limits {
  /// Longest request line (method, target and version, CRLF excluded).
  /// Exceeding it yields 414 URI Too Long, as Cowboy's `max_request_line_length`.
  std::size_t max_request_line = 8000;

  /// Largest header block: request line, every field and the blank line.
  /// Exceeding it yields 431 Request Header Fields Too Large. This is also the
  /// most bytes a session keeps while waiting for the rest of a header block.
  std::size_t max_header_bytes = 16 * 1024;

  /// Most header fields in one request; more yields 431 (Cowboy: `max_headers`).
  std::size_t max_headers = 100;

  /// Largest request body, counted after chunked decoding. A larger
  /// Content-Length is refused with 413 Content Too Large before any of the body
  /// is read; a chunked body is refused as soon as it grows past the limit.
  std::uint64_t max_body = 8 * 1024 * 1024;

  /// Longest chunk-size line (with its extensions) of a chunked body, and the
  /// longest last chunk plus trailer section. Beast waits for a whole line
  /// before it consumes any of it, so without this bound a peer could make a
  /// session buffer an endless chunk extension; exceeding it yields 400.
  std::size_t max_chunk_header = 4096;
};

} // namespace libactor::http
