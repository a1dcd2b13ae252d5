#include "libactor/http/request_parser.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>
#include <stdexcept>

#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

namespace libactor::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using state = request_parser::result::state;

namespace {

/// Beast's `string_body`, except that the body grows with the bytes that
/// arrive. `string_body` reserves the whole announced Content-Length before
/// the first body byte, so a client sending one header with `Content-Length:
/// 8388608` and then nothing would pin `max_body` bytes per connection; here
/// a session holds at most about twice what it has actually received.
struct request_body {
  using value_type = std::string;

  /// Up to this much of a Content-Length is reserved at once: small bodies,
  /// the common case, still take a single allocation.
  static constexpr std::uint64_t initial_reserve = 64 * 1024;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
  public:
    template <bool IsRequest, class Fields>
    explicit reader(bhttp::header<IsRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      if (length)
        body_.reserve(static_cast<std::size_t>(std::min(*length, initial_reserve)));
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      const auto extra = beast::buffer_bytes(buffers);
      const auto size = body_.size();
      if (extra > body_.max_size() - size) {
        ec = bhttp::error::buffer_overflow;
        return 0;
      }
      body_.resize(size + extra); // std::string grows geometrically
      char* dest = body_.data() + size;
      for (auto b : beast::buffers_range_ref(buffers)) {
        std::memcpy(dest, b.data(), b.size());
        dest += b.size();
      }
      ec = {};
      return extra;
    }

    void finish(beast::error_code& ec) { ec = {}; }

  private:
    value_type& body_;
  };
};

} // namespace

struct request_parser::impl {
  explicit impl(const limits& l) : lim(l) {
    parser.body_limit(lim.max_body);
    // Stop after the header block, so the header checks (501, 505, 431,
    // 100-continue) run before any body byte is taken.
    parser.eager(false);
  }

  limits lim;
  bhttp::request_parser<request_body> parser;
  /// Whether Beast has seen a byte; until then leading empty lines are skipped.
  bool started = false;
  /// Whether the request line is known to fit `max_request_line`.
  bool line_ok = false;
  /// Bytes of the request line already searched for LF (the input is fed
  /// again from the same first byte, so the scan resumes instead of restarting).
  std::size_t line_scanned = 0;
  /// Whether the header block was checked and `expect_continue` given if due.
  bool header_checked = false;
  /// Header bytes Beast has consumed so far (the request line, once parsed).
  std::size_t header_used = 0;
  bool taken = false;
  std::optional<result> final_result;

  result finish(result r) {
    final_result = r;
    return r;
  }

  result fail(std::size_t consumed, unsigned status, std::string reason) {
    return finish(result{state::error, consumed, status, std::move(reason)});
  }

  result fail(std::size_t consumed, const beast::error_code& ec) {
    if (ec == bhttp::error::header_limit)
      return fail(consumed, 431, "header block too large");
    if (ec == bhttp::error::body_limit || ec == bhttp::error::buffer_overflow)
      return fail(consumed, 413, "body too large");
    return fail(consumed, 400, "malformed request: " + ec.message());
  }

