// libFuzzer target for whole HTTP sessions. A node with four HTTP servers
// runs inside the fuzzer's process (the test fixture's routes: hello, echo,
// crash, chunked stream, SSE; and GET /big/<KiB>, large enough for answers
// to back up), and every input goes to one of them over a loopback TCP
// connection, as a client sends it: the bytes may hold pipelined requests,
// garbage, a request cut short. Built by scripts/fuzz (LIBACTOR_FUZZ=ON).
//
// Input: byte 0 = flags, byte 1 = a seed for the piece sizes, then the bytes
// to send.
//   flags & 0x01  half-close (shutdown(SHUT_WR)) right after the last byte;
//                 otherwise once the answers have settled
//   flags & 0x02  do not read: close the socket (unread answers: a reset)
//   flags & 0x04  send in (at most 16) pieces of 1-64 bytes, waiting up to
//                 1 ms for an answer between two
//   flags & 0x08  a "tight" server: small limits, 64 bytes of
//                 max_pending_output, max_outbound 512 with the close policy
//   flags & 0x30  after sending, broadcast to the streams: 1 "m", 2 "crash"
//                 (the stream's session throws), 3 both
//   flags & 0x40  a "quick" server: timeouts of 20-60 ms instead of 100-1000
//   flags & 0x80  slow client: a 4 KiB receive buffer (the server's writes
//                 back up), 25 ms of quiet before the half-close, up to 5 ms
//                 between pieces (so that the quick server's timers fire)
//
// Invariants (a failure aborts, which libFuzzer reports with the input):
//  - every answer starts with "HTTP/1.1 ddd " and parses as a response;
//  - the answers are those the requests call for, in order: the same
//    request_parser, on the whole input, tells which requests are complete
//    and what the parse error is; the router tells the status of each (404,
//    405, 400 or the route's own), and hello, echo and big their bodies. So
//    no 5xx but the crash route's 500 and the parser's 501/505; no request
//    left unanswered except past the crash budget; only a stream may end
//    cut short. A timeout depends on timing, not on the bytes: when the
//    server counted one during the input, a 408 may end the answers, and
//    they may stop early;
//  - the connection ends: EOF within the hard cap (2 s, LIBACTOR_FUZZ_HANG_MS),
//    then the server's sessions and open connections go back to zero;
//  - afterwards a new connection still gets `GET /hello` -> 200 "hello\n",
//    and the supervision tree is up.
// LIBACTOR_FUZZ_VERBOSE=1 prints each input's answers, LIBACTOR_FUZZ_LOG=error
// the crash reports, LIBACTOR_FUZZ_STRICT=0 tolerates a reset after a
// closing answer (see check_answers).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "libactor/http/request_parser.hpp"
#include "libactor/http/server.hpp"
#include "libactor/log.hpp"
#include "libactor/node.hpp"
#include "libactor/registry.hpp"
#include "support/http_fixture.hpp"

namespace http = libactor::http;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

enum : std::uint8_t {
  half_close_at_once = 0x01,
  no_read = 0x02,
  in_pieces = 0x04,
  use_tight = 0x08,
  broadcast_mask = 0x30,
  use_quick = 0x40,
  slow_client = 0x80,
};

