#include "libactor/http/request_parser.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <vector>

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

/// tchar, RFC 9110 5.6.2: what a method and a field name are made of.
bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
    return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// Beast's request parser, except that the fields of a chunked body's trailer
/// section are not inserted into the message, and that chunk-size lines and
/// the trailer section are measured against `max_chunk_header` as Beast
/// parses them.
///
/// Trailers: RFC 9110 6.5.1, a recipient must not merge a trailer field into
/// the header section unless that field's definition says how, and a handler
/// reading `Host` or `Connection` must never see a value that arrived after
/// the body. Beast still parses them (and refuses a Content-Length or
/// Transfer-Encoding there); `request_parser` counts their bytes against the
/// header limits.
///
/// Measuring: between reads `request_parser` bounds the bytes Beast leaves
/// unconsumed, but a line that arrives whole in one read is never left over;
/// measured here too, the limit holds however the body is split.
class beast_parser : public bhttp::parser<true, request_body> {
public:
  explicit beast_parser(std::size_t max_chunk_header) : max_chunk_header_(max_chunk_header) {}

  /// Tells where the buffer given to the next `put` starts.
  void next_buffer(const char* begin) noexcept { buffer_begin_ = begin; }
  /// Whether a chunk-size line was longer than `max_chunk_header`.
  bool chunk_line_too_long() const noexcept { return chunk_line_too_long_; }
  /// Where the last chunk (with the CRLF ending the chunk before it) and the
  /// trailer section after its line start, in the buffer of the `put` that
  /// completed a chunked body; null before.
  const char* last_chunk_begin() const noexcept { return last_chunk_begin_; }
  const char* trailer_begin() const noexcept { return trailer_begin_; }

private:
  void on_field_impl(bhttp::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code& ec) override {
    ec = {};
    if (!is_header_done()) // after the header block, only trailers come
      get().insert(name, name_string, value);
  }

  void on_chunk_header_impl(std::uint64_t size, beast::string_view extensions,
                            beast::error_code& ec) override {
    ec = {};
    // `extensions` points into the buffer and ends at the line's CRLF; the
    // chunk size's hex digits come right before it, and before them (but for
    // the first chunk, which starts the buffer) the CRLF ending the previous
    // chunk's data: Beast keeps all of it unconsumed until the line is whole.
    const char* line_end = extensions.data() + extensions.size() + 2;
    const char* begin = extensions.data();
    while (begin > buffer_begin_ && is_hex(begin[-1]))
      --begin;
    if (begin - buffer_begin_ >= 2)
      begin -= 2;
    if (size == 0) {
      // Beast calls this for the last chunk only once the whole trailer
      // section is in the buffer; `request_parser` measures it all then.
      last_chunk_begin_ = begin;
      trailer_begin_ = line_end;
    } else if (static_cast<std::size_t>(line_end - begin) > max_chunk_header_) {
      chunk_line_too_long_ = true;
      ec = bhttp::error::bad_chunk;
    }
  }

  std::size_t max_chunk_header_;
  const char* buffer_begin_ = nullptr;
  bool chunk_line_too_long_ = false;
  const char* last_chunk_begin_ = nullptr;
  const char* trailer_begin_ = nullptr;
};

/// A status and a client-safe reason, for what the scanner refuses.
struct refusal {
  unsigned status;
  const char* reason;
};

/// Checks a header block (request line and field lines) or a trailer
/// section byte by byte, as the bytes arrive and before Beast sees them.
///
/// Once a header block spans reads, Beast looks at its field lines again only
/// when the blank line ending it is in, so on its own it would notice a limit
/// or a malformed line only then (or once the buffer is full); it also
/// accepts what RFC 9112 lets a server refuse and which this server refuses
/// to keep every hop's view of the message the same (obs-fold, 5.2), and it
/// reports a malformed request line as a bad version. The scanner is the
/// grammar of RFC 9112 2.2, 3 and 5 and nothing more; Beast still does the
/// parsing. It keeps its place, so each byte is looked at once however the
/// block is split.
class block_scanner {
public:
  enum class at {
    method, target, version, line_cr, line_lf, // request-line
    field_start, name, value, value_cr,        // field lines
    end_lf,                                    // the blank line's LF
    done,
  };

  /// `max_bytes` and `max_fields` bound the block; `max_line` the request line.
  block_scanner(at start, std::size_t max_bytes, std::size_t max_fields, std::size_t max_line)
      : at_(start), max_bytes_(max_bytes), max_fields_(max_fields), max_line_(max_line) {}

