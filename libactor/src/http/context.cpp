#include "libactor/http/context.hpp"

#include <stdexcept>

#include "libactor/process.hpp"

#include "internal/http/server_shared.hpp"
#include "internal/session_atoms.hpp"
#include "internal/http/session_ops.hpp"

namespace libactor::http {

using detail::phase;
using detail::stream_kind;

namespace {

void require_handling(const detail::session_state& st, const char* what) {
  if (st.now != phase::handling || st.response_started)
    throw std::logic_error(std::string{what} + ": the response has already started");
}

/// A stream's head and state: `start_chunked` and `start_sse`.
void start_stream(detail::session_state& st, process& self, std::string_view content_type,
                  std::string_view extra_fields, std::shared_ptr<const stream_hooks> hooks) {
  require_handling(st, "start_chunked");
  st.response_started = true;
  detail::queue_write(self, st, chunked_head(200, content_type, st.current, extra_fields));
  if (st.current.head || st.conn->closed()) {
    // HEAD gets the header block only: no stream opens, and what the handler
    // writes next is the body HEAD does not send. A head that could not be
    // written (the peer reset) opens no stream either.
    return;
  }
  st.stream = uses_chunked(st.current) ? stream_kind::chunked : stream_kind::raw;
  st.hooks = std::move(hooks);
  st.now = phase::streaming;
  st.ticks = 0;
  st.discarded_input = false;
  st.server->streams.fetch_add(1, std::memory_order_relaxed);
  if (st.hooks && st.hooks->heartbeat.count() > 0)
    detail::arm_timer(self, st, st.hooks->heartbeat);
  else
    detail::disarm_timer(st);
}

} // namespace

void context::reply(response res) {
  require_handling(st_, "reply");
  st_.server->count_status(res.status);
  st_.response_started = true;
  detail::queue_write(self_, st_, serialize(res, st_.current));
}

void context::reply(unsigned status, std::string body, std::string_view content_type) {
  response res;
  res.status = status;
  res.body = std::move(body);
  res.set_header("Content-Type", std::string{content_type});
  reply(std::move(res));
}

void context::start_chunked(std::string_view content_type, std::shared_ptr<const stream_hooks> hooks) {
  start_stream(st_, self_, content_type, {}, std::move(hooks));
}

void context::start_sse(std::shared_ptr<const stream_hooks> hooks) {
  // A buffering proxy (nginx's default) would hold the events back.
  start_stream(st_, self_, sse_content_type, "X-Accel-Buffering: no\r\n", std::move(hooks));
  if (st_.stream == stream_kind::chunked || st_.stream == stream_kind::raw)
    st_.stream = st_.stream == stream_kind::chunked ? stream_kind::sse : stream_kind::raw;
  auto retry = st_.server->opts.sse_retry;
  if (st_.stream != stream_kind::none && retry.count() > 0) {
    // Once, before any message: how long the browser waits to reconnect.
    write_chunk("retry: " + std::to_string(retry.count()) + "\n\n");
  }
  detail::announce_position(self_, st_);
}

void context::write_chunk(std::string_view data) {
  if (st_.conn->closed())
    return; // the session is ending; nothing can be written any more
  if (st_.current.head && st_.now == phase::handling && st_.response_started)
    return; // the body of a HEAD response is not sent
  if (st_.now != phase::streaming)
    throw std::logic_error("write_chunk: no stream is open");
  if (st_.stream == stream_kind::raw)
    detail::stream_write(self_, st_, data);
  else
    detail::stream_write(self_, st_, chunk(data));
}

void context::send_event(const sse_event& ev) {
  write_chunk(format(ev));
}

void context::write_reset(const replay_reset& reset) {
  if (st_.stream == stream_kind::sse) {
    sse_event ev;
    ev.event = "reset";
    ev.data = reset_json(reset);
    // A browser keeps it as its last event id: a reconnect resumes where
    // the reset put the client, not before the loss it was told of.
    if (reset.position)
      ev.id = to_string(*reset.position);
    send_event(ev);
    return;
  }
  std::string line{"reset "};
  line.append(to_string(reset.reason));
  line.push_back(' ');
  line.append(reset.lost ? std::to_string(*reset.lost) : std::string{"?"});
  line.push_back('\n');
  write_chunk(line);
}

void context::finish() {
  if (st_.now != phase::streaming)
    return;
  if (st_.stream == stream_kind::raw)
    st_.current.keep_alive = false; // HTTP/1.0: the close ends the body
  else
    detail::queue_write(self_, st_, last_chunk());
  detail::complete_response(self_, st_);
}

bool context::subscribe(registry& reg, const registry_key& key, std::optional<message_id> last_seen) {
  if (st_.current.head)
    return true; // HEAD opens no stream, so it subscribes nothing
  if (st_.conn->closed())
    return false;
  if (st_.key)
    // One key per stream: a restart resumes it after the last id written,
    // and ids are per key.
    throw std::logic_error("subscribe: this stream already has a key");
  if (last_seen)
    st_.last_id = last_seen;
  auto r = reg.register_process(key, self_.self(), last_seen);
  if (!r.ok()) {
    st_.last_id.reset();
    return false;
  }
  // Remembered only once registered: a refused key is not re-registered
  // after a crash, and a stream ending on keep-alive unregisters it.
  st_.reg = &reg;
  st_.key = key;
  // Another node may publish for the key the moment the client has the
  // first bytes: they wait until it surely reaches this node.
  if (reg.has_transport())
    detail::hold_until_reachable(self_, st_);
  // What the registry will send from now on starts after the baseline. A
  // session restarted after a crash registers again after `last_id`, so
  // that the messages its predecessor's mailbox held (enqueued, not yet
  // handled) are sent again.
  if (!st_.last_id)
    st_.last_id = r.baseline;
  detail::announce_position(self_, st_);
  return r.ok();
}

bool context::resume(registry& reg, const registry_key& key) {
  std::optional<std::string> text;
  if (auto h = req().header("Last-Event-ID"))
    text = std::string{*h};
  else
    text = req().query_param("last_event_id");
  if (!text || text->empty())
    return subscribe(reg, key);
  // An id that cannot be read is passed as the invalid id: the registry
  // answers it with an `unknown_id` reset and everything it keeps.
  return subscribe(reg, key, parse_message_id(*text).value_or(message_id{}));
}

bool context::streaming() const noexcept {
  return st_.now == phase::streaming;
}

void notify(const pid& to, std::string note) {
  libactor::send(to, libactor::detail::info_atom::value, std::move(note));
}

} // namespace libactor::http