std::string printable(std::string_view bytes, std::size_t max = 2000) {
  std::string out;
  for (unsigned char c : bytes.substr(0, max)) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n\n";
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (bytes.size() > max)
    out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

/// What went wrong, the bytes sent and the bytes received; then abort(),
/// which libFuzzer turns into a crash report with the input saved.
[[noreturn]] void violation(const std::string& what, std::string_view sent = {},
                            std::string_view got = {}) {
  std::fprintf(stderr, "\n==== http_session_fuzzer: invariant failed: %s\n", what.c_str());
  if (!sent.empty())
    std::fprintf(stderr, "---- sent (%zu bytes):\n%s\n", sent.size(), printable(sent).c_str());
  if (!got.empty())
    std::fprintf(stderr, "---- received (%zu bytes):\n%s\n", got.size(), printable(got).c_str());
  std::fflush(stderr);
  std::abort();
}

// -- the servers -------------------------------------------------------------------

http::server_options roomy_options() {
  auto o = libactor::test::quick_server();
  // Short timeouts, so that every way a connection can end is quick; the
  // client's settle time (<= 100 ms) stays under the header timeout.
  o.header_timeout = milliseconds{300};
  o.body_timeout = milliseconds{300};
  o.idle_timeout = milliseconds{1000};
  o.closing_timeout = milliseconds{300};
  o.linger_timeout = milliseconds{100};
  o.drain_timeout = milliseconds{1000};
  o.max_pending_output = 4096;
  o.max_outbound = 64 * 1024;
  // A tree that gives up must be reported with the input, not end the
  // process with status 1 (permanent): temporary only stops serving, which
  // the GET /hello check then finds.
  o.tree_restart = libactor::restart_type::temporary;
  return o;
}

/// Small limits and buffers: every limit and the backpressure are near.
void make_tight(http::server_options& o) {
  o.limits.max_request_line = 200;
  o.limits.max_header_bytes = 512;
  o.limits.max_headers = 8;
  o.limits.max_body = 512;
  o.limits.max_chunk_header = 64;
  o.max_pending_output = 64;
  o.max_outbound = 512;
  o.slow_reader = http::slow_reader_policy::close;
}

/// Timeouts a slow client reaches (the wheel ticks every 10 ms at best).
void make_quick(http::server_options& o) {
  o.header_timeout = milliseconds{20};
  o.body_timeout = milliseconds{20};
  o.idle_timeout = milliseconds{60};
  o.closing_timeout = milliseconds{40};
  o.linger_timeout = milliseconds{20};
}

/// Server `i`: bit 0 tight, bit 1 quick.
http::server_options server_options(unsigned i) {
  auto o = roomy_options();
  if (i & 1)
    make_tight(o);
  if (i & 2)
    make_quick(o);
  return o;
}

/// The body of GET /big/<n>: n KiB (at most 256) of 'b'. A loopback socket
/// takes megabytes before a write would block, so it takes a few of these
/// to make the session queue its output, wait for `writable` and stop
/// reading (max_pending_output).
std::string big_body(std::string_view kib) {
  std::size_t n = 0;
  for (char c : kib.substr(0, 4))
    n = (c >= '0' && c <= '9') ? n * 10 + static_cast<std::size_t>(c - '0') : n;
  return std::string(std::min<std::size_t>(n, 256) * 1024, 'b');
}

/// The fixture's routes and GET /big/<n>.
http::http_router make_routes(libactor::registry& reg) {
  auto r = libactor::test::fixture_routes(reg);
  r.add("GET", "/big/:n",
        [](http::context& ctx) { ctx.reply(200, big_body(*ctx.req().param("n"))); });
  return r;
}

/// Quiet: the crash route and broken streams write crash reports
/// (LIBACTOR_FUZZ_LOG=error shows them).
libactor::node_config node_config() {
  auto cfg = libactor::test::small_node();
  cfg.log_level = libactor::log::level::none;
  if (const char* v = std::getenv("LIBACTOR_FUZZ_LOG"))
    if (auto lvl = libactor::log::parse_level(v))
      cfg.log_level = *lvl;
  return cfg;
}

enum class route { none, hello, echo, crash, stream, big, megabyte, brief };

/// The node and its servers, started once and never stopped (see end_now).
struct world {
  libactor::node n{node_config()};
  libactor::registry reg{libactor::test::replaying_registry()};
  /// A copy of the servers' router: the same matching tells what each
  /// request should get.
  http::http_router routes = make_routes(reg);
  struct instance {
    std::unique_ptr<http::server> srv;
    http::limits limits;
    /// Connections made to it so far (its listener must have accepted
    /// them all before it counts as idle).
    std::uint64_t dialled = 0;
  };
  instance servers[4];
  const http::handler* hello = nullptr;
  const http::handler* echo = nullptr;
  const http::handler* crash = nullptr;
  const http::handler* big = nullptr;
  /// The fixture's GET /big (1 MiB of 'x') and GET /brief/:id (a stream
  /// that ends at once): every route the servers have is one the oracle
  /// knows (an input found "GET /big?200" in the fixture's /big).
  const http::handler* megabyte = nullptr;
  const http::handler* brief = nullptr;
  std::vector<const http::handler*> streams;
  unsigned next_source = 0;

  world() {
    for (unsigned i = 0; i < 4; ++i) {
      auto opts = server_options(i);
      servers[i].limits = opts.limits;
      servers[i].srv = std::make_unique<http::server>(n, std::move(opts), make_routes(reg));
    }
    hello = routes.match("GET", "/hello").handler;
    echo = routes.match("POST", "/echo").handler;
    crash = routes.match("GET", "/crash").handler;
    big = routes.match("GET", "/big/1").handler;
    megabyte = routes.match("GET", "/big").handler;
    brief = routes.match("GET", "/brief/a").handler;
    for (auto p : {"/stream/a", "/events/a", "/beat/a", "/resume/a"})
      streams.push_back(routes.match("GET", p).handler);
    if (!hello || !echo || !crash || !big || !megabyte || !brief || streams.size() != 4)
      violation("the fixture's routes changed: update http_session_fuzzer.cpp");
  }

  route classify(const http::http_router::match_result& m) const {
    if (m.handler == hello)
      return route::hello;
    if (m.handler == echo)
      return route::echo;
    if (m.handler == crash)
      return route::crash;
    if (m.handler == big)
      return route::big;
    if (m.handler == megabyte)
      return route::megabyte;
    if (m.handler == brief)
      return route::brief;
    for (auto s : streams)
      if (m.handler == s)
        return route::stream;
    return route::none;
  }

};

world* the_world = nullptr;
milliseconds hang_cap{2000};
bool verbose = false;
/// LIBACTOR_FUZZ_STRICT=0 tolerates a reset after a closing answer (fixed
/// in the session; the switch helps while hunting for something else).
bool strict = true;

// -- the client ------------------------------------------------------------------

/// A non-blocking loopback connection. The source address rotates over
/// 127.0.0.2-254 so that a long run cannot run out of (address, port) pairs
/// while closed connections sit in TIME_WAIT. `small_window`: a receive
/// buffer of a few KiB, so that the server's writes back up (loopback
/// buffers otherwise take megabytes).
int dial(std::uint16_t port, bool small_window = false) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    violation(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (small_window) {
    int size = 4096; // before connect: the window scale is fixed then
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(0x7f000002u + (the_world->next_source++ % 253));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
    violation(std::string("bind: ") + std::strerror(errno));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Non-blocking, so that a signal (libFuzzer's SIGALRM timer) cannot
  // leave the connect half done.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno != EINPROGRESS && errno != EINTR)
      violation(std::string("connect: ") + std::strerror(errno));
    const auto deadline = steady::now() + hang_cap;
    for (;;) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 100) > 0)
        break;
      if (steady::now() >= deadline)
        violation("hang: the server's listener does not complete a connect");
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      violation(std::string("connect: ") + std::strerror(err));
  }
  return fd;
}

