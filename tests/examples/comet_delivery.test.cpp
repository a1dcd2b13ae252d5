// examples/comet's delivery contract, end to end against the real binary:
// message ids `<epoch>-<seq>`, exact Last-Event-ID replay, and a reset event
// (with the number lost, when it is known) wherever the server cannot
// replay: a restart, an expired user, a window exceeded, an unreadable id, a
// slow consumer closed or dropped, a crashed session. Every test accounts
// for every message it sends: received, replayed, or counted by a reset.
#ifdef LIBACTOR_COMET

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "support/comet_process.hpp"
#include "support/event_log.hpp"
#include "support/sse_reader.hpp"

using namespace libactor::test;
using namespace std::chrono_literals;

namespace {

/// A message id of one node: `<epoch>-<seq>`, epoch 16 lowercase hex digits.
struct message_id {
  std::string epoch;
  std::uint64_t seq = 0;
};

std::optional<message_id> parse_id(const std::string& text) {
  auto dash = text.find('-');
  if (dash != 16 || dash + 1 == text.size())
    return std::nullopt;
  message_id id{text.substr(0, 16), 0};
  for (char c : id.epoch)
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c)))
      return std::nullopt;
  auto seq = text.substr(dash + 1);
  if (seq.size() > 19 || seq.front() == '0')
    return std::nullopt;
  for (char c : seq)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
  id.seq = std::stoull(seq);
  return id;
}

/// The data of an `event: reset`: `{"reason": "<r>", "lost": <N or null>}`.
struct reset_info {
  std::string reason;
  std::optional<long long> lost;
};

std::optional<reset_info> parse_reset(const std::string& data) {
  auto r = data.find("\"reason\"");
  auto l = data.find("\"lost\"");
  if (r == std::string::npos || l == std::string::npos)
    return std::nullopt;
  auto open = data.find('"', data.find(':', r) + 1);
  auto close = data.find('"', open + 1);
  if (open == std::string::npos || close == std::string::npos)
    return std::nullopt;
  reset_info out{data.substr(open + 1, close - open - 1), std::nullopt};
  auto v = data.find_first_not_of(' ', data.find(':', l) + 1);
  if (v == std::string::npos)
    return std::nullopt;
  if (data.compare(v, 4, "null") == 0)
    return out;
  if (!std::isdigit(static_cast<unsigned char>(data[v])))
    return std::nullopt;
  out.lost = std::stoll(data.substr(v));
  return out;
}

/// What a first event should be: a reset for `reason` with `lost`.
void check_reset(const std::optional<sse_event>& ev, const std::string& reason, std::optional<long long> lost) {
  INFO("the first event after the reconnect (none: nothing came before the deadline)");
  REQUIRE(ev);
  INFO("first event: event=" << ev->event << " id=" << ev->id << " data=" << ev->data);
  REQUIRE(ev->event == "reset");
  auto r = parse_reset(ev->data);
  REQUIRE(r);
  CHECK(r->reason == reason);
  CHECK(r->lost == lost);
}

/// A header field's value (names compare case-insensitively), or nullopt.
std::optional<std::string> header_value(const std::string& head, const std::string& name) {
  auto lower = [](std::string s) {
    for (auto& c : s)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  auto lhead = lower(head);
  auto at = lhead.find("\r\n" + lower(name) + ":");
  if (at == std::string::npos)
    return std::nullopt;
  auto start = head.find_first_not_of(' ', at + name.size() + 3);
  return head.substr(start, head.find("\r\n", start) - start);
}

/// One keep-alive connection that publishes; pipelined for the floods.
class publisher {
public:
  explicit publisher(std::uint16_t port) : c_(port) {}

  http_reply post(const std::string& path, const std::string& body) {
    write(path, body);
    auto r = c_.read_reply();
    REQUIRE(r);
    return *r;
  }

  /// The message ids (X-Message-Id) of the sends, in order; "" where none.
  std::vector<std::string> send_all(const std::string& user, const std::vector<std::string>& bodies) {
    std::vector<std::string> ids;
    constexpr std::size_t batch = 50;
    for (std::size_t i = 0; i < bodies.size(); i += batch) {
      auto end = std::min(bodies.size(), i + batch);
      for (auto j = i; j < end; ++j)
        write("/send/" + user, bodies[j]);
      for (auto j = i; j < end; ++j) {
        auto r = c_.read_reply();
        REQUIRE(r);
        REQUIRE(r->status == 200);
        ids.push_back(header_value(r->head, "X-Message-Id").value_or(""));
      }
    }
    return ids;
  }

private:
  void write(const std::string& path, const std::string& body) {
    c_.send("POST " + path + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size())
            + "\r\n\r\n" + body);
  }

  test_client c_;
};

