/// @file
/// A node, a registry and an HTTP server with the routes the session tests
/// exercise (Ranch's test protocols, for HTTP): echo, crash, stream, SSE.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "libactor/http/server.hpp"
#include "libactor/registry.hpp"
#include "libactor/message_id.hpp"
#include "support/event_log.hpp"
#include "support/test_client.hpp"
#include "support/test_node.hpp"

namespace libactor::test {

inline http::server_options quick_server() {
  http::server_options opts;
  opts.header_timeout = std::chrono::milliseconds{400};
  opts.idle_timeout = std::chrono::milliseconds{5000};
  opts.shards = 2;
  opts.drain_timeout = std::chrono::milliseconds{2000};
  opts.limits.max_body = 64 * 1024;
  return opts;
}

inline registry_config replaying_registry() {
  registry_config cfg;
  cfg.replay_window = 64;
  return cfg;
}

/// Routes: GET /hello, POST /echo, GET /crash (throws), GET /stream/:id
/// (chunked, "welcome <id>\n", each routed message "<msg>\n"; a message
/// "crash" makes the session throw), GET /events/:id (SSE, resuming after
/// the client's Last-Event-ID), GET /resume/:id (the same, crashing on the
/// note "crash"), GET /beat/:id
/// (SSE with a 20 ms heartbeat and an `on_info` hook), GET /brief/:id (a
/// stream that ends at once), GET /big (1 MiB).
inline http::http_router fixture_routes(registry& reg) {
  http::http_router r;
  r.add("GET", "/hello", [](http::context& ctx) { ctx.reply(200, "hello\n"); });
  r.add("POST", "/echo", [](http::context& ctx) { ctx.reply(200, ctx.req().body()); });
  r.add("GET", "/crash", [](http::context&) { throw std::runtime_error("handler bug"); });
  auto lines = std::make_shared<http::stream_hooks>();
  lines->on_message = [](http::context& ctx, const message_id&, const std::string& payload) {
    if (payload == "crash")
      throw std::runtime_error("crash requested");
    ctx.write_chunk(payload + "\n");
  };
  r.add("GET", "/stream/:id", [&reg, lines](http::context& ctx) {
    auto id = std::string{*ctx.req().param("id")};
    ctx.start_chunked("text/plain", lines);
    // Registered before the welcome is written: a client that has read the
    // welcome can count on its stream being reachable.
    ctx.subscribe(reg, registry_key{id});
    ctx.write_chunk("welcome " + id + "\n");
  });
  // SSE with the default heartbeat and a note hook that echoes notes as
  // comments, or crashes the session on the note "crash".
  auto beating = std::make_shared<http::stream_hooks>();
  beating->heartbeat = std::chrono::milliseconds{20};
  beating->on_info = [](http::context& ctx, const std::string& note) {
    if (note == "crash")
      throw std::runtime_error("crash requested by note");
    ctx.write_chunk(http::sse_comment("note " + note));
  };
  r.add("GET", "/beat/:id", [&reg, beating](http::context& ctx) {
    ctx.start_sse(beating);
    ctx.subscribe(reg, registry_key{std::string{*ctx.req().param("id")}});
  });
  // A stream that ends at once on a keep-alive connection (welcome, last chunk).
  r.add("GET", "/brief/:id", [&reg, lines](http::context& ctx) {
    auto id = std::string{*ctx.req().param("id")};
    ctx.start_chunked("text/plain", lines);
    ctx.subscribe(reg, registry_key{id});
    ctx.write_chunk("welcome " + id + "\n");
    ctx.finish();
  });
  // SSE resuming after the client's id, with a note hook that crashes the
  // session on the note "crash" (and writes nothing otherwise): a crash
  // that no routed message caused.
  auto noted = std::make_shared<http::stream_hooks>();
  noted->on_info = [](http::context&, const std::string& note) {
    if (note == "crash")
      throw std::runtime_error("crash requested by note");
  };
  r.add("GET", "/resume/:id", [&reg, noted](http::context& ctx) {
    ctx.start_sse(noted);
    ctx.resume(reg, registry_key{std::string{*ctx.req().param("id")}});
  });
  // A large answer (1 MiB), to fill a client's receive window.
  r.add("GET", "/big", [](http::context& ctx) { ctx.reply(200, std::string(1 << 20, 'x')); });
  // SSE resuming after the client's Last-Event-ID (or `last_event_id`).
  r.add("GET", "/events/:id", [&reg](http::context& ctx) {
    auto id = std::string{*ctx.req().param("id")};
    ctx.start_sse();
    ctx.resume(reg, registry_key{id});
  });
  return r;
}

/// Declared in this order so that the server stops before the registry and
/// the node it uses.
struct http_fixture {
  explicit http_fixture(http::server_options opts = quick_server())
    : n(small_node()), reg(replaying_registry()), srv(n, std::move(opts), fixture_routes(reg)) {
  }
  node n;
  registry reg;
  http::server srv;
};

/// What an SSE stream sends once before anything else (server_options::sse_retry).
inline const std::optional<std::string> retry_chunk{"retry: 2000\n\n"};

/// An SSE event chunk "id: <id>\n<rest>": the id as read back (nullopt
/// without an `id:` line, or with an unreadable one) and the lines after it.
struct sse_chunk {
  std::optional<message_id> id;
  std::string rest;
};

inline sse_chunk split_event(const std::optional<std::string>& chunk) {
  sse_chunk out;
  if (!chunk)
    return out;
  out.rest = *chunk;
  if (chunk->rfind("id: ", 0) == 0) {
    auto end = chunk->find('\n');
    out.id = parse_message_id(std::string_view{*chunk}.substr(4, end - 4));
    out.rest = chunk->substr(end + 1);
  }
  return out;
}

/// What an SSE stream with a key sends before any event: its `retry:`
/// advice (server_options::sse_retry), then its starting position, an `id:`
/// with no data (a browser keeps it as its last event id and dispatches
/// nothing). Returns that position; nullopt if either is missing.
inline std::optional<message_id> read_sse_opening(test_client& c, const std::string& retry = "retry: 2000\n\n") {
  if (!retry.empty() && c.read_chunk() != std::optional<std::string>{retry})
    return std::nullopt;
  auto start = c.read_chunk();
  if (!start || start->rfind("id: ", 0) != 0 || start->find("data:") != std::string::npos)
    return std::nullopt;
  return parse_message_id(start->substr(4, start->find('\n') - 4));
}

} // namespace libactor::test