  /// Scans `bytes`, the block's bytes from `scanned()` on, stopping after the
  /// blank line that ends it. Returns what the first bad byte is worth.
  std::optional<refusal> scan(std::string_view bytes) {
    for (std::size_t i = 0; i < bytes.size() && at_ != at::done; ++i, ++pos_) {
      if (auto bad = step(static_cast<unsigned char>(bytes[i])))
        return bad;
    }
    return std::nullopt;
  }

  /// Bytes of the block looked at so far.
  std::size_t scanned() const noexcept { return pos_; }
  /// Whether the request line, CRLF included, has been scanned.
  bool line_done() const noexcept { return at_ >= at::field_start; }
  /// Whether the blank line ending the block has been scanned.
  bool done() const noexcept { return at_ == at::done; }
  /// Field lines complete so far.
  std::size_t fields() const noexcept { return fields_; }

private:
  std::optional<refusal> step(unsigned char c) {
    const bool in_line = at_ <= at::line_cr;
    // A request line of max_line characters has its CR at index max_line.
    if (in_line && pos_ >= max_line_ && c != '\r')
      return refusal{414, "request line too long"};
    // The byte at index max_bytes would be byte max_bytes + 1 of the block.
    if (pos_ >= max_bytes_)
      return refusal{431, "header block too large"};
    switch (at_) {
      case at::method:
        if (is_tchar(c))
          ++run_;
        else if (c == ' ' && run_ > 0)
          next(at::target);
        else
          return refusal{400, "malformed request line (method)"};
        break;
      case at::target:
        // Beast's set: any visible ASCII or obs-text; a space ends it.
        if (c > ' ' && c != 0x7f)
          ++run_;
        else if (c == ' ' && run_ > 0)
          next(at::version);
        else
          return refusal{400, "malformed request line (target)"};
        break;
      case at::version: {
        // HTTP-version = "HTTP/" DIGIT "." DIGIT
        static constexpr char shape[] = "HTTP/d.d";
        const char want = shape[run_];
        if (want == 'd' ? !is_digit(static_cast<char>(c)) : c != static_cast<unsigned char>(want))
          return refusal{400, "malformed request line (no HTTP/d.d version)"};
        if (run_ == 5)
          major_ = c - '0';
        if (run_ == 7) {
          minor_ = c - '0';
          next(at::line_cr);
        } else {
          ++run_;
        }
        break;
      }
      case at::line_cr:
        if (c != '\r') // also a bare LF: RFC 9112 2.2 lets us refuse it
          return refusal{400, "malformed request line (not ended by CRLF)"};
        at_ = at::line_lf;
        break;
      case at::line_lf:
        if (c != '\n')
          return refusal{400, "malformed request line (CR without LF)"};
        // Only a well-formed line reaches this point: now, and only now, a
        // version other than 1.0/1.1 is 505 rather than 400 (RFC 9110 15.6.6).
        if (major_ != 1 || minor_ > 1)
          return refusal{505, "unsupported HTTP version"};
        at_ = at::field_start;
        break;
      case at::field_start:
        if (c == '\r')
          at_ = at::end_lf;
        else if (c == ' ' || c == '\t') // RFC 9112 5.2 (obs-fold), 2.2 (before the first field)
          return refusal{400, fields_ == 0 ? "whitespace before the first field line"
                                           : "obsolete line folding"};
        else if (is_tchar(c))
          at_ = at::name;
        else if (c == '\n')
          return refusal{400, "bare LF in the field section"};
        else
          return refusal{400, "invalid character in a field name"};
        break;
      case at::name:
        if (c == ':')
          at_ = at::value;
        else if (c == ' ' || c == '\t') // RFC 9112 5.1: a MUST
          return refusal{400, "whitespace between a field name and the colon"};
        else if (!is_tchar(c))
          return refusal{400, "invalid character in a field name"};
        break;
      case at::value:
        // field-value: HTAB, SP, VCHAR and obs-text; NUL, CR, LF and the
        // other controls are refused (RFC 9110 5.5).
        if (c == '\r')
          at_ = at::value_cr;
        else if (c == '\n')
          return refusal{400, "bare LF in the field section"};
        else if ((c < ' ' && c != '\t') || c == 0x7f)
          return refusal{400, "invalid character in a field value"};
        break;
      case at::value_cr:
        if (c != '\n')
          return refusal{400, "CR without LF in a field value"};
        if (++fields_ > max_fields_)
          return refusal{431, "too many header fields"};
        at_ = at::field_start;
        break;
      case at::end_lf:
        if (c != '\n')
          return refusal{400, "CR without LF after the field section"};
        at_ = at::done;
        break;
      case at::done:
        break;
    }
    return std::nullopt;
  }

