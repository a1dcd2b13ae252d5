// The session process: one per connection, its own tiny HTTP/1.1 server.
//
// I/O pattern (docs/architecture.md, "Memory discipline"): while idle, a session holds
// no read buffer and no parser; it waits for readability (an Asio
// async_wait whose completion sends it `readable`), then reads into a
// per-thread buffer and keeps only bytes it could not use yet. Writes go
// straight to the non-blocking socket; what it does not take waits in
// `outbound` until `writable`. Timeouts come from the I/O thread's wheel.
// Processes run on the I/O threads (asio_coordinator), so the socket is
// touched from the thread that runs the session, one handler at a time.

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <array>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "internal/http/server_shared.hpp"
#include "internal/http/session_ops.hpp"
#include "internal/session_atoms.hpp"
#include "libactor/log.hpp"
#include "libactor/routed.hpp"

namespace libactor::http::detail {

namespace asio = boost::asio;
using libactor::detail::drain_atom;
using libactor::detail::info_atom;
using libactor::detail::reachable_atom;
using libactor::detail::readable_atom;
using libactor::detail::timeout_atom;
using libactor::detail::writable_atom;

namespace {

/// Sends `Atom` to the session when the socket is ready. Holds the session
/// weakly: a crashed session's pending waits must not keep it alive.
template <class Atom>
auto notify(process& self) {
  return [who = self.caf_self()->address()](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted)
      return;
    if (auto hdl = caf::actor_cast<caf::actor>(who))
      caf::anon_send(hdl, Atom::value);
  };
}

void arm_read(process& self, session_state& st) {
  if (st.read_armed || st.conn->closed() || st.input_closed
      || (st.now == phase::closing && !st.lingering))
    return;
  st.read_armed = true;
  st.conn->socket().async_wait(asio::socket_base::wait_read, notify<readable_atom>(self));
}

void arm_write(process& self, session_state& st) {
  if (st.write_armed || st.conn->closed())
    return;
  st.write_armed = true;
  st.conn->socket().async_wait(asio::socket_base::wait_write, notify<writable_atom>(self));
}

server_shared& shared(session_state& st) {
  return *st.server;
}

/// Answers a request the parser refused, then closes (Cowboy does too: the
/// byte stream cannot be trusted after a framing error).
void refuse(process& self, session_state& st, unsigned status, std::string_view reason) {
  shared(st).count_status(status);
  st.linger = true; // a refused client is often still sending (a body, a pipeline)
  st.now = phase::closing; // before the write: no further request is parsed
  queue_write(self, st, error_response(status, reason));
  close_after_output(self, st);
}

/// True while the connection holds more unwritten bytes than
/// `max_pending_output`: the session then reads nothing more from it.
bool output_backed_up(const session_state& st) {
  auto limit = st.server->opts.max_pending_output;
  return limit > 0 && st.outbound.size() > limit;
}

/// Backpressure begins: nothing more is read or parsed until on_writable
/// has drained the output below the limit. Counted once per pause.
void pause_input(session_state& st) {
  if (st.paused)
    return;
  st.paused = true;
  shared(st).read_pauses.fetch_add(1, std::memory_order_relaxed);
}

void dispatch(process& self, session_state& st, request req) {
  auto& sh = shared(st);
  sh.requests.fetch_add(1, std::memory_order_relaxed);
  st.current = info_of(req);
  if (st.conn->draining())
    st.current.keep_alive = false;
  st.now = phase::handling;
  st.response_started = false;
  // The header timer stays armed: a timeout during `handling` is ignored,
  // and complete_response re-arms for idle (one wheel lock per request).
  auto m = sh.routes.match(req.method(), req.path());
  if (!m.found()) {
    sh.count_status(m.status);
    if (m.status == 400)
      st.current.keep_alive = false;
    const char* why = m.status == 404 ? "no route" : m.status == 405 ? "method not allowed" : "bad path";
    queue_write(self, st, serialize(error(m.status, why, m.allow), st.current));
    st.response_started = true;
    complete_response(self, st);
    return;
  }
  m.apply(req);
  context ctx{st, self, &req};
  // A throw here ends this process only; its supervisor restarts the
  // session on the same connection (see recover below).
  (*m.handler)(ctx);
  if (st.now == phase::handling) {
    if (!st.response_started) {
      log::warning("handler_sent_no_response", log::kv("target", req.target()));
      sh.count_status(500);
      queue_write(self, st, serialize(error(500, "handler sent no response"), st.current));
    }
    complete_response(self, st);
  }
}

/// Parses as many requests as `st.leftover` holds and handles each. The
/// bytes of a request leave `leftover` before its handler runs, so that a
/// restarted session never runs the request that crashed it again.
void consume(process& self, session_state& st) {
  // One loop per connection: a handler that completes its response calls
  // back in here (complete_response); the loop already running picks up the
  // next request instead, so thousands of pipelined requests never nest.
  if (st.in_consume)
    return;
  st.in_consume = true;
  auto& sh = shared(st);
  using state = request_parser::result::state;
  bool more = true;
  while (more && !st.leftover.empty() && (st.now == phase::idle || st.now == phase::reading)
         && !output_backed_up(st)) {
    if (!st.parser) {
      st.parser = std::make_unique<request_parser>(sh.opts.limits);
      st.now = phase::reading;
      arm_timer(self, st, sh.opts.header_timeout);
    }
    bool in_body = st.parser->header_done();
    auto r = st.parser->feed(st.leftover);
    st.leftover.erase(0, r.consumed);
    switch (r.st) {
      case state::need_more:
        more = r.consumed > 0; // nothing used: wait for more bytes
        // Body bytes came (or the header block just ended): the body's own
        // timer runs from here, so a slow but steady upload is not cut.
        if (more && st.parser->header_done() && (in_body || r.consumed > 0))
          arm_timer(self, st, sh.opts.body_timeout);
        break;
      case state::expect_continue:
        queue_write(self, st, continue_response);
        break;
      case state::complete: {
        auto req = st.parser->take();
        st.parser.reset();
        dispatch(self, st, std::move(req));
        break;
      }
      case state::error:
        refuse(self, st, r.status, r.reason);
        more = false;
        break;
    }
  }
  st.in_consume = false;
  if (st.leftover.empty())
    std::string{}.swap(st.leftover); // an idle session keeps no buffer
  else if (output_backed_up(st) && (st.now == phase::idle || st.now == phase::reading))
    pause_input(st); // pipelined requests wait for the client to read
}

/// Everything the client will send has been read: what is left in
/// `leftover` is an incomplete request that can never complete. Close once
/// the answers to the complete ones are written.
void finish_if_input_done(process& self, session_state& st) {
  if (!st.input_closed || st.conn->closed())
    return;
  if (st.now == phase::streaming || st.now == phase::handling || st.now == phase::closing)
    return;
  if (!st.leftover.empty() && output_backed_up(st))
    return; // complete requests may still wait there: on_writable resumes
  st.now = phase::closing;
  close_after_output(self, st);
}

/// The client half-closed (`shutdown(SHUT_WR)` after pipelining, as
/// RFC 9112 9.6 allows): its requests are answered, then the connection
/// closes. During a stream, it means the client is gone.
void on_input_closed(process& self, session_state& st) {
  st.input_closed = true;
  if (st.now == phase::streaming || st.lingering) {
    end_session(self, st,
                st.lingering ? exit_reason::normal() : exit_reason::shutdown("peer_closed"));
    return;
  }
  if (st.now == phase::idle && st.leftover.empty() && st.outbound.empty()) {
    end_session(self, st, exit_reason::normal());
    return;
  }
  consume(self, st);
  finish_if_input_done(self, st);
}

void on_readable(process& self, session_state& st) {
  if (st.conn->closed() || st.input_closed)
    return;
  thread_local std::array<char, 64 * 1024> buf;
  auto& sock = st.conn->socket();
  // At most this many reads per wake-up, then the others on this thread get
  // their turn (and the wheel its tick): a fast sender cannot hog it.
  int reads_left = 16;
  for (;;) {
    if (reads_left-- == 0)
      break;
    if (output_backed_up(st) && !st.lingering) {
      // Backpressure: the client is not taking its answers. Read nothing
      // more (no read is armed) until on_writable has drained the queue.
      pause_input(st);
      return;
    }
    boost::system::error_code ec;
    auto n = sock.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again)
      break;
    if (ec == asio::error::eof || (!ec && n == 0)) {
      on_input_closed(self, st);
      return;
    }
    if (ec) {
      // The socket failed (reset, or a drain cut it).
      auto reason = st.now == phase::idle || st.lingering ? exit_reason::normal()
                                                          : exit_reason::shutdown("peer_closed");
      end_session(self, st, std::move(reason));
      return;
    }
    if (st.now == phase::streaming || st.now == phase::closing) {
      // A client does not talk during a stream; lingering: discard. Bytes
      // dropped during a stream break the request framing: such a stream
      // does not return its connection to keep-alive.
      if (st.now == phase::streaming)
        st.discarded_input = true;
      continue;
    }
    st.leftover.append(buf.data(), n);
    consume(self, st);
    if (st.conn->closed())
      return;
    if (n < buf.size())
      break;
  }
  arm_read(self, st);
}