struct reader {
  explicit reader(int socket) : fd(socket) {
  }
  int fd;
  std::string got;
  bool eof = false;
  bool reset = false;

  /// Waits up to `wait` for bytes and reads all there are. True if some came.
  bool pump(milliseconds wait, short extra = 0, short* revents = nullptr) {
    pollfd p{fd, static_cast<short>((eof ? 0 : POLLIN) | extra), 0};
    if (p.events == 0)
      return false;
    int r = ::poll(&p, 1, static_cast<int>(wait.count()));
    if (revents)
      *revents = r > 0 ? p.revents : 0;
    if (r <= 0 || eof)
      return false;
    bool some = false;
    char buf[16384];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        if (got.size() < (64u << 20))
          got.append(buf, static_cast<std::size_t>(n));
        some = true;
        continue;
      }
      if (n == 0) {
        eof = true;
      } else if (errno == ECONNRESET) {
        eof = reset = true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        violation(std::string("recv: ") + std::strerror(errno));
      }
      return some;
    }
  }
};

milliseconds left(steady::time_point deadline) {
  return std::max(milliseconds{0},
                  std::chrono::duration_cast<milliseconds>(deadline - steady::now()));
}

/// Sends all of `bytes` (reading answers meanwhile unless `quiet`). False if
/// the server closed or reset the connection first.
bool send_all(reader& rd, std::string_view bytes, bool quiet, steady::time_point deadline) {
  while (!bytes.empty()) {
    auto n = ::send(rd.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET)
      return false;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      violation(std::string("send: ") + std::strerror(errno));
    if (steady::now() >= deadline)
      violation("hang: the server takes no more bytes and the hard cap passed");
    if (quiet) {
      pollfd p{rd.fd, POLLOUT, 0};
      ::poll(&p, 1, 10);
    } else {
      rd.pump(milliseconds{10}, POLLOUT);
    }
  }
  return true;
}

