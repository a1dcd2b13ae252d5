/// @file
/// What a route handler sees: the request, and the means to answer it with a
/// whole response, a chunked stream or Server-Sent Events. A handler runs
/// inside its connection's session process; if it throws, only that session
/// crashes, and its supervisor restarts it on the same connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "libactor/http/request.hpp"
#include "libactor/http/response.hpp"
#include "libactor/http/sse.hpp"
#include "libactor/message_id.hpp"
#include "libactor/replay_reset.hpp"

namespace libactor {
class pid;
class process;
class registry;
class registry_key;
} // namespace libactor

namespace libactor::http {

class context;

/// How a stream reacts to the events that arrive after its handler returned.
/// Shared and immutable: one instance serves every stream of a route.
struct stream_hooks {
  /// A message routed to the stream's key (registry `send`/`broadcast`).
  /// If it throws, the message is skipped, not handed to the restarted
  /// session again, counted (`server_stats::poison_skipped`), and the client
  /// gets a `poison_skipped` reset with lost 1 (`on_reset`).
  /// Default: a chunked stream writes the payload as one chunk; an SSE
  /// stream writes an event with the message id and the payload as data.
  std::function<void(context&, const message_id& id, const std::string& payload)> on_message;
  /// The client must learn that it missed messages (replay_reset.hpp): the
  /// registry could not replay exactly from its last id, a poison message
  /// was skipped, or (slow-reader policy `drop`) messages were dropped. It
  /// comes before any message it concerns. Default: `context::write_reset`,
  /// SSE `event: reset` with data `{"reason": "...", "lost": N|null}`,
  /// chunked a `reset <reason> <N|?>` line.
  std::function<void(context&, const replay_reset& reset)> on_reset;
  /// Every `heartbeat` while the stream is open; `n` counts from 1. A write
  /// that fails here is how a dead peer is found. Default: nothing written
  /// for chunked streams, an SSE comment for SSE streams.
  std::function<void(context&, std::uint64_t n)> on_tick;
  /// A note sent to the session with `http::notify` (Cowboy's loop handler
  /// `info/3`): how code outside the session reaches its stream with
  /// something that is not a routed message. Default: ignored.
  std::function<void(context&, const std::string& note)> on_info;
  /// Zero disables the heartbeat.
  std::chrono::milliseconds heartbeat{0};
};

/// Hands `note` to the `on_info` hook of the stream that session `to` runs.
/// From any thread; a session that is not streaming or has no hook ignores it.
void notify(const pid& to, std::string note);

namespace detail {
struct session_state;
} // namespace detail

class context {
public:
  context(detail::session_state& st, process& self, request* req) noexcept
    : st_(st), self_(self), req_(req) {
  }

  /// The request being handled; only valid inside the route handler.
  const request& req() const noexcept { return *req_; }

  /// The session process (for sending, calling, spawning).
  process& self() noexcept { return self_; }

  // -- whole responses ---------------------------------------------------------

  void reply(response res);
  void reply(unsigned status, std::string body,
             std::string_view content_type = "text/plain; charset=utf-8");

  // -- streams ---------------------------------------------------------------

  /// Starts a chunked response; the connection is then this stream's. For
  /// a HEAD request only the head is sent and no stream opens: what the
  /// handler then writes is discarded and `subscribe` registers nothing, so
  /// one handler serves GET and HEAD.
  void start_chunked(std::string_view content_type = "text/plain; charset=utf-8",
                     std::shared_ptr<const stream_hooks> hooks = {});

  /// Starts a `text/event-stream` response.
  void start_sse(std::shared_ptr<const stream_hooks> hooks = {});

  /// Writes one chunk of a chunked stream (raw bytes for HTTP/1.0).
  void write_chunk(std::string_view data);

  /// Writes one event of an SSE stream.
  void send_event(const sse_event& ev);

  /// Writes `reset` in the stream's framing (the default `on_reset`):
  /// SSE `event: reset` with `reset_json` as data; chunked and raw streams
  /// a `reset <reason> <lost or ?>` line as its own chunk.
  void write_reset(const replay_reset& reset);

  /// Ends the stream (last chunk) and closes or keeps the connection.
  void finish();

  /// Registers this session under `key` so that messages routed to the key
  /// reach the stream's `on_message`. It is remembered: a session restarted
  /// after a crash registers again, after the last message it wrote, and the
  /// registry delivers what it missed. `last_seen` asks for replay after
  /// that id (SSE `Last-Event-ID`). A stream has one key: a second call
  /// throws `std::logic_error`. When the stream ends on a keep-alive
  /// connection the key is unregistered before the next request is read.
  /// Returns false if the registry refused
  /// (e.g. a unique key already held).
  bool subscribe(registry& reg, const registry_key& key,
                 std::optional<message_id> last_seen = std::nullopt);

  /// `subscribe` resuming after the id the client names: the
  /// `Last-Event-ID` header (what a browser's EventSource sends), else the
  /// `last_event_id` query parameter (chunked streams, WebSocket). An id
  /// that cannot be read is shown to the client as an `unknown_id` reset
  /// before anything else, followed by what the registry keeps for the key;
  /// no id at all is a fresh start.
  bool resume(registry& reg, const registry_key& key);

  bool streaming() const noexcept;

private:
  detail::session_state& st_;
  process& self_;
  request* req_;
};

} // namespace libactor::http
