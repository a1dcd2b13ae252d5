// Three comet nodes behind one nats-server of the test's own (issue: several
// nodes over NATS): a user's streams on any node get what is posted on any
// other, broadcasts reach every stream once, order per user holds, an SSE
// reconnect to another node replays, and a NATS crash loses nothing
// silently.
#if defined(LIBACTOR_COMET) && defined(LIBACTOR_WITH_NATS)

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nats/nats.h>

#include "comet_background_metrics.hpp"
#include "internal/cluster/frame.hpp"
#include "support/comet_process.hpp"
#include "support/event_log.hpp"
#include "support/nats_server.hpp"

using namespace libactor::test;

namespace {

/// A comet node of the cluster.
comet_process comet_node(const nats_server& nats, const std::string& name) {
  return comet_process{{"--nats", nats.url(), "--node-name", name, "--nats-prefix", "t"}};
}

/// Waits until `node` has subscribed `n` user ids on NATS (a stream counts
/// for other nodes' sends only from then on).
bool subscribed(const comet_process& node, int n) {
  return eventually([&] {
    return metric(request(node.port, "GET", "/metrics").body, "comet_cluster_subscriptions")
           == std::to_string(n);
  });
}

double counter(const comet_process& node, const std::string& name) {
  auto v = metric(request(node.port, "GET", "/metrics").body, name);
  return v == "missing" ? -1 : std::stod(v);
}

/// The value of header `field` in a reply's head, empty if absent.
std::string header_of(const http_reply& r, const std::string& field) {
  auto at = r.head.find("\r\n" + field + ": ");
  if (at == std::string::npos)
    return {};
  at += field.size() + 4;
  return r.head.substr(at, r.head.find("\r\n", at) - at);
}

/// The payload of the newest message JetStream stores for `user` under
/// comet's prefix "t" (stream "t_routed"), or nothing: a reconnect replays
/// only what the stream has, and a node's publication reaches it a moment
/// after the node's reply.
std::optional<std::string> newest_stored(const nats_server& nats, const std::string& user) {
  natsConnection* nc = nullptr;
  if (natsConnection_ConnectTo(&nc, nats.url().c_str()) != NATS_OK)
    return std::nullopt;
  std::optional<std::string> out;
  jsCtx* js = nullptr;
  natsMsg* m = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (natsConnection_JetStream(&js, nc, nullptr) == NATS_OK
      && js_GetLastMsg(&m, js, "t_routed", ("t.key.s" + user).c_str(), nullptr, &jerr) == NATS_OK) {
    if (auto f = libactor::cluster::detail::decode_frame(natsMsg_GetData(m),
                                                         static_cast<std::size_t>(natsMsg_GetDataLength(m))))
      out = std::string{f->payload};
    natsMsg_Destroy(m);
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return out;
}

/// An SSE event's fields: "id", "event", "data" (one line each here).
std::string field_of(const std::string& event, const std::string& name) {
  auto at = event.rfind(name + ": ", 0) == 0 ? 0 : event.find("\n" + name + ": ");
  if (at == std::string::npos)
    return {};
  at += at == 0 ? name.size() + 2 : name.size() + 3;
  return event.substr(at, event.find('\n', at) - at);
}

} // namespace

TEST_CASE("comet cluster: a send on one node reaches the user's streams on two others, in order",
          "[examples][comet][cluster]") {
  nats_server nats;
  auto a = comet_node(nats, "a");
  auto b = comet_node(nats, "b");
  auto c = comet_node(nats, "c");
  stream on_b{b.port, "ann"};
  stream on_c{c.port, "ann"};
  stream other{c.port, "bob"};
  REQUIRE(subscribed(b, 1));
  REQUIRE(subscribed(c, 2));
  for (int i = 0; i < 100; ++i)
    request(a.port, "POST", "/send/ann", "m" + std::to_string(i));
  request(a.port, "POST", "/send/bob", "for bob");
  for (auto* s : {&on_b, &on_c})
    for (int i = 0; i < 100; ++i)
      REQUIRE(s->c.read_chunk() == std::optional<std::string>{"m" + std::to_string(i) + "\n"});
  CHECK(other.c.read_chunk() == std::optional<std::string>{"for bob\n"});
  CHECK_FALSE(on_b.c.read_chunk(std::chrono::milliseconds{50}));
  CHECK_FALSE(on_c.c.read_chunk(std::chrono::milliseconds{1}));
}

TEST_CASE("comet cluster: a broadcast reaches every node's streams exactly once",
          "[examples][comet][cluster]") {
  nats_server nats;
  auto a = comet_node(nats, "a");
  auto b = comet_node(nats, "b");
  auto c = comet_node(nats, "c");
  std::vector<std::unique_ptr<stream>> streams;
  for (int i = 0; i < 30; ++i) {
    auto& node = i % 3 == 0 ? a : i % 3 == 1 ? b : c;
    streams.push_back(std::make_unique<stream>(node.port, "u" + std::to_string(i)));
  }
  // Broadcasts travel on one subject every node subscribes at start.
  REQUIRE(eventually([&] { return counter(a, "comet_cluster_connected") == 1
                                  && counter(b, "comet_cluster_connected") == 1
                                  && counter(c, "comet_cluster_connected") == 1; }));
  CHECK(request(b.port, "POST", "/broadcast", "hello all").body == "10\n"); // b's own streams
  request(c.port, "POST", "/broadcast", "second");
  // Two senders on two nodes: each stream gets both, once; their order is
  // only defined per sender (c's own broadcast may overtake b's in flight).
  for (std::size_t i = 0; i < streams.size(); ++i) {
    INFO("stream " << i << " on node " << "abc"[i % 3]);
    auto first = streams[i]->c.read_chunk();
    auto second = streams[i]->c.read_chunk();
    REQUIRE(first);
    REQUIRE(second);
    std::set<std::string> got{*first, *second};
    CHECK(got == std::set<std::string>{"hello all\n", "second\n"});
  }
  for (auto& s : streams)
    CHECK_FALSE(s->c.read_chunk(std::chrono::milliseconds{20}));
}

TEST_CASE("comet cluster: an SSE client that reconnects to another node gets what it missed",
          "[examples][comet][cluster]") {
  nats_server nats;
  auto a = comet_node(nats, "a");
  auto b = comet_node(nats, "b");
  std::string last_id;
  {
    test_client c{a.port};
    c.send("GET /events/zoe HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(c.read_until("\r\n\r\n"));
    REQUIRE(subscribed(a, 1));
    // A subscription reaches nats-server one round trip after the node
    // makes it; a message published on b within that moment passes a by
    // (it is in JetStream: a reconnect would replay it). Send until one
    // arrives, then take the id of the last "one" the stream got.
    // The stream opens with its `retry:` advice, before any message.
    REQUIRE(c.read_chunk() == std::optional<std::string>{"retry: 2000\n\n"});
    // Then its starting position, an id with no data (no event).
    auto start = c.read_chunk();
    REQUIRE(start);
    REQUIRE(start->rfind("id: ", 0) == 0);
    REQUIRE(start->find("data:") == std::string::npos);
    std::optional<std::string> ev;
    for (int i = 0; i < 20 && !ev; ++i) {
      request(b.port, "POST", "/send/zoe", "one");
      ev = c.read_chunk(std::chrono::milliseconds{500});
    }
    REQUIRE(ev);
    while (auto more = c.read_chunk(std::chrono::milliseconds{200}))
      ev = more;
    REQUIRE(ev->rfind("id: ", 0) == 0);
    CHECK(ev->find("data: one\n") != std::string::npos);
    last_id = ev->substr(4, ev->find('\n') - 4);
  }
  REQUIRE(subscribed(a, 0)); // a has seen the close
  request(a.port, "POST", "/send/zoe", "two");
  request(b.port, "POST", "/send/zoe", "three");
  // The browser comes back through the load balancer, to the other node.
  // "two" left a's NATS client a moment ago and JetStream stores it a
  // moment later: a reconnect within that moment finds "three" only, so
  // reconnect (as EventSource does) until the replay has both.
  std::vector<std::string> got;
  REQUIRE(eventually([&] {
    {
      test_client again{b.port};
      again.send("GET /events/zoe HTTP/1.1\r\nHost: t\r\nLast-Event-ID: " + last_id + "\r\n\r\n");
      if (!again.read_until("\r\n\r\n"))
        return false;
      got.clear();
      while (auto ev = again.read_chunk(std::chrono::milliseconds{200}))
        if (ev->find("data:") != std::string::npos) // not retry: or a bare id:
          got.push_back(*ev);
    }
    // A node asks the store when the user's first stream there registers:
    // before trying again, let b see this one leave.
    return got.size() >= 2 || !subscribed(b, 0);
  }));
  REQUIRE(got.size() == 2); // "one" is not replayed again, and no reset
  // Two senders on two nodes: the replay follows the store's order, which
  // need not be the test's.
  std::set<std::string> data;
  for (auto& g : got)
    data.insert(g.substr(g.find("data: ")));
  CHECK(data == std::set<std::string>{"data: two\n\n", "data: three\n\n"});
}

TEST_CASE("comet cluster: two streams of a user get all of another node's sends and a broadcast made at "
          "once (8 runs)",
          "[comet][cluster][delivery]") {
  // The issue: streams discarded a message whose id was below one they had
  // delivered, and a broadcast numbered on b overtook a's sends (5 of 8
  // runs lost the last sends).
  nats_server nats;
  auto a = comet_node(nats, "a");
  auto b = comet_node(nats, "b");
  stream s1{b.port, "u1"};
  stream s2{b.port, "u1"};
  REQUIRE(subscribed(b, 1));
  REQUIRE(eventually([&] { return counter(a, "comet_cluster_connected") == 1
                                  && counter(b, "comet_cluster_connected") == 1; }));
  // A subscription reaches the server a round trip after b reports it.
  std::optional<std::string> first;
  for (int i = 0; i < 20 && !first; ++i) {
    request(a.port, "POST", "/send/u1", "probe");
    first = s1.c.read_chunk(std::chrono::milliseconds{500});
  }
  REQUIRE(first);
  for (auto* s : {&s1, &s2})
    while (auto more = s->c.read_chunk(std::chrono::milliseconds{300}))
      REQUIRE(*more == "probe\n");
  constexpr int sends = 20;
  for (int run = 0; run < 8; ++run) {
    INFO("run " << run);
    // No Catch assertion off the test's thread (Catch is not thread-safe,
    // as TSan reports): the sender counts what failed, checked after join.
    std::atomic<int> failed{0};
    std::thread sender{[&] {
      for (int i = 0; i < sends; ++i) {
        auto body = "r" + std::to_string(run) + "-m" + std::to_string(i);
        test_client c{a.port};
        c.send("POST /send/u1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: "
               + std::to_string(body.size()) + "\r\n\r\n" + body);
        auto r = c.read_reply();
        if (!r || r->status != 200)
          ++failed;
      }
    }};
    CHECK(request(b.port, "POST", "/broadcast", "r" + std::to_string(run) + "-all").body == "2\n");
    sender.join();
    REQUIRE(failed == 0);
    for (auto* s : {&s1, &s2}) {
      std::vector<std::string> from_a;
      int broadcasts = 0;
      for (int i = 0; i < sends + 1; ++i) {
        auto chunk = s->c.read_chunk();
        REQUIRE(chunk);
        if (*chunk == "r" + std::to_string(run) + "-all\n")
          ++broadcasts;
        else
          from_a.push_back(*chunk);
      }
      CHECK(broadcasts == 1);
      REQUIRE(from_a.size() == sends);
      for (int i = 0; i < sends; ++i)
        CHECK(from_a[i] == "r" + std::to_string(run) + "-m" + std::to_string(i) + "\n");
    }
  }
  CHECK_FALSE(s1.c.read_chunk(std::chrono::milliseconds{50}));
  CHECK_FALSE(s2.c.read_chunk(std::chrono::milliseconds{1}));
}

TEST_CASE("comet cluster: an SSE client back on a third node gets exactly what it missed, or a reset first",
          "[comet][cluster][delivery]") {
  nats_server nats;
  auto n1 = comet_node(nats, "n1");
  auto n2 = comet_node(nats, "n2");
  auto n3 = comet_node(nats, "n3");
  std::string last_id;
  std::vector<std::string> seen_ids;
  {
    test_client c{n1.port};
    c.send("GET /events/kay HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(c.read_until("\r\n\r\n"));
    REQUIRE(c.read_chunk() == std::optional<std::string>{"retry: 2000\n\n"});
    // Then its starting position, an id with no data (no event).
    auto start = c.read_chunk();
    REQUIRE(start);
    REQUIRE(start->rfind("id: ", 0) == 0);
    REQUIRE(start->find("data:") == std::string::npos);
    REQUIRE(subscribed(n1, 1));
    // As above: until n1's subscription has reached the server, what n2
    // publishes passes n1 by. Probe until one arrives, then read what
    // follows it.
    std::optional<std::string> ev;
    for (int i = 0; i < 20 && !ev; ++i) {
      request(n2.port, "POST", "/send/kay", "probe");
      ev = c.read_chunk(std::chrono::milliseconds{500});
    }
    REQUIRE(ev);
    while (auto more = c.read_chunk(std::chrono::milliseconds{200}))
      CHECK(field_of(*more, "data") == "probe");
    for (int i = 1; i <= 3; ++i) {
      auto r = request(n2.port, "POST", "/send/kay", "seen" + std::to_string(i));
      seen_ids.push_back(header_of(r, "X-Message-Id"));
      auto got = c.read_chunk();
      REQUIRE(got);
      CHECK(field_of(*got, "data") == "seen" + std::to_string(i));
      // The id the client sees is the one the entry node gave.
      CHECK(field_of(*got, "id") == seen_ids.back());
    }
    last_id = seen_ids.back();
  }
  REQUIRE(subscribed(n1, 0)); // n1 has seen the close
  std::vector<std::string> missed_ids;
  for (int i = 1; i <= 5; ++i) {
    auto r = request(n3.port, "POST", "/send/kay", "missed" + std::to_string(i));
    CHECK(r.body == "0\n"); // no stream anywhere now
    missed_ids.push_back(header_of(r, "X-Message-Id"));
  }
  // n3's ids continue no history of n2's: another epoch.
  CHECK(missed_ids[0].substr(0, 16) != last_id.substr(0, 16));
  REQUIRE(eventually([&] { return newest_stored(nats, "kay") == std::optional<std::string>{"missed5"}; }));

  // Back through the load balancer, to n2 (which numbered what the client
  // saw and holds it, as no stream of kay is there).
  auto reconnect = [&](const std::string& id) {
    std::vector<std::string> got;
    test_client again{n2.port};
    again.send("GET /events/kay HTTP/1.1\r\nHost: t\r\nLast-Event-ID: " + id + "\r\n\r\n");
    REQUIRE(again.read_until("\r\n\r\n"));
    while (auto ev = again.read_chunk(std::chrono::milliseconds{300}))
      if (ev->find("data:") != std::string::npos) // not retry: or a bare id:
        got.push_back(*ev);
    return got;
  };
  SECTION("an id the store has: exact replay, in order, no reset") {
    auto got = reconnect(last_id);
    REQUIRE(got.size() == 5);
    for (int i = 0; i < 5; ++i) {
      CHECK(field_of(got[i], "event").empty());
      CHECK(field_of(got[i], "data") == "missed" + std::to_string(i + 1));
      CHECK(field_of(got[i], "id") == missed_ids[i]);
    }
    CHECK(counter(n2, "comet_replay_resets_total") == 0);
  }
  SECTION("an id of a history nobody has: a reset first, then everything kept, nothing lost") {
    auto got = reconnect("00000000000abcde-7");
    REQUIRE_FALSE(got.empty());
    CHECK(field_of(got[0], "event") == "reset");
    CHECK(field_of(got[0], "data").find("\"reason\": \"history_reset\"") != std::string::npos);
    std::vector<std::string> data;
    for (std::size_t i = 1; i < got.size(); ++i) {
      CHECK(field_of(got[i], "event").empty());
      data.push_back(field_of(got[i], "data"));
    }
    // Everything the store keeps for kay, in its order: the probes, what the
    // client saw, and what it missed; the lost count is unknown, so nothing
    // may be left out.
    REQUIRE(data.size() >= 8);
    std::vector<std::string> tail(data.end() - 8, data.end());
    CHECK(tail == std::vector<std::string>{"seen1", "seen2", "seen3", "missed1", "missed2", "missed3",
                                           "missed4", "missed5"});
    for (std::size_t i = 0; i + 8 < data.size(); ++i)
      CHECK(data[i] == "probe");
  }
}

TEST_CASE("comet cluster: NATS killed and restarted mid-run: streams survive, nothing lost silently",
          "[examples][comet][cluster]") {
  nats_server nats;
  auto a = comet_node(nats, "a");
  auto b = comet_node(nats, "b");
  stream local{a.port, "kim"};
  stream remote{b.port, "kim"};
  REQUIRE(subscribed(a, 1));
  REQUIRE(subscribed(b, 1));
  request(a.port, "POST", "/send/kim", "before");
  CHECK(local.c.read_chunk() == std::optional<std::string>{"before\n"});
  CHECK(remote.c.read_chunk() == std::optional<std::string>{"before\n"});

  nats.kill();
  REQUIRE(eventually([&] { return counter(a, "comet_cluster_connected") == 0; }));
  // Local delivery goes on while NATS is down.
  CHECK(request(a.port, "POST", "/send/kim", "during").body == "1\n");
  CHECK(local.c.read_chunk() == std::optional<std::string>{"during\n"});

  nats.start();
  REQUIRE(eventually([&] { return counter(a, "comet_cluster_connected") == 1
                                  && counter(b, "comet_cluster_connected") == 1; },
                     std::chrono::seconds{15}));
  request(a.port, "POST", "/send/kim", "after");
  CHECK(local.c.read_chunk() == std::optional<std::string>{"after\n"});
  // The remote stream gets "during" (kept in the client's reconnect buffer)
  // unless it was counted as dropped, then "after": nothing else, in order.
  auto dropped = counter(a, "comet_cluster_dropped_total");
  auto next = remote.c.read_chunk();
  REQUIRE(next);
  if (*next == "during\n") {
    next = remote.c.read_chunk();
    REQUIRE(next);
  } else {
    CHECK(dropped >= 1);
  }
  CHECK(*next == "after\n");
  CHECK(counter(a, "comet_cluster_reconnects_total") >= 1);
  CHECK_FALSE(local.c.read_chunk(std::chrono::milliseconds{1}));
  CHECK(counter(a, "comet_streams") == 1);
  CHECK(counter(b, "comet_streams") == 1);
}

TEST_CASE("comet cluster: /metrics copies the cluster counters and never collects them itself",
          "[examples][comet][cluster]") {
  // The collector stands for the NATS transport: it records the threads
  // that call it and, from its second call on, blocks as a round trip to a
  // frozen server does, until the test lets it go.
  std::mutex mtx;
  std::condition_variable cv;
  std::set<std::thread::id> callers;
  int calls = 0;
  bool released = false;
  {
    comet::background_metrics bg{[&] {
                                   std::unique_lock<std::mutex> lock{mtx};
                                   callers.insert(std::this_thread::get_id());
                                   auto n = ++calls;
                                   cv.notify_all();
                                   if (n > 1)
                                     cv.wait_for(lock, deadline, [&] { return released; });
                                   return "# counters\ncomet_cluster_x " + std::to_string(n) + "\n";
                                 },
                                 std::chrono::hours{1}, "comet_cluster_stats_age_seconds"};
    REQUIRE(eventually([&] { return bg.collections() == 1; }));
    // A read gets the last result and asks for a fresher one: the
    // collector then blocks in its second call (the period is an hour).
    CHECK(metric(bg.read(), "comet_cluster_x") == "1");
    {
      std::unique_lock<std::mutex> lock{mtx};
      REQUIRE(cv.wait_for(lock, deadline, [&] { return calls == 2; }));
    }
    // Reads (pipelined scrapes) go on from the last result meanwhile, its
    // age next to it.
    for (int i = 0; i < 1000; ++i) {
      auto text = bg.read();
      REQUIRE(metric(text, "comet_cluster_x") == "1");
      REQUIRE(metric(text, "comet_cluster_stats_age_seconds") != "missing");
    }
    {
      std::lock_guard<std::mutex> lock{mtx};
      released = true;
    }
    cv.notify_all();
    REQUIRE(eventually([&] { return metric(bg.read(), "comet_cluster_x") != "1"; }));
  }
  // Every collection ran on the worker, none on the reading thread.
  CHECK(callers.size() == 1);
  CHECK(callers.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("comet cluster: pipelined /metrics with NATS frozen leave the streams of their thread alone",
          "[examples][comet][cluster]") {
  nats_server nats;
  // One I/O thread: the scrapes, the stream and the POST all share it.
  comet_process a{{"--nats", nats.url(), "--node-name", "a", "--nats-prefix", "t", "--threads", "1"}};
  stream ivy{a.port, "ivy"};
  REQUIRE(subscribed(a, 1));
  // A hung server: the connection stays up and no round trip completes (a
  // /metrics that waited for one would hold the thread each time).
  nats.freeze();
  struct thaw_at_end {
    nats_server& n;
    ~thaw_at_end() { n.thaw(); }
  } thaw{nats};
  constexpr int scrapes = 400;
  test_client scraper{a.port};
  std::string burst;
  for (int i = 0; i < scrapes; ++i)
    burst += "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
  scraper.send(burst);
  CHECK(request(a.port, "POST", "/send/ivy", "meanwhile").body == "1\n");
  CHECK(ivy.c.read_chunk() == std::optional<std::string>{"meanwhile\n"});
  for (int i = 0; i < scrapes; ++i) {
    INFO("scrape " << i);
    auto r = scraper.read_reply();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(metric(r->body, "comet_cluster_subscriptions") == "1");
    CHECK(metric(r->body, "comet_cluster_stats_age_seconds") != "missing");
  }
}

#endif