  void next(at where) {
    at_ = where;
    run_ = 0;
  }

  at at_;
  std::size_t max_bytes_, max_fields_, max_line_;
  std::size_t pos_ = 0;
  std::size_t run_ = 0; ///< characters of the current method, target or version
  int major_ = 0, minor_ = 0;
  std::size_t fields_ = 0;
};

// -- Host (RFC 9110 7.2: uri-host [ ":" port ], RFC 3986 3.2.2) --

bool valid_ipv4(std::string_view s) {
  int octets = 0;
  for (;;) {
    const auto dot = s.find('.');
    const auto part = s.substr(0, dot);
    if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), is_digit) ||
        (part.size() > 1 && part[0] == '0'))
      return false;
    int value = 0;
    for (char c : part)
      value = value * 10 + (c - '0');
    if (value > 255 || ++octets > 4)
      return false;
    if (dot == std::string_view::npos)
      return octets == 4;
    s.remove_prefix(dot + 1);
  }
}

/// Counts the h16 groups of `s` (a trailing IPv4 address counts as two).
bool ipv6_groups(std::string_view s, bool ipv4_tail, int& groups) {
  if (s.empty())
    return true;
  for (;;) {
    const auto colon = s.find(':');
    const auto group = s.substr(0, colon);
    if (colon == std::string_view::npos && ipv4_tail && group.find('.') != std::string_view::npos) {
      groups += 2;
      return valid_ipv4(group);
    }
    if (group.empty() || group.size() > 4 || !std::all_of(group.begin(), group.end(), is_hex))
      return false;
    ++groups;
    if (colon == std::string_view::npos)
      return true;
    s.remove_prefix(colon + 1);
  }
}

bool valid_ipv6(std::string_view s) {
  int groups = 0;
  const auto gap = s.find("::");
  if (gap == std::string_view::npos)
    return ipv6_groups(s, true, groups) && groups == 8;
  if (s.find("::", gap + 1) != std::string_view::npos) // one "::" at most, no ":::"
    return false;
  return ipv6_groups(s.substr(0, gap), false, groups) &&
         ipv6_groups(s.substr(gap + 2), true, groups) && groups <= 7;
}

bool is_unreserved(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

/// sub-delims, without the comma: RFC 3986 allows it in a reg-name, but in a
/// Host value it is the mark of two Host fields joined into one list by an
/// intermediary, the very ambiguity RFC 9110 7.2 asks servers to refuse.
bool is_sub_delim(char c) { return c != 0 && std::strchr("!$&'()*+;=", c) != nullptr; }

/// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
bool valid_ipvfuture(std::string_view s) {
  if (s.size() < 4 || (s[0] != 'v' && s[0] != 'V'))
    return false;
  const auto dot = s.find('.');
  if (dot == std::string_view::npos || dot < 2 || dot + 1 == s.size())
    return false;
  const auto hex = s.substr(1, dot - 1);
  const auto rest = s.substr(dot + 1);
  return std::all_of(hex.begin(), hex.end(), is_hex) &&
         std::all_of(rest.begin(), rest.end(),
                     [](char c) { return is_unreserved(c) || is_sub_delim(c) || c == ':'; });
}

/// reg-name = *( unreserved / pct-encoded / sub-delims ); IPv4 addresses fit it.
bool valid_reg_name(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
        return false;
      i += 2;
    } else if (!is_unreserved(c) && !is_sub_delim(c)) {
      return false; // '@' (userinfo), '/' (a path), ',' or a space (a list)
    }
  }
  return true;
}

