#include "comet_routes.hpp"

#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "comet_metrics.hpp"
#include "comet_page.hpp"
#include "libactor/registry.hpp"

namespace comet {

using libactor::http::context;
using libactor::http::stream_hooks;

namespace {

/// The note `POST /crash/<id>` sends to a user's streams.
constexpr std::string_view crash_note = "crash";

/// The payload `POST /crash` broadcasts with `--allow-crash`: every stream's
/// handler throws on it (a poison message). It starts with a NUL byte, which
/// no text message a test or demo sends does.
const std::string poison_payload{"\0comet-poison", 13};

/// With `--allow-crash`, a handler that throws on the poison payload; the
/// registry consumed the message before the handler ran, so the restarted
/// session resumes after it instead of crashing on it again.
void throw_on_poison(const std::string& payload) {
  if (payload == poison_payload)
    throw std::runtime_error("poison message (POST /crash)");
}

/// The `<id>` path parameter, or nullopt after answering 414.
std::optional<std::string> user_id(context& ctx) {
  auto id = ctx.req().param("id");
  if (!id || id->size() > max_user_id_bytes) {
    ctx.reply(414, fmt::format("user id longer than {} bytes\n", max_user_id_bytes));
    return std::nullopt;
  }
  return std::string{*id};
}

/// The request body as a message (without the line end curl or a form may
/// add), or nullopt after answering 400.
std::optional<std::string> message_of(context& ctx) {
  std::string msg{ctx.req().body()};
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r'))
    msg.pop_back();
  if (msg.empty()) {
    ctx.reply(400, "empty message: put it in the request body\n");
    return std::nullopt;
  }
  return msg;
}

/// `on_info` of both stream kinds: the fault-injection switch. Throwing
/// here crashes this session only; its supervisor restarts it on the same
/// connection and the registry delivers what was sent meanwhile.
void crash_on_request(context&, const std::string& note) {
  if (note == crash_note)
    throw std::runtime_error("crash requested through POST /crash");
}

/// `/stream/<id>`: one chunk per message (`<message id> <message>` with
/// `?ids=1`), `tick <n>` as heartbeat.
std::shared_ptr<const stream_hooks> line_stream(const options& o, bool with_ids) {
  auto h = std::make_shared<stream_hooks>();
  h->on_message = [crashable = o.allow_crash, with_ids](context& ctx, const libactor::message_id& id,
                                                         const std::string& payload) {
    if (crashable)
      throw_on_poison(payload);
    if (with_ids)
      ctx.write_chunk(fmt::format("{} {}\n", libactor::to_string(id), payload));
    else
      ctx.write_chunk(payload + "\n");
  };
  h->on_tick = [](context& ctx, std::uint64_t n) { ctx.write_chunk(fmt::format("tick {}\n", n)); };
  h->on_info = crash_on_request;
  h->heartbeat = o.heartbeat;
  return h;
}

/// `/events/<id>`: the default SSE behaviour (an event per message with its
/// id, a comment as heartbeat) plus the crash switch.
std::shared_ptr<const stream_hooks> event_stream(const options& o) {
  auto h = std::make_shared<stream_hooks>();
  h->on_info = crash_on_request;
  h->heartbeat = o.heartbeat;
  if (o.allow_crash) {
    h->on_message = [](context& ctx, const libactor::message_id& id, const std::string& payload) {
      throw_on_poison(payload);
      libactor::http::sse_event ev;
      ev.id = libactor::to_string(id);
      ev.data = payload;
      ctx.send_event(ev);
    };
  }
  return h;
}

std::string count_line(std::size_t n) {
  return fmt::format("{}\n", n);
}

} // namespace

libactor::http::http_router make_routes(services& svc) {
  libactor::http::http_router r;
  auto& reg = svc.registry;

  r.add("GET", "/", [](context& ctx) { ctx.reply(200, std::string{page_html}, "text/html; charset=utf-8"); });

  r.add("GET", "/hello", [](context& ctx) { ctx.reply(200, "hello\n"); });

  r.add("GET", "/stream/:id", [&reg, plain = line_stream(svc.opts, false),
                                 with_ids = line_stream(svc.opts, true)](context& ctx) {
    auto id = user_id(ctx);
    if (!id)
      return;
    ctx.start_chunked("text/plain; charset=utf-8", ctx.req().query_param("ids") == "1" ? with_ids : plain);
    // Registered before the welcome is written: a client that has read the
    // welcome can count on messages sent from then on reaching it. A reset
    // (a `last_event_id` that cannot be replayed exactly) comes right after
    // the welcome: the registry's messages are handled once this returns.
    ctx.resume(reg, libactor::registry_key{*id});
    ctx.write_chunk("welcome " + *id + "\n");
  });

  r.add("GET", "/events/:id", [&reg, hooks = event_stream(svc.opts)](context& ctx) {
    auto id = user_id(ctx);
    if (!id)
      return;
    // Registered before the head is written: a client that has the head can
    // count on messages sent from then on reaching it. `Last-Event-ID`
    // resumes: the exact replay, or a reset first.
    ctx.resume(reg, libactor::registry_key{*id});
    ctx.start_sse(hooks);
  });

  r.add("POST", "/send/:id", [&reg](context& ctx) {
    auto id = user_id(ctx);
    if (!id)
      return;
    if (auto msg = message_of(ctx)) {
      auto sent = reg.send_with_id(libactor::registry_key{*id}, std::move(*msg));
      libactor::http::response res;
      res.status = 200;
      res.body = count_line(sent.reached);
      res.set_header("Content-Type", "text/plain; charset=utf-8");
      res.set_header("X-Message-Id", libactor::to_string(sent.id));
      ctx.reply(std::move(res));
    }
  });

  r.add("POST", "/broadcast", [&reg](context& ctx) {
    if (auto msg = message_of(ctx))
      ctx.reply(200, count_line(reg.broadcast(*msg)));
  });

  r.add("GET", "/metrics", [&svc](context& ctx) {
    const auto* server = svc.server.load(std::memory_order_acquire);
    if (server == nullptr) {
      ctx.reply(503, "starting\n");
      return;
    }
    ctx.reply(200, prometheus_text(svc, *server), "text/plain; version=0.0.4; charset=utf-8");
  });

  if (svc.opts.allow_crash) {
    r.add("POST", "/crash/:id", [&reg](context& ctx) {
      auto id = user_id(ctx);
      if (!id)
        return;
      auto sessions = reg.lookup(libactor::registry_key{*id});
      for (const auto& who : sessions)
        libactor::http::notify(who, std::string{crash_note});
      ctx.reply(200, count_line(sessions.size()));
    });
    r.add("POST", "/crash", [&reg](context& ctx) {
      ctx.reply(200, count_line(reg.broadcast(poison_payload)));
    });
  }
  return r;
}

} // namespace comet
