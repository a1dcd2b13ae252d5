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
  require_handling(st_, "start_chunked");
  st_.response_started = true;
  detail::queue_write(self_, st_, chunked_head(200, content_type, st_.current));
  if (st_.current.head || st_.conn->closed()) {
    // HEAD gets the header block only: no stream opens, and what the handler
    // writes next is the body HEAD does not send. A head that could not be
    // written (the peer reset) opens no stream either.
    return;
  }
  st_.stream = uses_chunked(st_.current) ? stream_kind::chunked : stream_kind::raw;
  st_.hooks = std::move(hooks);
  st_.now = phase::streaming;
  st_.ticks = 0;
  st_.discarded_input = false;
  st_.server->streams.fetch_add(1, std::memory_order_relaxed);
  if (st_.hooks && st_.hooks->heartbeat.count() > 0)
    detail::arm_timer(self_, st_, st_.hooks->heartbeat);
  else
    detail::disarm_timer(st_);
}

void context::start_sse(std::shared_ptr<const stream_hooks> hooks) {
  start_chunked("text/event-stream", std::move(hooks));
  if (st_.stream == stream_kind::chunked || st_.stream == stream_kind::raw)
    st_.stream = st_.stream == stream_kind::chunked ? stream_kind::sse : stream_kind::raw;
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

void context::finish() {
  if (st_.now != phase::streaming)
    return;
  if (st_.stream == stream_kind::raw)
    st_.current.keep_alive = false; // HTTP/1.0: the close ends the body
  else
    detail::queue_write(self_, st_, last_chunk());
  detail::complete_response(self_, st_);
}

bool context::subscribe(registry& reg, const registry_key& key, std::optional<std::uint64_t> last_seen) {
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
  // What the registry will send from now on starts after the baseline. A
  // session restarted after a crash registers again after `last_id`, so it
  // must never be below the baseline: the messages its predecessor's
  // mailbox held (enqueued, not yet handled) are then sent again.
  if (r.ok() && (!st_.last_id || *st_.last_id < r.baseline_id))
    st_.last_id = r.baseline_id;
  return r.ok();
}

bool context::streaming() const noexcept {
  return st_.now == phase::streaming;
}

void notify(const pid& to, std::string note) {
  libactor::send(to, libactor::detail::info_atom::value, std::move(note));
}

} // namespace libactor::http
