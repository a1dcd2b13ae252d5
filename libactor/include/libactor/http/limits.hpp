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
  /// Exceeding it yields 431 Request Header Fields Too Large as soon as the
  /// byte past the limit arrives, not when the block is complete. This is
  /// also the most bytes a session keeps while waiting for the rest of a
  /// header block. A chunked body's trailer section counts too: header block
  /// plus trailer section beyond this is a 431 (RFC 6585 5: the fields, in
  /// total, are too large; trailer fields are fields, RFC 9110 6.5).
  std::size_t max_header_bytes = 16 * 1024;

  /// Most header fields in one request; more yields 431 (Cowboy: `max_headers`),
  /// as soon as the field line past the limit is complete. Trailer fields
  /// count too: header plus trailer fields beyond this is a 431.
  std::size_t max_headers = 100;

  /// Largest request body, counted after chunked decoding. A larger
  /// Content-Length is refused with 413 Content Too Large before any of the body
  /// is read; a chunked body is refused as soon as it grows past the limit.
  std::uint64_t max_body = 8 * 1024 * 1024;

  /// Longest chunk-size line (with its extensions) of a chunked body, and the
  /// longest last chunk plus trailer section, each counted with its CRLFs and
  /// the CRLF ending the previous chunk's data. Beast waits for a whole line
  /// (or a whole trailer section) before it consumes any of it, so without
  /// this bound a peer could make a session buffer an endless chunk
  /// extension; exceeding it yields 400, however the bytes are split into
  /// reads. A trailer section is counted against `max_header_bytes` and
  /// `max_headers` only once it is whole, so until then this is its bound.
  std::size_t max_chunk_header = 4096;
};

} // namespace libactor::http