/// Reads until the server closes; a hang past `deadline` is a finding.
void read_to_end(reader& rd, steady::time_point deadline, std::string_view sent,
                 const char* what) {
  while (!rd.eof) {
    if (steady::now() >= deadline)
      violation(std::string("hang: ") + what + ": the server did not close the connection within " +
                  std::to_string(hang_cap.count()) + " ms",
                sent, rd.got);
    rd.pump(std::min(left(deadline), milliseconds{50}) + milliseconds{1});
  }
}

/// Waits until `srv` accepted all `dialled` connections and ended them.
void wait_idle(const http::server& srv, std::uint64_t dialled, steady::time_point deadline,
               std::string_view sent, std::string_view got) {
  for (;;) {
    auto s = srv.stats();
    if (s.listener.accepted >= dialled && s.listener.active == 0 && s.sessions == 0)
      return;
    if (steady::now() >= deadline)
      violation("hang: the server still holds " + std::to_string(s.sessions) + " session(s), " +
                  std::to_string(s.listener.active) + " open connection(s), accepted " +
                  std::to_string(s.listener.accepted) + " of " + std::to_string(dialled),
                sent, got);
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  }
}

// -- what the server must answer ---------------------------------------------------

struct expected {
  unsigned status = 0;
  bool head = false;
  bool stream = false;    ///< Opens a stream: the last answer, may end truncated.
  bool crash = false;     ///< The crash route: 500, counts against the crash budget.
  bool last = false;      ///< The connection closes after it (or a stream takes it).
  bool more_sent = false; ///< The client sent bytes after this request.
  std::optional<std::string> body;
};

struct prediction {
  std::vector<expected> answers;
  unsigned error = 0; ///< The parse error that follows them, if any.
};

/// Parses `input` whole with the parser the session uses (the request fuzzer
/// checks that the split points of the reads change nothing but, at the very
/// end, an error vs. an input that ran out) and routes every request.
prediction predict(std::string_view input, const http::limits& lim) {
  using state = http::request_parser::result::state;
  prediction out;
  while (!input.empty()) {
    http::request_parser parser{lim};
    http::request_parser::result r;
    do {
      r = parser.feed(input);
      input.remove_prefix(r.consumed);
    } while (r.st == state::expect_continue);
    if (r.st == state::need_more)
      return out; // never completes: the half-close ends it, unanswered
    if (r.st == state::error) {
      out.error = r.status;
      return out;
    }
    auto req = parser.take();
    auto info = http::info_of(req);
    auto m = the_world->routes.match(req.method(), req.path());
    expected e;
    e.head = info.head;
    bool keep_alive = info.keep_alive;
    if (!m.found()) {
      e.status = m.status;
      if (m.status == 400)
        keep_alive = false;
    } else {
      switch (the_world->classify(m)) {
        case route::hello:
          e.status = 200;
          e.body = "hello\n";
          break;
        case route::echo:
          e.status = 200;
          e.body = req.body();
          break;
        case route::crash:
          e.status = 500;
          e.crash = true;
          break;
        case route::big:
          e.status = 200;
          m.apply(req);
          e.body = big_body(*req.param("n"));
          break;
        case route::stream:
          e.status = 200;
          e.stream = !info.head; // HEAD opens no stream
          break;
        case route::megabyte:
          e.status = 200;
          e.body = std::string(1 << 20, 'x');
          break;
        case route::brief:
          e.status = 200; // a whole chunked answer; the connection goes on
          break;
        case route::none:
          violation("a route the fuzzer does not know");
      }
    }
    e.last = !keep_alive || e.stream;
    e.more_sent = !input.empty();
    out.answers.push_back(std::move(e));
    if (!keep_alive || out.answers.back().stream)
      return out;
  }
  return out;
}