/// Whether `v` is a valid Host field value. An empty one is kept: RFC 9110
/// 7.2 has a client send it when the target URI has no authority.
bool valid_host(std::string_view v) {
  if (v.empty())
    return true;
  std::string_view port;
  if (v.front() == '[') { // IP-literal
    const auto close = v.find(']');
    if (close == std::string_view::npos)
      return false;
    const auto literal = v.substr(1, close - 1);
    if (!valid_ipv6(literal) && !valid_ipvfuture(literal))
      return false;
    const auto after = v.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      return false;
    port = after.empty() ? after : after.substr(1);
  } else {
    const auto colon = v.find(':');
    const auto host = v.substr(0, colon);
    // RFC 9110 4.2.1: an http URI with an empty host is invalid.
    if (host.empty() || !valid_reg_name(host))
      return false;
    if (colon != std::string_view::npos)
      port = v.substr(colon + 1);
  }
  return std::all_of(port.begin(), port.end(), is_digit); // port = *DIGIT
}

/// The transfer codings of every Transfer-Encoding field, in order, names
/// only (parameters cut), empty list elements skipped (RFC 9110 5.6.1).
template <class Fields>
std::vector<std::string_view> transfer_codings(const Fields& fields) {
  std::vector<std::string_view> codings;
  auto [first, last] = fields.equal_range(bhttp::field::transfer_encoding);
  for (auto it = first; it != last; ++it) {
    std::string_view list{it->value().data(), it->value().size()};
    while (!list.empty()) {
      const auto comma = list.find(',');
      auto item = list.substr(0, comma);
      item = item.substr(0, item.find(';'));
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
        item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
        item.remove_suffix(1);
      if (!item.empty())
        codings.push_back(item);
      list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    }
  }
  return codings;
}

} // namespace

struct request_parser::impl {
  explicit impl(const limits& l)
      : lim(l), parser(l.max_chunk_header),
        scanner(block_scanner::at::method, l.max_header_bytes, l.max_headers,
                l.max_request_line) {
    parser.body_limit(lim.max_body);
    // Stop after the header block, so the header checks (Host, framing,
    // 501, 100-continue) run before any body byte is taken.
    parser.eager(false);
  }

  limits lim;
  beast_parser parser;
  /// Checks the header block's bytes before Beast gets them: the grammar
  /// Beast is lax about and the limits, as soon as a byte crosses them.
  block_scanner scanner;
  /// Whether the request line has begun; until then empty lines are skipped.
  bool started = false;
  /// Whether the header block was checked and `expect_continue` given if due.
  bool header_checked = false;
  /// Header bytes Beast has consumed so far (the whole block once it is done).
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

  /// The checks Beast leaves to the server, run once the header block is in.
  std::optional<result> check_header(std::size_t consumed) {
    const auto& msg = parser.get();
    if (msg.version() != 10 && msg.version() != 11) // the scanner already said 505
      return fail(consumed, 505, "unsupported HTTP version");
    if (msg.method() == bhttp::verb::unknown)
      return fail(consumed, 501, "unknown method");
    // RFC 9110 7.2: no Host in HTTP/1.1, more than one Host field line, or an
    // invalid Host value is a 400.
    const auto hosts = msg.count(bhttp::field::host);
    if (msg.version() == 11 && hosts == 0)
      return fail(consumed, 400, "missing Host header");
    if (hosts > 1)
      return fail(consumed, 400, "more than one Host header");
    if (hosts == 1) {
      const auto host = msg.find(bhttp::field::host)->value();
      if (!valid_host({host.data(), host.size()}))
        return fail(consumed, 400, "invalid Host header");
    }
    if (msg.find(bhttp::field::transfer_encoding) != msg.end()) {
      // Beast already refused Transfer-Encoding with Content-Length, and
      // differing Content-Lengths (RFC 9112 6.3 items 3 and 5).
      if (msg.version() == 10) // RFC 9112 6.1: faulty framing in HTTP/1.0
        return fail(consumed, 400, "Transfer-Encoding in an HTTP/1.0 request");
      const auto codings = transfer_codings(msg);
      const auto chunked = static_cast<std::size_t>(std::count_if(
          codings.begin(), codings.end(), [](std::string_view c) { return iequals(c, "chunked"); }));
      // RFC 9112 6.3: unless chunked is the final coding, the body's length
      // cannot be known: 400. 6.1: chunked is never applied twice.
      if (codings.empty() || !iequals(codings.back(), "chunked"))
        return fail(consumed, 400, "chunked is not the final transfer coding");
      if (chunked > 1)
        return fail(consumed, 400, "chunked transfer coding applied more than once");
      // RFC 9112 6.1: a transfer coding the server does not understand is a
      // 501; the only one this server decodes is chunked.
      if (codings.size() > 1)
        return fail(consumed, 501, "unsupported transfer coding");
      if (!parser.chunked()) // Beast read it otherwise ("chunked;x", say): refuse
        return fail(consumed, 400, "unsupported transfer coding");
    }
    return std::nullopt;
  }

