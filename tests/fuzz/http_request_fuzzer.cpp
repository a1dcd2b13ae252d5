// libFuzzer target for the socket-free HTTP layer: arbitrary bytes, delivered
// in arbitrary reads, go through request_parser as a session feeds it, then
// through the router and every serialiser. Built by scripts/fuzz.
//
// Invariants checked (a failure aborts, which libFuzzer reports as a crash):
//  - `consumed` never exceeds the bytes fed;
//  - an error always carries a 4xx/5xx status and a reason;
//  - the bytes kept between reads stay within the limits (bounded memory);
//  - expect_continue comes at most once per request, after the header block;
//  - a completed request respects max_body and max_headers, is HTTP/1.0 or
//    1.1, has at most one Host (exactly one in 1.1), no CR/LF/NUL in a field
//    value, no Transfer-Encoding in 1.0; and the
//    split points change nothing: the same requests come out, in the same
//    order, and the input fails (or not) in the same place as when fed whole;
//  - every response we serialise parses back with Beast's response parser.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "libactor/http/request_parser.hpp"
#include "libactor/http/response.hpp"
#include "libactor/http/router.hpp"
#include "libactor/http/sse.hpp"
#include "libactor/message_id.hpp"

namespace http = libactor::http;
using state = http::request_parser::result::state;

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace {

/// A small deterministic generator: the split points come from the input, so
/// every crash reproduces from its file alone.
struct splitter {
  std::uint32_t s;
  std::size_t next() {
    s = s * 1664525u + 1013904223u;
    const std::uint32_t r = s >> 16;
    switch (r % 4) {
      case 0: return 1;
      case 1: return 1 + r % 7;
      case 2: return 1 + r % 97;
      default: return 4096;
    }
  }
};

struct summary {
  std::string method, target, body;
  unsigned version = 0;
  std::size_t fields = 0;
  bool operator==(const summary& o) const {
    return method == o.method && target == o.target && body == o.body && version == o.version &&
           fields == o.fields;
  }
};

struct outcome {
  std::vector<summary> requests;
  bool failed = false;
  /// Ended inside a request: the input stopped before it was complete.
  bool incomplete = false;
  int continues = 0;
};

const http::router<int>& routes() {
  static const http::router<int> r = [] {
    http::router<int> r;
    r.add("GET", "/hello", 1)
        .add("GET", "/stream/:id", 2)
        .add("GET", "/events/:id", 3)
        .add("POST", "/send/:id", 4)
        .add("POST", "/broadcast", 5)
        .add("GET", "/a/:x/b/:y", 6);
    return r;
  }();
  return r;
}

/// Parses `bytes` as a response and checks the whole of it was one response.
void check_response(std::string_view bytes, bool head) {
  namespace bhttp = boost::beast::http;
  bhttp::response_parser<bhttp::string_body> p;
  p.eager(true);
  p.skip(head);
  boost::beast::error_code ec;
  const auto n = p.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec)
    std::fprintf(stderr, "response does not parse: %s\n%.*s\n", ec.message().c_str(),
                 static_cast<int>(bytes.size()), bytes.data());
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(p.is_done());
  FUZZ_CHECK(n == bytes.size());
}

void exercise(http::request& req, const http::limits& lim) {
  FUZZ_CHECK(req.version() == 10 || req.version() == 11);
  FUZZ_CHECK(!req.method().empty());
  FUZZ_CHECK(req.body().size() <= lim.max_body);
  FUZZ_CHECK(!req.path().empty());
  // What the parser refuses never reaches a handler: too many fields
  // (trailers are not headers), two Hosts, chunked framing on HTTP/1.0.
  FUZZ_CHECK(req.headers().size() <= lim.max_headers);
  std::size_t hosts = 0;
  for (const auto& [name, value] : req.headers()) {
    hosts += http::iequals(name, "host");
    FUZZ_CHECK(req.version() == 11 || !http::iequals(name, "transfer-encoding"));
    FUZZ_CHECK(value.find_first_of(std::string_view{"\r\n\0", 3}) == std::string::npos);
  }
  FUZZ_CHECK(hosts <= 1 && (req.version() == 10 || hosts == 1));

  auto m = routes().match(req.method(), req.path());
  FUZZ_CHECK(m.status == 200 || m.status == 400 || m.status == 404 || m.status == 405);
  FUZZ_CHECK((m.handler != nullptr) == (m.status == 200));
  FUZZ_CHECK(m.status != 405 || !m.allow.empty());
  const auto info = http::info_of(req);
  if (!m.found()) {
    check_response(http::serialize(http::error(m.status, "no", m.allow), info), info.head);
    return;
  }
  m.apply(req);
  for (const auto& [name, value] : m.params)
    FUZZ_CHECK(req.param(name) == std::string_view{value});

  // Echo what the client sent into places a careless serialiser would break.
  http::response res = http::text(200, req.body());
  for (const auto& [name, value] : req.headers())
    res.headers.emplace_back(name, value);
  res.headers.emplace_back("X-Target", std::string(req.target()));
  check_response(http::serialize(res, info), info.head);

  const auto head = http::chunked_head(200, "text/plain", info);
  if (http::uses_chunked(info) && !info.head)
    check_response(head + http::chunk(req.body()) + http::chunk(req.target()) + http::last_chunk(),
                   false);

  http::sse_event ev;
  ev.data = req.body();
  ev.event = std::string(req.target());
  if (auto last = req.header("last-event-id")) {
    // The client's id as an id field: whatever it holds, it stays one line.
    ev.id = std::string{*last};
    // An id that reads back is written back the same.
    if (auto id = libactor::parse_message_id(*last))
      FUZZ_CHECK(libactor::parse_message_id(libactor::to_string(*id)) == id);
  }
  const auto framed = http::format(ev);
  FUZZ_CHECK(framed.size() >= 2 && framed.compare(framed.size() - 2, 2, "\n\n") == 0);
  // Every line of an event is a field, so the data cannot end an event early.
  std::string_view body{framed.data(), framed.size() - 1};
  std::size_t start = 0;
  while (start < body.size()) {
    auto end = body.find('\n', start);
    FUZZ_CHECK(end != std::string_view::npos);
    const auto line = body.substr(start, end - start);
    FUZZ_CHECK(line.find('\r') == std::string_view::npos);
    FUZZ_CHECK(line.rfind("data: ", 0) == 0 || line.rfind("id: ", 0) == 0 ||
               line.rfind("event: ", 0) == 0);
    start = end + 1;
  }
}