void on_writable(process& self, session_state& st) {
  if (st.conn->closed())
    return;
  boost::system::error_code ec;
  auto n = st.conn->socket().write_some(asio::buffer(st.outbound), ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    end_session(self, st, exit_reason::shutdown("peer_closed"));
    return;
  }
  st.outbound.erase(0, n);
  if (!st.outbound.empty()) {
    arm_write(self, st);
    // The client is taking bytes: its deadline counts from this progress
    // (a long download is not a stalled one).
    if (n > 0 && st.now == phase::closing && !st.lingering)
      arm_timer(self, st, shared(st).opts.closing_timeout);
    else if (n > 0 && st.now == phase::idle)
      arm_timer(self, st, shared(st).opts.idle_timeout);
  } else {
    std::string{}.swap(st.outbound);
    if (st.close_after_flush) {
      close_after_output(self, st);
      return;
    }
  }
  if (output_backed_up(st))
    return;
  // Below the limit again: parse what waits, then read again.
  if (!st.leftover.empty())
    consume(self, st);
  if (st.conn->closed())
    return;
  if (st.paused) {
    st.paused = false;
    on_readable(self, st);
    if (st.conn->closed())
      return;
  }
  finish_if_input_done(self, st);
}

void on_timeout(process& self, session_state& st) {
  auto& sh = shared(st);
  switch (st.now) {
    case phase::idle:
      sh.timeouts.fetch_add(1, std::memory_order_relaxed);
      end_session(self, st, exit_reason::shutdown("idle_timeout"));
      return;
    case phase::reading:
      sh.timeouts.fetch_add(1, std::memory_order_relaxed);
      if (st.parser && st.parser->header_done())
        refuse(self, st, 408, "request body timeout");
      else
        refuse(self, st, 408, "request header timeout");
      return;
    case phase::handling:
      return;
    case phase::closing:
      if (st.lingering) { // the linger is over; nothing was owed to the client
        end_session(self, st, exit_reason::normal());
        return;
      }
      // The peer does not read what is left: give up on it.
      sh.timeouts.fetch_add(1, std::memory_order_relaxed);
      end_session(self, st, exit_reason::shutdown("write_timeout"));
      return;
    case phase::streaming:
      break;
  }
  ++st.ticks;
  context ctx{st, self, nullptr};
  if (st.hooks && st.hooks->on_tick)
    st.hooks->on_tick(ctx, st.ticks);
  else if (st.stream == stream_kind::sse)
    ctx.write_chunk(sse_comment("tick")); // framed like every other write of the stream
  if (!st.conn->closed() && st.now == phase::streaming && st.hooks
      && st.hooks->heartbeat.count() > 0)
    arm_timer(self, st, st.hooks->heartbeat);
}