  /// Beast says bad_version both for "HTTP/2.0" and for a line with no
  /// version at all. RFC 9112: the first is 505, a line that does not fit
  /// the grammar is 400.
  result fail_version(std::size_t consumed, std::string_view line) {
    line = line.substr(0, line.find('\n'));
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    auto version = line.substr(line.rfind(' ') + 1);
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && digit(version[5])
        && version[6] == '.' && digit(version[7]))
      return fail(consumed, 505, "unsupported HTTP version");
    return fail(consumed, 400, "malformed request line (no HTTP/d.d version)");
  }

  /// Checks the request line's length before Beast buffers a header block
  /// around it: Beast knows only the header limit, and 414 must be told apart.
  bool request_line_too_long(std::string_view bytes) {
    const std::size_t max = lim.max_request_line;
    // A line of `max` characters ends at index max + 1 at the latest ("\r\n").
    const std::size_t window = std::min(bytes.size(), max + 2);
    const auto from = std::min(line_scanned, window);
    const auto lf = bytes.substr(0, window).find('\n', from);
    if (lf == std::string_view::npos) {
      line_scanned = window;
      return window == max + 2;
    }
    std::size_t len = lf;
    if (len > 0 && bytes[len - 1] == '\r')
      --len;
    line_ok = len <= max;
    return !line_ok;
  }

  /// The checks Beast leaves to the server, run once the header block is in.
  std::optional<result> check_header(std::size_t consumed) {
    const auto& msg = parser.get();
    if (msg.version() != 10 && msg.version() != 11)
      return fail(consumed, 505, "unsupported HTTP version");
    if (msg.method() == bhttp::verb::unknown)
      return fail(consumed, 501, "unknown method");
    if (static_cast<std::size_t>(std::distance(msg.begin(), msg.end())) > lim.max_headers)
      return fail(consumed, 431, "too many header fields");
    if (msg.version() == 11 && msg.find(bhttp::field::host) == msg.end())
      return fail(consumed, 400, "missing Host header");
    // Beast ignores a Transfer-Encoding whose last coding is not chunked; a
    // request's length is then unknowable, and guessing invites smuggling
    // (RFC 9112 6.3), so refuse it.
    if (msg.find(bhttp::field::transfer_encoding) != msg.end() && !parser.chunked())
      return fail(consumed, 400, "unsupported transfer coding");
    return std::nullopt;
  }

  bool body_expected() const {
    if (parser.chunked())
      return true;
    auto len = parser.content_length();
    return len && *len > 0;
  }

  bool wants_continue() const {
    const auto& msg = parser.get();
    if (msg.version() < 11 || !body_expected())
      return false;
    auto it = msg.find(bhttp::field::expect);
    return it != msg.end() && iequals(it->value(), "100-continue");
  }

  result feed(std::string_view bytes) {
    if (final_result)
      return result{final_result->st, 0, final_result->status, final_result->reason};
    std::size_t used = 0;
    if (!header_checked) {
      if (!started) {
        // RFC 9112 2.2: ignore empty lines before the request line (old
        // clients send a CRLF after a POST body).
        while (used < bytes.size()) {
          if (bytes[used] == '\n') {
            ++used;
          } else if (bytes[used] == '\r') {
            if (used + 1 == bytes.size())
              return result{state::need_more, used, 0, {}};
            if (bytes[used + 1] != '\n')
              break; // Beast reports the bad line ending
            used += 2;
          } else {
            break;
          }
        }
        if (used == bytes.size())
          return result{state::need_more, used, 0, {}};
      }
      const auto rest = bytes.substr(used);
      if (!line_ok && request_line_too_long(rest))
        return fail(used, 414, "request line too long");
      started = true;
      // Beast applies its header limit to the request line and to the field
      // block separately, and consumes the line on its own; what is left of
      // the budget after the line is what the fields may use.
      if (header_used >= lim.max_header_bytes)
        return fail(used, 431, "header block too large");
      parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
          lim.max_header_bytes - header_used, std::uint32_t(-1))));
      beast::error_code ec;
      const auto k = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      used += k;
      header_used += k;
      if (ec == bhttp::error::need_more)
        return result{state::need_more, used, 0, {}};
      if (ec == bhttp::error::bad_version)
        return fail_version(used, rest);
      if (ec)
        return fail(used, ec);
      if (!parser.is_header_done())
        return result{state::need_more, used, 0, {}};
      header_checked = true;
      // When the whole block arrives at once Beast parses line and fields in
      // one call, each against the full limit: check the sum here.
      if (header_used > lim.max_header_bytes)
        return fail(used, 431, "header block too large");
      if (auto bad = check_header(used))
        return *bad;
      parser.eager(true);
      if (wants_continue())
        return result{state::expect_continue, used, 100, {}};
    }
    if (!parser.is_done() && used < bytes.size()) {
      const auto rest = bytes.substr(used);
      beast::error_code ec;
      used += parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      if (ec && ec != bhttp::error::need_more)
        return fail(used, ec);
    }
    if (parser.is_done())
      return finish(result{state::complete, used, 0, {}});
    // Beast takes content-length bodies as they come; what it leaves is a
    // partial chunk-size line or trailer section, which it re-scans whole
    // next time, so this is where the leftover must be bounded.
    if (bytes.size() - used > lim.max_chunk_header)
      return fail(used, 400, "chunk header or trailer section too long");
    return result{state::need_more, used, 0, {}};
  }
};

request_parser::request_parser(const limits& lim) : impl_(std::make_unique<impl>(lim)) {}
request_parser::~request_parser() = default;
request_parser::request_parser(request_parser&&) noexcept = default;
request_parser& request_parser::operator=(request_parser&&) noexcept = default;

request_parser::result request_parser::feed(std::string_view bytes) {
  return impl_->feed(bytes);
}

bool request_parser::header_done() const noexcept {
  return impl_->parser.is_header_done();
}

request request_parser::take() {
  if (!impl_->final_result || impl_->final_result->st != state::complete || impl_->taken)
    throw std::logic_error("request_parser::take: no complete request to take");
  impl_->taken = true;
  auto msg = impl_->parser.release();
  header_list headers;
  headers.reserve(static_cast<std::size_t>(std::distance(msg.begin(), msg.end())));
  for (const auto& f : msg)
    headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return request(std::string(msg.method_string()), std::string(msg.target()), msg.version(),
                 std::move(headers), std::move(msg.body()));
}

} // namespace libactor::http