/// Feeds `input` as a session would, in reads cut by `split` (all at once when
/// null), checking the parser's invariants on every call.
outcome run(std::string_view input, const http::limits& lim, splitter* split) {
  outcome out;
  std::optional<http::request_parser> parser;
  bool continued = false;
  std::size_t request_bytes = 0;
  std::string pending;
  std::size_t pos = 0;
  const std::size_t bound =
      std::max({lim.max_header_bytes, lim.max_chunk_header, std::size_t{1}});
  while (pos < input.size()) {
    const std::size_t step = split ? split->next() : input.size();
    pending.append(input.substr(pos, step));
    pos += std::min(step, input.size() - pos);
    while (!pending.empty()) {
      if (!parser) {
        parser.emplace(lim);
        continued = false;
        request_bytes = 0;
      }
      auto r = parser->feed(pending);
      FUZZ_CHECK(r.consumed <= pending.size());
      pending.erase(0, r.consumed);
      request_bytes += r.consumed;
      if (r.st == state::need_more) {
        FUZZ_CHECK(r.status == 0);
        FUZZ_CHECK(pending.size() <= bound);
        break;
      }
      if (r.st == state::expect_continue) {
        FUZZ_CHECK(!continued);
        FUZZ_CHECK(r.status == 100);
        FUZZ_CHECK(parser->header_done());
        continued = true;
        ++out.continues;
        continue;
      }
      if (r.st == state::error) {
        FUZZ_CHECK(r.status >= 400 && r.status <= 599);
        FUZZ_CHECK(!r.reason.empty());
        // The parser repeats itself and takes nothing more.
        auto again = parser->feed(pending);
        FUZZ_CHECK(again.st == state::error && again.consumed == 0 && again.status == r.status);
        check_response(http::error_response(r.status, r.reason), false);
        out.failed = true;
        return out;
      }
      FUZZ_CHECK(r.st == state::complete);
      FUZZ_CHECK(request_bytes > 0);
      auto req = parser->take();
      parser.reset();
      summary s{std::string(req.method()), std::string(req.target()), req.body(),
                req.version(), req.headers().size()};
      out.requests.push_back(std::move(s));
      exercise(req, lim);
    }
  }
  out.incomplete = parser.has_value() || !pending.empty();
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3)
    return 0;
  http::limits lim;
  if (data[0] & 1) {
    // Small limits, so short inputs reach every limit's edge.
    lim.max_request_line = 64 + data[1] % 64;
    lim.max_header_bytes = 128 + data[1];
    lim.max_headers = 1 + data[1] % 8;
    lim.max_body = data[1] * 4u;
    lim.max_chunk_header = 16 + data[1] % 32;
  }
  splitter split{static_cast<std::uint32_t>(data[1]) << 8 | data[2]};
  const std::string_view input{reinterpret_cast<const char*>(data) + 3, size - 3};

  const auto whole = run(input, lim, nullptr);
  const auto pieces = run(input, lim, &split);
  // Beast may spot a bad field before the header block is complete when it
  // gets the block in one piece, and only at its end when it gets it in
  // pieces; so a failure may stand against an input that simply ran out.
  const bool same_end = whole.failed == pieces.failed ||
                        (whole.failed ? pieces.incomplete : whole.incomplete);
  if (!(whole.requests == pieces.requests) || !same_end ||
      (!whole.failed && !pieces.failed && whole.continues != pieces.continues)) {
    std::fprintf(stderr, "split changed the outcome: %zu/%zu requests, failed %d/%d, 100s %d/%d\n",
                 whole.requests.size(), pieces.requests.size(), whole.failed, pieces.failed,
                 whole.continues, pieces.continues);
    std::abort();
  }
  return 0;
}