void on_routed(process& self, session_state& st, const message_id& id, const std::string& payload) {
  if (st.now != phase::streaming) {
    shared(st).routed_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // No id filter here: the registry hands each registration every message
  // once, in order (a restart resumes by position, not by comparing ids,
  // which from two nodes do not compare).
  //
  // Consumed before it is handled, as a BEAM process consumes a message:
  // if handling it crashes the session, the restart resumes after it
  // instead of crashing on it again forever.
  st.last_id = id;
  auto& sh = shared(st);
  if (st.gap > 0) {
    // Dropped for a slow reader: the client hears of it before the next
    // message that fits, or that one is dropped too.
    if (st.outbound.size() + payload.size() + 256 > sh.opts.max_outbound) {
      ++st.gap;
      st.gap_last = id;
      sh.slow_consumer_dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto lost = st.gap;
    st.gap = 0;
    // The reset names the last message dropped: a client that reconnects
    // after it resumes past the gap it was told of.
    show_reset(self, st, replay_reset{reset_reason::slow_consumer, lost, st.gap_last});
    if (st.conn->closed() || st.now != phase::streaming)
      return;
  }
  st.in_routed = true; // still set if the handler throws: recover() then counts a poison
  st.routed_write_dropped = false;
  context ctx{st, self, nullptr};
  if (st.hooks && st.hooks->on_message) {
    st.hooks->on_message(ctx, id, payload);
  } else if (st.stream == stream_kind::sse) {
    sse_event ev;
    ev.id = to_string(id);
    ev.data = payload;
    ctx.send_event(ev);
  } else {
    ctx.write_chunk(payload);
  }
  st.in_routed = false;
  if (st.routed_write_dropped) {
    ++st.gap;
    st.gap_last = id;
    sh.slow_consumer_dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

/// Every node now reaches the stream's key: what waited may be written.
void on_reachable(process& self, session_state& st) {
  if (!st.output_held)
    return;
  st.output_held = false;
  if (!st.outbound.empty() && !st.conn->closed())
    on_writable(self, st);
}

/// The registry could not replay exactly what the client missed.
void on_reset(process& self, session_state& st, const replay_reset& r) {
  if (st.now != phase::streaming)
    return;
  show_reset(self, st, r);
  // The client now stands where the reset put it, not at the id it sent: a
  // restart before the next message registers from there and gets what
  // this process left unread, without the same reset a second time. With
  // no position to name, it registers from the client's id again (the
  // reset may then be shown twice; nothing is lost silently).
  if (r.position)
    st.last_id = r.position;
}

/// A routed message crashed the stream's handler: it is skipped (the
/// restarted session resumes after it), counted, and the client is told
/// in the stream's own framing, never left with a silent gap: SSE an
/// `event: reset`, a chunked or raw stream a `reset <reason> <lost>` line.
void report_poison(process& self, session_state& st) {
  st.in_routed = false;
  shared(st).poison_skipped.fetch_add(1, std::memory_order_relaxed);
  // Named by the skipped message's id: the client's position moves past it,
  // so a reconnect does not replay it (and crash on it) again.
  show_reset(self, st, replay_reset{reset_reason::poison_skipped, 1, st.last_id});
}

void on_info(process& self, session_state& st, const std::string& note) {
  if (st.now != phase::streaming || !st.hooks || !st.hooks->on_info)
    return;
  context ctx{st, self, nullptr};
  st.hooks->on_info(ctx, note);
}

void on_drain(process& self, session_state& st) {
  if (st.now == phase::idle) {
    // Bytes the client sent before the stop began are a request in flight:
    // read them before deciding that this connection is idle.
    on_readable(self, st);
    if (st.conn->closed())
      return;
  }
  switch (st.now) {
    case phase::idle:
      if (!st.leftover.empty())
        return; // parked pipelined requests: the next is answered, then the close
      if (!st.outbound.empty()) {
        close_after_output(self, st); // answers still being written
        return;
      }
      end_session(self, st, exit_reason::shutdown("drained"), stream_close_cause::server_stop);
      return;
    case phase::streaming: {
      context ctx{st, self, nullptr};
      st.current.keep_alive = false;
      ctx.finish();
      return;
    }
    default:
      st.current.keep_alive = false; // closes after the current response
  }
}

/// Picks up where a crashed session left its connection.
void recover(process& self, session_state& st) {
  auto& sh = shared(st);
  boost::system::error_code ignored;
  st.conn->socket().cancel(ignored); // the crashed session's pending waits
  // What belonged to the crashed process: its waits (cancelled above), its
  // parse loop, its pause (the new process re-checks the output).
  st.read_armed = false;
  st.write_armed = false;
  st.in_consume = false;
  st.paused = false;
  switch (st.now) {
    case phase::idle:
      // The crashed process's timer entry named it: re-arm for this one.
      arm_timer(self, st, sh.opts.idle_timeout);
      finish_if_input_done(self, st);
      return;
    case phase::handling:
      sh.crashes.fetch_add(1, std::memory_order_relaxed);
      if (st.response_started) {
        // Part of a response is on the wire: the framing is lost.
        end_session(self, st, exit_reason::shutdown("crashed_mid_response"), stream_close_cause::crashed);
        return;
      }
      sh.count_status(500);
      st.response_started = true;
      queue_write(self, st, serialize(error(500, "the handler crashed"), st.current));
      complete_response(self, st);
      return;
    case phase::streaming:
      sh.crashes.fetch_add(1, std::memory_order_relaxed);
      if (st.in_routed)
        report_poison(self, st);
      // Registering again after the last id written makes the registry
      // deliver, in order, what was sent while no session held the key.
      if (st.reg && st.key) {
        st.reg->register_process(*st.key, self.self(), st.last_id);
        // The confirmation may have gone to the crashed process.
        if (st.output_held)
          hold_until_reachable(self, st);
      }
      if (st.hooks && st.hooks->heartbeat.count() > 0)
        arm_timer(self, st, st.hooks->heartbeat);
      return;
    case phase::reading:
    case phase::closing:
      sh.crashes.fetch_add(1, std::memory_order_relaxed);
      end_session(self, st, exit_reason::shutdown("crashed"), stream_close_cause::crashed);
      return;
  }
}

} // namespace

// -- operations shared with context.cpp ------------------------------------------

void queue_write(process& self, session_state& st, std::string_view bytes) {
  if (st.conn->closed() || bytes.empty())
    return;
  if (st.output_held) {
    st.outbound.append(bytes);
    return;
  }
  if (st.outbound.empty()) {
    boost::system::error_code ec;
    auto n = st.conn->socket().write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      // The peer is gone; the next read reports it and ends the session.
      st.close_after_flush = true;
      st.now = phase::closing;
      end_session(self, st, exit_reason::shutdown("peer_closed"));
      return;
    }
    bytes.remove_prefix(ec ? 0 : n);
    if (bytes.empty())
      return;
    st.outbound.assign(bytes);
    arm_write(self, st);
    return;
  }
  st.outbound.append(bytes);
}

void stream_write(process& self, session_state& st, std::string_view payload) {
  auto& sh = shared(st);
  // What waits unwritten is bounded, not one write: an event larger than
  // the limit (SSE framing can make a message several times its size) goes
  // out when nothing waits, or no stream could ever take it. A reset is
  // never dropped: it is how the client learns of what was.
  if (!st.outbound.empty() && !st.writing_reset
      && st.outbound.size() + payload.size() > sh.opts.max_outbound) {
    if (sh.opts.slow_reader == slow_reader_policy::drop) {
      sh.dropped_chunks.fetch_add(1, std::memory_order_relaxed);
      if (st.in_routed)
        st.routed_write_dropped = true; // on_routed counts the message once
      return;
    }
    sh.slow_closed.fetch_add(1, std::memory_order_relaxed);
    end_session(self, st, exit_reason::shutdown("slow_reader"), stream_close_cause::slow_consumer);
    return;
  }
  queue_write(self, st, payload);
}

void complete_response(process& self, session_state& st) {
  if (st.conn->closed())
    return;
  if (st.stream != stream_kind::none) {
    stream_ended(st, st.conn->draining() ? stream_close_cause::server_stop : stream_close_cause::finished);
    st.hooks.reset();
    st.last_id.reset();
    st.gap = 0;
    st.announced = false;
    if (st.discarded_input) // what the client sent meanwhile is lost: no next request
      st.current.keep_alive = false;
  }
  // The next request on this connection may be anyone's: what this one
  // subscribed to must not reach it.
  if (st.key) {
    if (st.reg)
      st.reg->unregister_process(*st.key, self.self());
    st.key.reset();
    st.reg = nullptr;
  }
  st.response_started = false;
  if (!st.current.keep_alive || st.conn->draining()) {
    close_after_output(self, st);
    return;
  }
  st.now = phase::idle;
  arm_timer(self, st, shared(st).opts.idle_timeout);
  // Pipelined requests may already be waiting.
  if (!st.leftover.empty())
    consume(self, st);
}

void close_after_output(process& self, session_state& st) {
  if (st.conn->closed())
    return;
  auto& sh = shared(st);
  st.now = phase::closing;
  st.close_after_flush = true;
  // Closing over unread input resets the connection, and the reset can
  // destroy the end of the answer before the client has read it (RFC 9112
  // 9.6): linger when the client may still be sending, as nginx does. It
  // may when it sent more than was parsed, or while an answer it reads
  // slowly is still queued (it had time to send more).
  if (!st.leftover.empty() || st.parser || !st.outbound.empty())
    st.linger = true;
  st.parser.reset(); // nothing more is parsed on this connection
  std::string{}.swap(st.leftover);
  if (!st.outbound.empty()) {
    arm_timer(self, st, sh.opts.closing_timeout);
    return;
  }
  if (!st.linger && !st.input_closed) {
    // Unread input now, or answer bytes the client has not acknowledged yet
    // (a reset would discard them): two ioctls instead of a linger for
    // every close.
    int fd = st.conn->socket().native_handle();
    int unread = 0;
    int unacked = 0;
    st.linger = (::ioctl(fd, FIONREAD, &unread) == 0 && unread > 0)
                || (::ioctl(fd, SIOCOUTQ, &unacked) == 0 && unacked > 0);
  }
  // A stopping server does not linger: its drain is waiting for this close.
  if (st.linger && !st.lingering && !st.input_closed && !st.conn->draining()
      && sh.opts.linger_timeout.count() > 0) {
    // The answer is out: stop sending, then read and discard until the
    // client closes or the linger ends. A client that closes after reading,
    // as most do, ends it at once.
    st.lingering = true;
    boost::system::error_code ignored;
    st.conn->socket().shutdown(asio::socket_base::shutdown_send, ignored);
    arm_timer(self, st, sh.opts.linger_timeout);
    arm_read(self, st);
    return;
  }
  end_session(self, st, exit_reason::normal());
}

void end_session(process& self, session_state& st, exit_reason reason, stream_close_cause cause) {
  disarm_timer(st);
  if (st.stream != stream_kind::none)
    stream_ended(st, st.conn->draining() ? stream_close_cause::server_stop : cause);
  st.now = phase::closing;
  st.conn->close();
  self.exit(std::move(reason));
}

void announce_position(process& self, session_state& st) {
  if (st.announced || st.stream != stream_kind::sse || !st.key || !st.last_id || !st.last_id->position())
    return;
  st.announced = true;
  context ctx{st, self, nullptr};
  ctx.write_chunk("id: " + to_string(*st.last_id) + "\n\n");
}

void hold_until_reachable(process& self, session_state& st) {
  if (!st.reg || !st.key)
    return;
  st.output_held = true;
  st.reg->when_reachable(*st.key, [who = self.self()] { libactor::send(who, reachable_atom::value); });
}

void stream_ended(session_state& st, stream_close_cause cause) {
  if (st.stream == stream_kind::none)
    return;
  st.stream = stream_kind::none;
  auto& sh = shared(st);
  sh.streams.fetch_sub(1, std::memory_order_relaxed);
  sh.stream_closes[static_cast<std::size_t>(cause)].fetch_add(1, std::memory_order_relaxed);
}

void show_reset(process& self, session_state& st, const replay_reset& reset) {
  shared(st).resets_sent.fetch_add(1, std::memory_order_relaxed);
  context ctx{st, self, nullptr};
  st.writing_reset = true;
  if (st.hooks && st.hooks->on_reset)
    st.hooks->on_reset(ctx, reset);
  else
    ctx.write_reset(reset);
  st.writing_reset = false;
}

void arm_timer(process& self, session_state& st, std::chrono::milliseconds delay) {
  if (st.wheel == nullptr)
    return;
  // Aliasing pointer: shares the session state's ownership, points at the timer.
  std::shared_ptr<libactor::detail::wheel_timer> timer{st.self_ref.lock(), &st.timer};
  st.wheel->arm(timer, std::chrono::steady_clock::now() + delay,
                caf::actor_cast<caf::actor>(self.caf_self()));
}

void disarm_timer(session_state& st) {
  if (st.wheel == nullptr)
    return;
  std::shared_ptr<libactor::detail::wheel_timer> timer{st.self_ref.lock(), &st.timer};
  st.wheel->disarm(timer);
}

// -- the process -------------------------------------------------------------------

caf::behavior session_body(process& self, session_ptr st) {
  auto& sh = shared(*st);
  sh.sessions.fetch_add(1, std::memory_order_relaxed);
  self.caf_self()->attach_functor([server = st->server] {
    server->sessions.fetch_sub(1, std::memory_order_relaxed);
  });
  st->self_ref = st;
  if (st->wheel == nullptr) // the wheel of the session's own thread: arming it stays local
    st->wheel = sh.wheels[self.caf_self()->home() % sh.wheels.size()].get();
  st->conn->set_owner(self.caf_self()->address());
  if (!st->started) {
    st->started = true;
    arm_timer(self, *st, sh.opts.idle_timeout);
  } else {
    recover(self, *st);
  }
  if (!st->conn->closed()) {
    arm_read(self, *st);
    if (!st->outbound.empty())
      arm_write(self, *st);
    if (!st->leftover.empty() && st->now == phase::idle)
      consume(self, *st);
  }
  return {
    [self, st](readable_atom) mutable {
      st->read_armed = false; // the wait that sent this is spent
      on_readable(self, *st);
    },
    [self, st](writable_atom) mutable {
      st->write_armed = false;
      on_writable(self, *st);
    },
    [self, st](timeout_atom) mutable { on_timeout(self, *st); },
    [self, st](drain_atom) mutable { on_drain(self, *st); },
    [self, st](routed_atom, const message_id& id, const std::string& payload) mutable {
      on_routed(self, *st, id, payload);
    },
    [self, st](reset_atom, const replay_reset& r) mutable { on_reset(self, *st, r); },
    [self, st](reachable_atom) mutable { on_reachable(self, *st); },
    [self, st](info_atom, const std::string& note) mutable { on_info(self, *st, note); },
  };
}

} // namespace libactor::http::detail