/// Checks the answers `got` against `want`. `timed_out`: the server counted
/// a timeout while it served this input.
void check_answers(const prediction& want, bool pieces, bool timed_out, std::string_view sent,
                   const reader& rd) {
  namespace bhttp = boost::beast::http;
  std::string_view got = rd.got;
  std::size_t pos = 0, idx = 0;
  int crashes = 0;
  bool ended_early = false; // a 408 or a truncated stream: nothing may follow
  while (pos < got.size()) {
    const auto rest = got.substr(pos);
    if (ended_early)
      violation("bytes after the last possible answer (after answer " + std::to_string(idx) + ")",
                sent, got);
    // "HTTP/1.1 ddd " (a reason phrase may be empty, the space is not).
    static constexpr std::string_view prefix = "HTTP/1.1 ";
    const bool prefix_ok = rest.substr(0, prefix.size()) == prefix.substr(0, rest.size());
    if (!prefix_ok || rest.size() < 13 || !std::isdigit(static_cast<unsigned char>(rest[9])) ||
        !std::isdigit(static_cast<unsigned char>(rest[10])) ||
        !std::isdigit(static_cast<unsigned char>(rest[11])) || rest[12] != ' ')
      violation("answer " + std::to_string(idx) + " does not start with \"HTTP/1.1 ddd \"", sent,
                got);
    const unsigned status = static_cast<unsigned>((rest[9] - '0') * 100 + (rest[10] - '0') * 10 +
                                                  (rest[11] - '0'));
    const expected* e = idx < want.answers.size() ? &want.answers[idx] : nullptr;

    bhttp::response_parser<bhttp::string_body> p;
    p.eager(true);
    p.body_limit(boost::none);
    p.header_limit(64 * 1024);
    p.skip(e && e->head);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (!p.is_done() && used < rest.size()) {
      auto n = p.put(boost::asio::buffer(rest.data() + used, rest.size() - used), ec);
      used += n;
      if (ec == bhttp::error::need_more) {
        ec = {};
        break;
      }
      if (ec)
        violation("answer " + std::to_string(idx) + " does not parse: " + ec.message(), sent,
                  got);
      if (n == 0)
        break;
    }
    bool truncated = false;
    if (!p.is_done()) {
      // The bytes ran out inside this answer (Beast leaves a chunk's CRLF
      // unconsumed until it sees the next chunk's size). A body that ends
      // with the connection (an HTTP/1.0 stream) ends here.
      if (used == rest.size())
        p.put_eof(ec);
      truncated = used != rest.size() || ec || !p.is_done();
      ec = {};
      used = rest.size();
    }
    pos += used;
    if (status == 100) {
      if (truncated)
        violation("a truncated 100 Continue", sent, got);
      continue; // an interim answer to an Expect: 100-continue
    }
    if (status < 200)
      violation("an interim answer other than 100", sent, got);
    if (status == 408) {
      // A request that came too slowly, at any point of the input: the last
      // answer. The server counts every 408 as a timeout.
      if (!timed_out)
        violation("a 408 but the server counted no timeout", sent, got);
      if (truncated)
        violation("the 408 ends before its end", sent, got);
      ended_early = true;
      ++idx;
      continue;
    }

    if (e) {
      if (e->crash)
        ++crashes;
      if (status != e->status) {
        violation("answer " + std::to_string(idx) + " is " + std::to_string(status) +
                    ", the request calls for " + std::to_string(e->status) +
                    (status >= 500 ? " (a 5xx that is not the crash route's 500)" : ""),
                  sent, got);
      } else if (e->body && !e->head && !truncated && p.get().body() != *e->body) {
        violation("answer " + std::to_string(idx) + " has the wrong body", sent, got);
      }
      // The session lingers after every closing answer that has input behind it
      // (RFC 9112 9.6), so a reset that truncates a closing answer is a bug.
      // LIBACTOR_FUZZ_STRICT=0 tolerates it (to look for other findings
      // while one is being fixed).
      const bool reset_after_close = !strict && truncated && rd.reset &&
                                     want.answers.back().last && want.answers.back().more_sent;
      if (truncated && !e->stream && !timed_out && !reset_after_close)
        violation("answer " + std::to_string(idx) + " (" + std::to_string(status) +
                    ", not a stream) ends before its end",
                  sent, got);
      if (truncated)
        ended_early = true;
    } else if (idx == want.answers.size() && want.error != 0) {
      // Sent in one write, the server parses the same bytes as predict()
      // and must give the same status. Sent in pieces, the first check to
      // fail may differ: request_parser answers whichever of its checks
      // fails first on the bytes received so far, e.g. 400 "bad method"
      // from Beast on a partial line that, whole, would get 414 (too long),
      // or 400 for "GET /a /b HTTP/1.1" cut after "/b" and 505 whole (it
      // reads the version from the line's last word). Any of its statuses
      // is a correct answer then.
      const bool parser_status = status == 400 || status == 413 || status == 414 ||
                                 status == 431 || status == 501 || status == 505;
      if (status != want.error && !(pieces && parser_status))
        violation("the error answer is " + std::to_string(status) + ", the parser says " +
                    std::to_string(want.error),
                  sent, got);
      if (truncated)
        violation("the error answer ends before its end", sent, got);
      ended_early = true;
    } else {
      violation("more answers than requests (" + std::to_string(want.answers.size()) +
                  (want.error ? " and an error" : "") + ")",
                sent, got);
    }
    ++idx;
  }
  if (idx >= want.answers.size() || ended_early || timed_out)
    return; // the error answer may be missing: the server's reads may
            // have cut the input where the parser found it incomplete
  // A session past its crash budget (3 crashes) is closed. The crash that
  // spends it is answered 500 with `Connection: close` when its answer had
  // not started (then what follows it goes unanswered), or not at all.
  if (crashes > 3)
    return;
  const auto& next = want.answers[idx];
  if (next.crash && crashes >= 3)
    return;
  violation("request " + std::to_string(idx) + " of " + std::to_string(want.answers.size()) +
              " got no answer (" + (rd.reset ? "reset" : "closed") + ")",
            sent, got);
}