/// The X-Message-Id of a send (empty if it has none).
std::string message_id_of(const http_reply& r) {
  return header_value(r.head, "X-Message-Id").value_or("");
}

/// Waits until the server has seen every stream close (a send from then on
/// finds no stream and is kept for the user).
void wait_no_streams(std::uint16_t port) {
  REQUIRE(eventually([&] { return metric(request(port, "GET", "/metrics").body, "comet_streams") == "0"; }));
}

/// The message of index `i` in a flood: 1 KiB, its index first.
std::string kib_message(int i) {
  auto s = "m" + std::to_string(i) + " ";
  s.resize(1024, '.');
  return s;
}

/// Checks that `ids` are one epoch's contiguous seqs.
void check_contiguous(const std::vector<std::string>& ids) {
  std::optional<message_id> prev;
  for (const auto& text : ids) {
    auto id = parse_id(text);
    INFO("message id '" << text << "' after '" << (prev ? prev->epoch + "-" + std::to_string(prev->seq) : "")
                        << "'");
    REQUIRE(id);
    if (prev) {
      REQUIRE(id->epoch == prev->epoch);
      REQUIRE(id->seq == prev->seq + 1);
    }
    prev = id;
  }
}

/// Checks a stream's events against `sent` messages sent in order (from a
/// fresh user: seq 1 first): each message either arrived or was counted by
/// a reset (of `reason`, unless it is empty) before the next one that
/// arrived, and seq gaps match those counts exactly. Returns how many the
/// resets counted.
long long account(const std::vector<sse_event>& events, const std::vector<std::string>& sent,
                  const std::string& reason) {
  long long lost = 0;
  long long pending = 0; // counted by resets since the last message
  std::uint64_t prev_seq = 0;
  std::size_t next = 0; // index in `sent` of the next message expected
  std::string epoch;
  for (const auto& ev : events) {
    INFO("event=" << ev.event << " id=" << ev.id << " data=" << ev.data.substr(0, 40));
    if (ev.event == "reset") {
      auto r = parse_reset(ev.data);
      REQUIRE(r);
      if (!reason.empty())
        CHECK(r->reason == reason);
      REQUIRE(r->lost);
      pending += *r->lost;
      lost += *r->lost;
      continue;
    }
    REQUIRE(ev.is_message());
    auto id = parse_id(ev.id);
    REQUIRE(id);
    if (epoch.empty())
      epoch = id->epoch;
    REQUIRE(id->epoch == epoch);
    // The seqs skipped are exactly those the resets counted.
    REQUIRE(id->seq - prev_seq - 1 == static_cast<std::uint64_t>(pending));
    next += static_cast<std::size_t>(pending);
    REQUIRE(next < sent.size());
    REQUIRE(ev.data == sent[next]);
    ++next;
    prev_seq = id->seq;
    pending = 0;
  }
  return lost;
}

} // namespace

