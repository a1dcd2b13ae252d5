#include "libactor/http/server.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "internal/http/server_shared.hpp"
#include "internal/http/session_ops.hpp"
#include "internal/node_impl.hpp"
#include "internal/session_atoms.hpp"
#include "libactor/log.hpp"
#include "libactor/sharded_supervisor.hpp"

namespace libactor::http {

struct server::impl {
  node& owner;
  std::shared_ptr<server_shared> shared;
  sharded_supervisor conns;
  std::unique_ptr<net::listener> listen;
  pid watcher;
  bool stopped = false;

  explicit impl(node& n) : owner(n) {
  }
};

namespace {

/// The wheel's resolution: fine enough for the shortest timeout configured
/// (tests use a few hundred ms), coarse enough to cost nothing (1 s).
std::chrono::steady_clock::duration tick_for(const server_options& opts) {
  auto shortest = std::min(opts.header_timeout, opts.idle_timeout);
  auto tick = std::chrono::duration_cast<std::chrono::steady_clock::duration>(shortest / 8);
  return std::clamp<std::chrono::steady_clock::duration>(tick, std::chrono::milliseconds{10},
                                                         std::chrono::seconds{1});
}

/// A session past its crash budget: its connection is closed and counted.
/// Runs in the shard; the socket belongs to the session's I/O thread, so the
/// close is posted there (the dead session no longer touches it).
void give_up_session(const std::any& args) {
  auto st = std::any_cast<detail::session_ptr>(args);
  auto& sh = *st->server;
  sh.crash_budget_closes.fetch_add(1, std::memory_order_relaxed);
  sh.crashes.fetch_add(1, std::memory_order_relaxed); // this crash has no recover() to count it
  log::warning("session_crash_budget_spent", log::kv("conn", st->conn->id()));
  boost::asio::post(st->conn->socket().get_executor(), [st] {
    detail::disarm_timer(*st);
    if (st->now == detail::phase::handling && !st->response_started && !st->conn->closed()) {
      // The request that crashed it still gets its answer, then the close.
      st->current.keep_alive = false;
      st->server->count_status(500);
      auto bytes = serialize(error(500, "the handler crashed"), st->current);
      boost::system::error_code ignored;
      boost::asio::write(st->conn->socket(), boost::asio::buffer(bytes), ignored);
    }
    detail::stream_ended(*st, stream_close_cause::crash_budget);
    st->conn->close();
  });
}

child_spec session_child(const server_options& opts) {
  child_spec spec;
  spec.id = "session";
  spec.start = [](process& sup, const std::any& args) {
    return sup.spawn_with(libactor::detail::spawn_mode::link, spawn_options{"session"},
                          detail::session_body, std::any_cast<detail::session_ptr>(args));
  };
  // A session that ends normally (client gone, timeout) is done; one that
  // crashed is restarted on the same connection.
  spec.restart = restart_type::transient;
  spec.shutdown = shutdown_mode{std::chrono::milliseconds{1000}};
  // A session's crashes come from its client: they are charged to the
  // connection, never to the shard (DESIGN: "a connection is not a crash loop").
  spec.own_intensity = opts.session_crash_budget;
  spec.on_give_up = give_up_session;
  return spec;
}

/// Watches the top of the connection tree. If it ends while the server is
/// not stopping (it gave up: its intensity was reached), the tree is gone for
/// good, and `tree_restart` says what that means for the process.
caf::behavior tree_watcher(process& self, pid top, std::shared_ptr<server_shared> sh) {
  self.monitor(top);
  self.on_down([self, sh](const pid&, const exit_reason& why) mutable {
    if (sh->stopping.load() || !self.owner().running()) {
      self.exit();
      return;
    }
    sh->tree_down.store(true);
    if (sh->opts.tree_restart == restart_type::temporary) {
      log::error("http_server_tree_down", log::kv("reason", why),
                 log::kv("action", "the server stops serving; the process lives on"));
      self.exit();
      return;
    }
    log::error("http_server_tree_down", log::kv("reason", why),
               log::kv("action", "exiting with status 1 so that a service manager restarts"));
    std::fflush(stderr);
    std::_Exit(1);
  });
  return {[](libactor::detail::drain_atom) {}};
}

} // namespace

server::server(node& owner, server_options opts, http_router routes)
  : impl_(std::make_shared<impl>(owner)) {
  auto sh = std::make_shared<server_shared>();
  sh->opts = std::move(opts);
  sh->routes = std::move(routes);
  auto& pool = *owner.internals().io;
  for (std::size_t i = 0; i < pool.size(); ++i) {
    sh->wheels.push_back(
      std::make_shared<libactor::detail::timer_wheel>(pool.context(i), tick_for(sh->opts)));
    sh->wheels.back()->start();
  }
  impl_->shared = sh;
  sharded_supervisor_spec sup;
  sup.name = "conns_supervisor";
  sup.child = session_child(sh->opts);
  sup.shards = sh->opts.shards;
  sup.shard_intensity = sh->opts.shard_intensity;
  sup.shard_period = sh->opts.shard_period;
  auto started = sharded_supervisor::start(owner, std::move(sup));
  if (!started)
    throw std::runtime_error("http server: cannot start conns_supervisor: "
                             + started.error().message());
  impl_->conns = started.value();
  impl_->watcher = spawn(owner, spawn_options{"conns_watcher"}, tree_watcher, impl_->conns.top(), sh);
  auto conns = impl_->conns;
  impl_->listen = std::make_unique<net::listener>(
    owner, sh->opts.listen,
    [sh, conns](net::connection_ptr conn) mutable {
      if (sh->tree_down.load(std::memory_order_relaxed)) {
        // A temporary server whose tree gave up: say so instead of a silent close.
        static constexpr std::string_view unavailable =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        boost::system::error_code ignored;
        conn->socket().write_some(boost::asio::buffer(unavailable.data(), unavailable.size()), ignored);
        sh->count_status(503);
        conn->close();
        return;
      }
      auto st = std::make_shared<detail::session_state>(std::move(conn), sh);
      // A cast, not a call: this runs on an I/O thread, which must not wait
      // for a supervisor that runs on the same threads.
      conns.cast_start_child(std::any{std::move(st)});
    },
    [](const net::connection_ptr& conn) {
      if (auto who = caf::actor_cast<caf::actor>(conn->owner()))
        caf::anon_send(who, libactor::detail::drain_atom::value);
    });
  log::info("http_server_started", log::kv("address", sh->opts.listen.address),
            log::kv("port", impl_->listen->port()), log::kv("shards", impl_->conns.shard_count()));
}

server::~server() {
  if (impl_->owner.on_io_thread()) {
    // A destructor cannot refuse: stop without waiting, cutting what is open.
    log::error("http_server_destroyed_on_io_thread",
               log::kv("detail", "connections cut without draining"));
    stop_now(false);
    return;
  }
  stop_now(true);
}

std::uint16_t server::port() const noexcept {
  return impl_->listen->port();
}

const sharded_supervisor& server::connections() const noexcept {
  return impl_->conns;
}

server_stats server::stats() const {
  auto& sh = *impl_->shared;
  server_stats out;
  out.requests = sh.requests.load();
  out.responses_4xx = sh.responses_4xx.load();
  out.responses_5xx = sh.responses_5xx.load();
  out.crashes = sh.crashes.load();
  out.timeouts = sh.timeouts.load();
  out.dropped_chunks = sh.dropped_chunks.load();
  out.slow_closed = sh.slow_closed.load();
  out.streams = sh.streams.load();
  out.routed_dropped = sh.routed_dropped.load();
  out.crash_budget_closes = sh.crash_budget_closes.load();
  out.read_pauses = sh.read_pauses.load();
  out.poison_skipped = sh.poison_skipped.load();
  out.slow_consumer_dropped = sh.slow_consumer_dropped.load();
  out.resets_sent = sh.resets_sent.load();
  auto closes = [&sh](stream_close_cause c) { return sh.stream_closes[static_cast<std::size_t>(c)].load(); };
  out.stream_closes.client = closes(stream_close_cause::client);
  out.stream_closes.slow_consumer = closes(stream_close_cause::slow_consumer);
  out.stream_closes.crash_budget = closes(stream_close_cause::crash_budget);
  out.stream_closes.server_stop = closes(stream_close_cause::server_stop);
  out.stream_closes.finished = closes(stream_close_cause::finished);
  out.stream_closes.crashed = closes(stream_close_cause::crashed);
  out.tree_down = sh.tree_down.load();
  out.listener = impl_->listen->stats();
  out.sessions = sh.sessions.load();
  return out;
}

net::drain_report server::stop() {
  // Checked first: the drain waits for the sessions, which may run on this
  // very thread.
  if (impl_->owner.on_io_thread())
    throw std::logic_error("http::server::stop on an I/O thread would block it (it waits for the "
                           "sessions to drain); stop the server from outside the node's threads");
  return stop_now(true);
}

net::drain_report server::stop_now(bool wait) {
  if (impl_->stopped)
    return {};
  impl_->stopped = true;
  auto& sh = *impl_->shared;
  sh.stopping.store(true);
  exit(impl_->watcher, exit_reason::shutdown());
  auto report = impl_->listen->stop(wait ? sh.opts.drain_timeout : std::chrono::milliseconds{0});
  // What is left (sessions between accept and start, cut ones) ends with
  // the supervision tree.
  exit(impl_->conns.top(), exit_reason::shutdown());
  auto deadline = std::chrono::steady_clock::now() + sh.opts.drain_timeout;
  // Wait for the tree itself, not only the sessions: the shards still have
  // the drained sessions' exits to handle when the last session is gone.
  auto top = impl_->conns.top();
  // Polls, off the I/O threads only (see `stop`): nothing signals the end
  // of the last session and of the tree together.
  while (wait && (sh.sessions.load() > 0 || alive(top)) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  for (auto& w : sh.wheels)
    w->stop();
  return report;
}

} // namespace libactor::http
