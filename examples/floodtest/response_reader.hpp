/// @file
/// One HTTP/1.1 response parsed by Beast without storing it: a subclass of
/// `beast::http::basic_parser` that keeps only the status and hands every
/// complete chunk (or body piece) to its connection. A connection pays for
/// this object (about 120 bytes) only while it is open, not for a header
/// map or a body buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>

namespace floodtest {

/// What a connection hears from its reader, inside `put`.
class reader_events {
public:
  /// One whole chunk of a chunked body (a chunk split over reads is put
  /// together first; past `max_chunk` bytes only its start is kept).
  virtual void on_chunk(std::string_view chunk) = 0;
  /// A piece of a body that is not chunked.
  virtual void on_body(std::string_view piece) = 0;

protected:
  ~reader_events() = default;
};

class response_reader final : public boost::beast::http::basic_parser<false> {
public:
  /// Enough to classify any chunk and parse `t=<ns> k=<seq>`.
  static constexpr std::size_t max_chunk = 256;

  explicit response_reader(reader_events& events);

  /// The status code, 0 until the status line is parsed.
  int status() const noexcept { return status_; }

private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override { status_ = code; }
  void on_field_impl(boost::beast::http::field, string_view, string_view, error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code&) override;
  void on_finish_impl(error_code&) override {}

  reader_events& events_;
  std::string partial_; ///< the start of a chunk split across reads; usually empty
  int status_ = 0;
};

} // namespace floodtest