TEST_CASE("comet delivery: after a server restart a reconnect gets a history_reset, then the new "
          "messages",
          "[comet][delivery]") {
  std::uint16_t port = 0;
  std::string last;
  {
    comet_process first;
    port = first.port;
    sse_reader s{port, "u1"};
    REQUIRE_FALSE(s.head().empty());
    for (int i = 0; i < 3; ++i)
      request(port, "POST", "/send/u1", "before" + std::to_string(i));
    for (int i = 0; i < 3; ++i) {
      auto ev = s.next();
      REQUIRE(ev);
      CHECK(ev->data == "before" + std::to_string(i));
      last = ev->id;
    }
    first.proc.terminate();
    REQUIRE(first.proc.wait_exit());
  }
  comet_process second{{"--port", std::to_string(port)}};
  REQUIRE(second.port == port);
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i)
    ids.push_back(message_id_of(request(port, "POST", "/send/u1", "after" + std::to_string(i))));
  sse_reader again{port, "u1", last};
  check_reset(again.next(), "history_reset", std::nullopt);
  for (int i = 0; i < 2; ++i) {
    auto ev = again.next();
    REQUIRE(ev);
    CHECK(ev->is_message());
    CHECK(ev->data == "after" + std::to_string(i));
    CHECK(ev->id == ids[static_cast<std::size_t>(i)]);
  }
  // A new history: its seqs start at 1 again, under another epoch.
  auto old_id = parse_id(last);
  auto new_id = parse_id(ids.front());
  REQUIRE(old_id);
  REQUIRE(new_id);
  CHECK(new_id->epoch != old_id->epoch);
  CHECK(new_id->seq == 1);
}

TEST_CASE("comet delivery: a user away longer than --keep gets a history_reset on reconnect",
          "[comet][delivery]") {
  comet_process srv{{"--keep", "1s"}};
  std::string last;
  {
    sse_reader s{srv.port, "u2"};
    REQUIRE_FALSE(s.head().empty());
    for (int i = 0; i < 3; ++i)
      request(srv.port, "POST", "/send/u2", "m" + std::to_string(i));
    for (int i = 0; i < 3; ++i) {
      auto ev = s.next();
      REQUIRE(ev);
      last = ev->id;
    }
  }
  wait_no_streams(srv.port);
  // Being away longer than --keep is the point: a wait by nature.
  std::this_thread::sleep_for(2500ms);
  sse_reader again{srv.port, "u2", last};
  REQUIRE_FALSE(again.head().empty());
  auto id = message_id_of(request(srv.port, "POST", "/send/u2", "back"));
  check_reset(again.next(), "history_reset", std::nullopt);
  auto ev = again.next();
  REQUIRE(ev);
  CHECK(ev->data == "back");
  CHECK(ev->id == id);
  auto before = parse_id(last);
  auto now = parse_id(id);
  REQUIRE(before);
  REQUIRE(now);
  CHECK(now->epoch != before->epoch);
  CHECK(now->seq == 1);
}

TEST_CASE("comet delivery: a reconnect with Last-Event-ID replays exactly what was missed, once, in "
          "order, under the ids the sends answered",
          "[comet][delivery]") {
  comet_process srv;
  publisher pub{srv.port};
  std::vector<std::string> sent_ids;
  std::vector<std::string> read_ids;
  {
    sse_reader s{srv.port, "u3"};
    REQUIRE_FALSE(s.head().empty());
    for (int i = 0; i < 3; ++i) {
      auto r = pub.post("/send/u3", "m" + std::to_string(i));
      CHECK(r.body == "1\n");
      sent_ids.push_back(message_id_of(r));
    }
    for (int i = 0; i < 3; ++i) {
      auto ev = s.next();
      REQUIRE(ev);
      CHECK(ev->is_message());
      CHECK(ev->data == "m" + std::to_string(i));
      read_ids.push_back(ev->id);
    }
  }
  CHECK(read_ids == sent_ids);
  check_contiguous(read_ids);
  wait_no_streams(srv.port);
  for (int i = 3; i < 8; ++i) {
    auto r = pub.post("/send/u3", "m" + std::to_string(i));
    CHECK(r.body == "0\n");
    sent_ids.push_back(message_id_of(r));
  }
  sse_reader again{srv.port, "u3", read_ids.back()};
  for (int i = 3; i < 8; ++i) {
    auto ev = again.next();
    REQUIRE(ev);
    INFO("event=" << ev->event << " data=" << ev->data);
    REQUIRE(ev->is_message());
    CHECK(ev->data == "m" + std::to_string(i));
    CHECK(ev->id == sent_ids[static_cast<std::size_t>(i)]);
    read_ids.push_back(ev->id);
  }
  // A broadcast answers its count only, and takes the user's next seq.
  CHECK(pub.post("/broadcast", "all").body == "1\n");
  auto ev = again.next();
  REQUIRE(ev);
  CHECK(ev->data == "all");
  read_ids.push_back(ev->id);
  check_contiguous(read_ids);
  // Nothing twice.
  CHECK_FALSE(again.next(100ms));
}