  /// Counts a chunked body's trailer section against the header limits,
  /// together with the header block, and refuses what Beast lets through in
  /// it. Beast hands it over only whole, and until then its bytes are bounded
  /// by `max_chunk_header`.
  std::optional<result> check_trailers(std::string_view section, std::size_t consumed) {
    const auto room = [](std::size_t max, std::size_t used) { return max > used ? max - used : 0; };
    block_scanner trailer(block_scanner::at::field_start,
                          room(lim.max_header_bytes, header_used),
                          room(lim.max_headers, scanner.fields()), 0);
    if (auto bad = trailer.scan(section))
      return fail(consumed, bad->status, std::string{bad->reason} + " (with the trailer section)");
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
              break; // the scanner reports the bad line ending
            used += 2;
          } else {
            break;
          }
        }
        if (used == bytes.size())
          return result{state::need_more, used, 0, {}};
      }
      started = true;
      // `rest` holds the header block from its byte `header_used` on; the
      // scanner goes on from the first byte it has not seen yet.
      const auto rest = bytes.substr(used);
      const auto seen = std::min(scanner.scanned() - header_used, rest.size());
      if (auto bad = scanner.scan(rest.substr(seen)))
        return fail(used, bad->status, bad->reason);
      // Beast gets the request line only whole and checked: it would take
      // "GET /a b HTTP/1.1" for a bad version, and say so before the line ends.
      if (!scanner.line_done())
        return result{state::need_more, used, 0, {}};
      // The scanner enforces max_header_bytes byte by byte; Beast's limit,
      // one byte looser (it counts from what it has not consumed yet), only
      // backs it up.
      const std::size_t budget = lim.max_header_bytes - header_used; // scanned <= max
      parser.header_limit(static_cast<std::uint32_t>(
          std::min<std::size_t>(budget, std::uint32_t(-1) - 1) + 1));
      beast::error_code ec;
      const auto k = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      used += k;
      header_used += k;
      if (ec == bhttp::error::need_more)
        return result{state::need_more, used, 0, {}};
      if (ec)
        return fail(used, ec);
      if (!parser.is_header_done())
        return result{state::need_more, used, 0, {}};
      header_checked = true;
      if (auto bad = check_header(used))
        return *bad;
      parser.eager(true);
      if (wants_continue())
        return result{state::expect_continue, used, 100, {}};
    }
    // Beast 1.81 asserts (debug builds; boostorg/beast#2861) when a chunked
    // body's first chunk is its last and it gets that chunk as 3 bytes, then
    // 4. No chunked body ends in fewer than 5 bytes left ("0\r\n\r\n"), so
    // waiting for 5 delays nothing.
    const bool too_short = parser.chunked() && bytes.size() - used < 5;
    if (!parser.is_done() && used < bytes.size() && !too_short) {
      const auto rest = bytes.substr(used);
      beast::error_code ec;
      parser.next_buffer(rest.data());
      const auto k = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      used += k;
      if (parser.chunk_line_too_long())
        return fail(used, 400, "chunk header or trailer section too long");
      if (ec && ec != bhttp::error::need_more)
        return fail(used, ec);
      if (parser.is_done() && parser.trailer_begin()) {
        // This put parsed the last chunk and the trailer section, which
        // ends where the request does.
        const char* end = rest.data() + k;
        if (static_cast<std::size_t>(end - parser.last_chunk_begin()) > lim.max_chunk_header)
          return fail(used, 400, "chunk header or trailer section too long");
        const auto begin = static_cast<std::size_t>(parser.trailer_begin() - rest.data());
        if (auto bad = check_trailers(rest.substr(begin, k - begin), used))
          return *bad;
      }
    }
    if (parser.is_done())
      return finish(result{state::complete, used, 0, {}});
    // Beast takes content-length bodies as they come; what it leaves is a
    // partial chunk-size line or trailer section, which it re-scans whole
    // next time, so this is where the leftover must be bounded (when the
    // line or section is whole, beast_parser measures it against the same
    // limit, so a read's size does not decide).
    if (!too_short && bytes.size() - used > lim.max_chunk_header)
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