void hello_check(http::server& srv, std::uint64_t& dialled, std::string_view sent) {
  const auto deadline = steady::now() + hang_cap;
  reader rd{dial(srv.port())};
  ++dialled;
  static constexpr std::string_view req = "GET /hello HTTP/1.1\r\nHost: fuzz\r\n\r\n";
  if (!send_all(rd, req, false, deadline))
    violation("after the input, the server refuses a new connection", sent, rd.got);
  ::shutdown(rd.fd, SHUT_WR);
  read_to_end(rd, deadline, sent, "GET /hello after the input");
  ::close(rd.fd);
  const std::string_view got = rd.got;
  if (got.substr(0, 13) != "HTTP/1.1 200 " || got.size() < 10 ||
      got.substr(got.size() - 10) != "\r\n\r\nhello\n")
    violation("after the input, GET /hello does not get 200 hello", sent, got);
  wait_idle(srv, dialled, deadline, sent, got);
  if (srv.stats().tree_down)
    violation("the server's supervision tree gave up", sent);
}

/// libFuzzer ends a run with exit(). Stopping the node from an exit
/// handler would race the destruction of CAF's statics (the actor system's
/// destructor then touches freed globals), and leaving it running lets the
/// I/O threads touch them while they go. So the process ends here, with the
/// status exit() was given, once stdio is flushed; the kernel closes the
/// sockets. (on_exit, not atexit: it is told the status.)
void end_now(int status, void*) {
  std::fflush(nullptr);
  ::_exit(status);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* v = std::getenv("LIBACTOR_FUZZ_HANG_MS"))
    hang_cap = milliseconds{std::max(100L, std::strtol(v, nullptr, 10))};
  verbose = std::getenv("LIBACTOR_FUZZ_VERBOSE") != nullptr;
  if (const char* v = std::getenv("LIBACTOR_FUZZ_STRICT"))
    strict = *v != '\0' && *v != '0';
  the_world = new world;
  // Registered after the node started: exit handlers run in reverse order,
  // so this one runs before any static the node uses is destroyed.
  ::on_exit(end_now, nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2)
    return 0;
  auto& w = *the_world;
  const std::uint8_t flags = data[0];
  std::uint32_t seed = data[1];
  const std::string_view sent{reinterpret_cast<const char*>(data) + 2, size - 2};
  auto& inst = w.servers[((flags & use_tight) ? 1 : 0) | ((flags & use_quick) ? 2 : 0)];
  auto& srv = *inst.srv;
  const bool reading = !(flags & no_read);
  const bool slow = flags & slow_client;
  const auto timeouts_before = srv.stats().timeouts;
  const auto deadline = steady::now() + hang_cap;

  reader rd{dial(srv.port(), slow)};
  ++inst.dialled;

  // Send, whole or in pieces of 1-64 bytes.
  bool all_sent = true;
  if (flags & in_pieces) {
    std::string_view rest = sent;
    for (int piece = 0; !rest.empty() && all_sent; ++piece) {
      seed = seed * 1664525u + 1013904223u;
      // At most 16 pieces (each may wait): the last takes the rest.
      const std::size_t n =
        piece == 15 ? rest.size() : std::min<std::size_t>(rest.size(), 1 + (seed >> 16) % 64);
      all_sent = send_all(rd, rest.substr(0, n), !reading, deadline);
      rest.remove_prefix(n);
      if (reading) {
        rd.pump(milliseconds{slow ? 1 + (seed >> 8) % 5 : 1});
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds{200});
      }
    }
  } else {
    all_sent = send_all(rd, sent, !reading, deadline);
  }

  switch ((flags & broadcast_mask) >> 4) {
    case 1: w.reg.broadcast("m"); break;
    case 2: w.reg.broadcast("crash"); break;
    case 3:
      w.reg.broadcast("m");
      w.reg.broadcast("crash");
      break;
    default: break;
  }

  if (!reading) {
    if (flags & half_close_at_once)
      ::shutdown(rd.fd, SHUT_WR);
    // Give the server a moment to start answering, then leave it: a close
    // with its answers unread resets the connection.
    pollfd p{rd.fd, POLLIN, 0};
    ::poll(&p, 1, slow ? 25 : 2);
    ::close(rd.fd);
    wait_idle(srv, inst.dialled, deadline, sent, {});
    hello_check(srv, inst.dialled, sent);
    return 0;
  }

  if (!(flags & half_close_at_once) && all_sent) {
    // Let the answers settle (5 ms without a byte, 25 ms for a slow
    // client; 100 ms at most: a stream may keep writing), then half-close.
    const auto quiet = milliseconds{slow ? 25 : 5};
    const auto settle_end = steady::now() + milliseconds{100};
    while (!rd.eof && steady::now() < settle_end && rd.pump(quiet)) {
    }
  }
  ::shutdown(rd.fd, SHUT_WR);
  read_to_end(rd, deadline, sent, "the input's connection");
  ::close(rd.fd);
  wait_idle(srv, inst.dialled, deadline, sent, rd.got);

  const auto want = predict(sent, inst.limits);
  const bool timed_out = srv.stats().timeouts != timeouts_before;
  if (verbose)
    std::fprintf(stderr, "---- %zu answers expected%s, %s%s; received:\n%s\n",
                 want.answers.size(),
                 want.error ? (" then " + std::to_string(want.error)).c_str() : "",
                 rd.reset ? "reset" : "closed", timed_out ? ", timed out" : "",
                 printable(rd.got).c_str());
  check_answers(want, flags & in_pieces, timed_out, sent, rd);
  hello_check(srv, inst.dialled, sent);
  return 0;
}