TEST_CASE("comet delivery: a reconnect beyond --replay gets window_exceeded with the exact number "
          "lost, then what was kept",
          "[comet][delivery]") {
  comet_process srv{{"--replay", "4"}};
  publisher pub{srv.port};
  std::string last;
  {
    sse_reader s{srv.port, "u4"};
    REQUIRE_FALSE(s.head().empty());
    for (int i = 0; i < 2; ++i)
      pub.post("/send/u4", "m" + std::to_string(i));
    for (int i = 0; i < 2; ++i) {
      auto ev = s.next();
      REQUIRE(ev);
      last = ev->id;
    }
  }
  wait_no_streams(srv.port);
  std::vector<std::string> ids;
  for (int i = 2; i < 12; ++i)
    ids.push_back(message_id_of(pub.post("/send/u4", "m" + std::to_string(i))));
  sse_reader again{srv.port, "u4", last};
  check_reset(again.next(), "window_exceeded", 6);
  for (int i = 8; i < 12; ++i) {
    auto ev = again.next();
    REQUIRE(ev);
    REQUIRE(ev->is_message());
    CHECK(ev->data == "m" + std::to_string(i));
    CHECK(ev->id == ids[static_cast<std::size_t>(i - 2)]);
  }
  CHECK_FALSE(again.next(100ms));
}

TEST_CASE("comet delivery: an unreadable Last-Event-ID, or one beyond the newest, gets unknown_id "
          "first",
          "[comet][delivery]") {
  comet_process srv;
  publisher pub{srv.port};
  std::string first;
  {
    sse_reader s{srv.port, "u5"};
    REQUIRE_FALSE(s.head().empty());
    pub.post("/send/u5", "m0");
    auto ev = s.next();
    REQUIRE(ev);
    first = ev->id;
  }
  wait_no_streams(srv.port);
  auto parsed = parse_id(first);
  // The current epoch, a seq far beyond the newest.
  auto beyond = (parsed ? parsed->epoch : first) + "-999999";
  for (const auto& bad : {std::string{"garbage"}, beyond}) {
    INFO("Last-Event-ID: " << bad);
    sse_reader again{srv.port, "u5", bad};
    REQUIRE_FALSE(again.head().empty());
    auto after = "after " + bad;
    pub.post("/send/u5", after);
    check_reset(again.next(), "unknown_id", std::nullopt);
    // Then what the server holds for the user, up to the live message.
    for (int n = 0;; ++n) {
      REQUIRE(n < 5);
      auto ev = again.next();
      REQUIRE(ev);
      REQUIRE(ev->is_message());
      if (ev->data == after)
        break;
    }
  }
}

TEST_CASE("comet delivery: a stream that does not read through 8,000 messages of 1 KiB is closed, "
          "and its reconnect accounts for every message",
          "[comet][delivery]") {
  comet_process srv;
  constexpr int n = 8000;
  std::vector<std::string> sent;
  for (int i = 0; i < n; ++i)
    sent.push_back(kib_message(i));
  sse_reader slow{srv.port, "u6", std::nullopt, receive_buffer{4096}};
  REQUIRE_FALSE(slow.head().empty());
  publisher pub{srv.port};
  auto ids = pub.send_all("u6", sent);
  // Reading now: what was written before the close, then the end.
  std::vector<sse_event> got;
  while (auto ev = slow.next(3s))
    got.push_back(*ev);
  INFO("read " << got.size() << " events before the end");
  CHECK(slow.closed());
  REQUIRE_FALSE(got.empty());
  for (const auto& ev : got)
    CHECK(ev.event.empty()); // closed, never a reset on this side of the close
  auto gone = account(got, sent, "");
  CHECK(gone == 0);
  auto text = request(srv.port, "GET", "/metrics").body;
  auto closes = metric(text, "comet_stream_closes_total{cause=\"slow_consumer\"}");
  INFO("comet_stream_closes_total{cause=\"slow_consumer\"} = " << closes);
  REQUIRE(closes != "missing");
  CHECK(std::stod(closes) >= 1);
  // The reconnect: the rest exactly, or a reset counting what is gone.
  sse_reader again{srv.port, "u6", got.back().id};
  std::vector<sse_event> rest;
  while (auto ev = again.next(3s)) {
    rest.push_back(*ev);
    if (ev->data == sent.back())
      break;
  }
  REQUIRE_FALSE(rest.empty());
  long long lost = 0;
  std::size_t replayed = 0;
  for (const auto& ev : rest) {
    if (ev.event == "reset") {
      INFO("reset " << ev.data);
      auto r = parse_reset(ev.data);
      REQUIRE(r);
      CHECK(r->reason == "window_exceeded");
      REQUIRE(r->lost);
      lost += *r->lost;
    } else {
      ++replayed;
    }
  }
  INFO("received " << got.size() << ", lost " << lost << ", replayed " << replayed);
  CHECK(got.size() + static_cast<std::size_t>(lost) + replayed == static_cast<std::size_t>(n));
  CHECK(rest.back().data == sent.back());
  CHECK(rest.back().id == ids.back());
  // The replayed messages are the newest, in order.
  std::vector<std::string> replay_ids;
  for (const auto& ev : rest)
    if (ev.is_message())
      replay_ids.push_back(ev.id);
  check_contiguous(replay_ids);
}

TEST_CASE("comet delivery: with --slow-consumer drop a stream that does not read gets a "
          "slow_consumer reset counting exactly what was dropped",
          "[comet][delivery]") {
  comet_process srv{{"--slow-consumer", "drop"}};
  constexpr int n = 4000;
  std::vector<std::string> sent;
  for (int i = 0; i < n; ++i)
    sent.push_back(kib_message(i));
  sse_reader slow{srv.port, "u7", std::nullopt, receive_buffer{4096}};
  REQUIRE_FALSE(slow.head().empty());
  publisher pub{srv.port};
  pub.send_all("u7", sent);
  // Reading resumes: everything the server held comes (a second without a
  // byte: it has written all it had).
  std::vector<sse_event> got;
  while (auto ev = slow.next(1s))
    got.push_back(*ev);
  REQUIRE_FALSE(slow.closed());
  // Messages after the gap: the reset comes before the first that fits.
  for (int k = 0; k < 5; ++k) {
    auto msg = "after" + std::to_string(k);
    sent.push_back(msg);
    pub.post("/send/u7", msg);
    for (;;) {
      auto ev = slow.next();
      REQUIRE(ev);
      got.push_back(*ev);
      if (ev->data == msg)
        break;
    }
  }
  auto lost = account(got, sent, "slow_consumer");
  std::size_t received = 0;
  for (const auto& ev : got)
    received += ev.is_message() ? 1 : 0;
  INFO("received " << received << ", dropped " << lost);
  CHECK(lost > 0);
  CHECK(received + static_cast<std::size_t>(lost) == sent.size());
}

TEST_CASE("comet delivery: a body over --max-body gets 413, and --max-body above "
          "--max-stream-output is refused with exit status 2",
          "[comet][delivery]") {
  {
    comet_process srv;
    // The server may answer before it has read the body, and close: the
    // rest of the body may then fail to send, but the answer must come.
    test_client c{srv.port};
    c.send("POST /send/u8 HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(64 * 1024 + 1)
           + "\r\n\r\n");
    try {
      c.send(std::string(64 * 1024 + 1, 'x'));
    } catch (const std::runtime_error&) {
    }
    auto r = c.read_reply();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(request(srv.port, "POST", "/send/u8", std::string(64 * 1024, 'x')).status == 200);
  }
  {
    child_process p{comet_process::args({"--max-body", "2MiB"}), true};
    auto line = p.read_line();
    REQUIRE(line);
    CHECK(line->rfind("comet: ", 0) == 0);
    CHECK(p.wait_exit() == std::optional<int>{2});
    CHECK_FALSE(p.read_line(100ms)); // one line only
  }
  // The same --max-body is fine under a larger --max-stream-output.
  comet_process srv{{"--max-body", "2MiB", "--max-stream-output", "4MiB"}};
  CHECK(request(srv.port, "POST", "/send/u8", std::string(1024 * 1024, 'x')).status == 200);
}

TEST_CASE("comet delivery: a chunked stream with ?ids=1 carries message ids and resumes from "
          "last_event_id",
          "[comet][delivery]") {
  comet_process srv;
  publisher pub{srv.port};
  auto open = [&](test_client& c, const std::string& query) {
    c.send("GET /stream/u9?" + query + " HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(c.read_until("\r\n\r\n"));
    REQUIRE(c.read_chunk() == std::optional<std::string>{"welcome u9\n"});
  };
  std::vector<std::string> ids;
  std::string last;
  {
    test_client c{srv.port};
    open(c, "ids=1");
    for (int i = 0; i < 3; ++i)
      ids.push_back(message_id_of(pub.post("/send/u9", "m" + std::to_string(i))));
    for (int i = 0; i < 3; ++i) {
      auto chunk = c.read_chunk();
      REQUIRE(chunk);
      CHECK(*chunk == ids[static_cast<std::size_t>(i)] + " m" + std::to_string(i) + "\n");
      auto space = chunk->find(' ');
      last = space == std::string::npos ? "" : chunk->substr(0, space);
    }
  }
  CHECK(parse_id(last));
  wait_no_streams(srv.port);
  for (int i = 3; i < 5; ++i)
    ids.push_back(message_id_of(pub.post("/send/u9", "m" + std::to_string(i))));
  {
    test_client c{srv.port};
    open(c, "ids=1&last_event_id=" + last);
    for (int i = 3; i < 5; ++i)
      CHECK(c.read_chunk() == std::optional<std::string>{ids[static_cast<std::size_t>(i)] + " m"
                                                         + std::to_string(i) + "\n"});
    CHECK_FALSE(c.read_chunk(100ms));
  }
  test_client bad{srv.port};
  open(bad, "ids=1&last_event_id=garbage");
  CHECK(bad.read_chunk() == std::optional<std::string>{"reset unknown_id ?\n"});
}

TEST_CASE("comet delivery: a session crashed with messages queued gets all of them in order, or a "
          "reset counting the rest",
          "[comet][delivery]") {
  comet_process srv{{"--allow-crash"}};
  sse_reader s{srv.port, "u10"};
  REQUIRE_FALSE(s.head().empty());
  publisher pub{srv.port};
  CHECK(pub.post("/crash/u10", "").body == "1\n");
  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i)
    sent.push_back("c" + std::to_string(i));
  pub.send_all("u10", sent);
  std::vector<sse_event> got;
  while (auto ev = s.next(3s)) {
    got.push_back(*ev);
    if (ev->data == sent.back())
      break;
  }
  // Which reason a crash's reset gives is not the point: its count is.
  auto lost = account(got, sent, "");
  std::size_t received = 0;
  for (const auto& ev : got)
    received += ev.is_message() ? 1 : 0;
  CHECK(received + static_cast<std::size_t>(lost) == sent.size());
}

TEST_CASE("comet delivery: an SSE stream says X-Accel-Buffering: no and sends retry: before the "
          "first message",
          "[comet][delivery]") {
  comet_process srv;
  sse_reader s{srv.port, "u11"};
  REQUIRE_FALSE(s.head().empty());
  CHECK(header_value(s.head(), "X-Accel-Buffering") == std::optional<std::string>{"no"});
  request(srv.port, "POST", "/send/u11", "hello");
  auto ev = s.next();
  REQUIRE(ev);
  CHECK(ev->data == "hello");
  REQUIRE(s.retry());
  CHECK_FALSE(s.retry()->empty());
  CHECK(s.retry()->find_first_not_of("0123456789") == std::string::npos);
  CHECK(s.events_before_retry() == std::optional<std::size_t>{0});
}

#endif // LIBACTOR_COMET
