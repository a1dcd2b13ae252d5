#include "libactor/net/listener.hpp"

#include <condition_variable>
#include <stdexcept>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "internal/net/connection.hpp"
#include "internal/node_impl.hpp"
#include "libactor/log.hpp"

namespace libactor::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// SO_REUSEPORT: several sockets on one port, the kernel balancing accepts.
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

bool is_fd_exhaustion(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE
         || ec == asio::error::no_buffer_space || ec.value() == ENOMEM;
}

int clamp_to_int(long long v) {
  return static_cast<int>(std::clamp<long long>(v, INT_MIN, INT_MAX));
}

} // namespace

/// One accepting socket and its retry timer.
struct acceptor_slot {
  explicit acceptor_slot(asio::io_context& io) : acceptor(io), backoff(io) {
  }
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::chrono::milliseconds delay{0};
  /// An async_accept is outstanding (or the backoff timer runs).
  bool armed = false;
};

struct listener::impl : std::enable_shared_from_this<listener::impl> {
  impl(node& n, listener_options o, accept_handler a, drain_handler d)
    : owner(n),
      opts(std::move(o)),
      on_accept(std::move(a)),
      on_drain(std::move(d)),
      io(n.internals().io->context()) {
  }

  // -- configuration -----------------------------------------------------------

  node& owner;
  listener_options opts;
  accept_handler on_accept;
  drain_handler on_drain;
  asio::io_context& io;
  std::uint16_t bound_port = 0;

  // -- state, guarded by mtx ---------------------------------------------------

  std::mutex mtx;
  std::condition_variable closed_cv;
  std::vector<std::unique_ptr<acceptor_slot>> slots;
  bool stopping = false;
  bool paused = false;
  /// on_accept calls running now; `stop` waits for them, so that no call
  /// reaches the owner's handler once `stop` has returned.
  std::size_t in_callback = 0;
  bool in_fd_burst = false;
  std::uint64_t burst_failures = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<connection>> open;

  // -- counters ------------------------------------------------------------------

  std::atomic<std::size_t> active{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> fd_exhausted{0};
  std::atomic<std::uint64_t> pauses{0};
  std::atomic<std::uint64_t> option_failures{0};
  /// The first refused socket option is logged; the rest only counted (the
  /// same refusal repeats on every accept).
  std::atomic<bool> option_failure_logged{false};
  std::uint64_t next_id = 1;

  void bind() {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(opts.address, ec);
    if (ec)
      throw std::system_error(ec, "listener: bad address '" + opts.address + "'");
    auto count = std::max<std::size_t>(1, opts.acceptors_per_thread)
                 * owner.config().io_threads;
    std::uint16_t port = opts.port;
    if (port != 0) {
      // SO_REUSEPORT would let this listener silently share a port that
      // another server of the same user holds; refuse as a plain bind would.
      tcp::acceptor probe{io};
      tcp::endpoint ep{addr, port};
      probe.open(ep.protocol(), ec);
      if (!ec)
        probe.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec)
        probe.bind(ep, ec);
      if (ec)
        throw std::system_error(ec, "listener: cannot listen on " + opts.address + ":"
                                      + std::to_string(port));
    }
    for (std::size_t i = 0; i < count; ++i) {
      // Spread over the I/O threads: a connection accepted on thread t has
      // its socket served by t and, started through a sharded supervisor's
      // cast_start_child, its session on t as well.
      auto slot = std::make_unique<acceptor_slot>(owner.internals().io->context(i));
      tcp::endpoint ep{addr, port};
      auto& acc = slot->acceptor;
      acc.open(ep.protocol(), ec);
      if (!ec)
        acc.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec)
        acc.set_option(reuse_port(true), ec);
      if (!ec)
        acc.bind(ep, ec);
      if (!ec)
        acc.listen(opts.backlog, ec);
      if (ec)
        throw std::system_error(ec, "listener: cannot listen on " + opts.address + ":"
                                      + std::to_string(port));
      // The first socket picks the port when 0 was asked; the others join it.
      port = acc.local_endpoint().port();
      bound_port = port;
      apply_socket_options(acc); // inherited by every socket it accepts
      slots.push_back(std::move(slot));
    }
    bound_port = port;
  }

  /// Arms every idle acceptor that the limit allows. Requires `mtx`.
  void arm_idle() {
    for (auto& slot : slots)
      if (!slot->armed)
        arm(*slot);
  }

  /// Requires `mtx`.
  void arm(acceptor_slot& slot) {
    if (stopping || slot.armed)
      return;
    if (active.load(std::memory_order_relaxed) >= opts.max_connections) {
      if (!paused) {
        paused = true;
        pauses.fetch_add(1, std::memory_order_relaxed);
        log::warning("listener_paused", log::kv("port", bound_port),
                     log::kv("max_connections", opts.max_connections));
      }
      return;
    }
    slot.armed = true;
    // The accepted socket gets the acceptor's context: its readiness is then
    // served by the thread that accepted it, where its session will run.
    slot.acceptor.async_accept(
      [self = shared_from_this(), s = &slot](const boost::system::error_code& ec,
                                             tcp::socket sock) mutable {
        self->accepted_one(*s, ec, std::move(sock));
      });
  }

  /// One setsockopt on an accepted socket; a refusal is counted (and the
  /// first one logged), never fatal: the connection is served without it.
  void set_option(int fd, int level, int name, const char* what, int value) {
    if (::setsockopt(fd, level, name, &value, sizeof(value)) == 0)
      return;
    auto err = errno;
    option_failures.fetch_add(1, std::memory_order_relaxed);
    if (!option_failure_logged.exchange(true, std::memory_order_relaxed))
      log::warning("socket_option_refused", log::kv("port", bound_port), log::kv("option", what),
                   log::kv("value", value), log::kv("error", std::strerror(err)));
  }

  /// Keepalive and TCP_USER_TIMEOUT (listener_options says why), set once
  /// on each listening socket: Linux copies them to every socket it accepts
  /// (accept clones the listener's socket), so the accept path pays no
  /// system call for them (five per connection measured as about 15 us of
  /// server CPU per `Connection: close` request, bench/accept_rate.sh).
  void apply_socket_options(tcp::acceptor& acc) {
    auto fd = acc.native_handle();
    if (opts.keepalive_idle.count() > 0) {
      set_option(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 1);
      set_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", clamp_to_int(opts.keepalive_idle.count()));
      set_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL",
                 clamp_to_int(opts.keepalive_interval.count()));
      set_option(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", opts.keepalive_count);
    }
    if (opts.user_timeout.count() > 0)
      set_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT",
                 clamp_to_int(opts.user_timeout.count()));
  }

  void accepted_one(acceptor_slot& slot, const boost::system::error_code& ec, tcp::socket sock) {
    connection_ptr conn;
    {
      std::lock_guard<std::mutex> guard{mtx};
      slot.armed = false;
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted)
          return;
        if (is_fd_exhaustion(ec)) {
          back_off(slot, ec);
          return;
        }
        // ECONNABORTED and friends concern one client only.
        log::debug("accept_failed", log::kv("port", bound_port), log::kv("error", ec.message()));
        arm(slot);
        return;
      }
      if (in_fd_burst) {
        in_fd_burst = false;
        log::info("accept_resumed", log::kv("port", bound_port),
                  log::kv("failed_accepts", burst_failures));
        burst_failures = 0;
      }
      slot.delay = std::chrono::milliseconds{0};
      auto id = next_id++;
      if (stopping)
        return; // accepted as the listener stopped: the socket just closes
      conn = std::make_shared<connection>(std::move(sock), shared_from_this(), id);
      open.emplace(id, conn);
      active.fetch_add(1, std::memory_order_relaxed);
      accepted.fetch_add(1, std::memory_order_relaxed);
      ++in_callback;
      arm(slot);
    }
    on_accept(std::move(conn));
    std::lock_guard<std::mutex> guard{mtx};
    --in_callback;
    closed_cv.notify_all();
  }

  /// Out of descriptors: log once per burst, wait, retry. Requires `mtx`.
  void back_off(acceptor_slot& slot, const boost::system::error_code& ec) {
    fd_exhausted.fetch_add(1, std::memory_order_relaxed);
    ++burst_failures;
    if (!in_fd_burst) {
      in_fd_burst = true;
      log::error("accept_fd_exhausted", log::kv("port", bound_port), log::kv("error", ec.message()),
                 log::kv("open_connections", active.load()));
    }
    slot.delay = slot.delay.count() == 0 ? opts.emfile_backoff_min
                                         : std::min(slot.delay * 2, opts.emfile_backoff_max);
    slot.armed = true;
    slot.backoff.expires_after(slot.delay);
    slot.backoff.async_wait([self = shared_from_this(), s = &slot](const boost::system::error_code& e) {
      std::lock_guard<std::mutex> guard{self->mtx};
      s->armed = false;
      if (!e)
        self->arm(*s);
    });
  }

  void closed_one(std::uint64_t id) {
    std::lock_guard<std::mutex> guard{mtx};
    open.erase(id);
    active.fetch_sub(1, std::memory_order_relaxed);
    if (paused && active.load(std::memory_order_relaxed) < opts.max_connections) {
      paused = false;
      log::info("listener_resumed", log::kv("port", bound_port));
      arm_idle();
    }
    closed_cv.notify_all();
  }
};

// -- connection ------------------------------------------------------------------

connection::connection(tcp::socket socket, std::shared_ptr<listener::impl> owner, std::uint64_t id)
  : socket_(std::move(socket)), fd_(socket_.native_handle()), listener_(std::move(owner)), id_(id) {
  // The session reads and writes with synchronous calls that must never
  // block its I/O thread: would_block sends it back to waiting.
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);
}

int native_handle(const connection& conn) noexcept {
  return conn.fd_;
}

connection::~connection() {
  close();
}

void connection::close() noexcept {
  auto before = state_.fetch_or(closed_bit, std::memory_order_acq_rel);
  if ((before & closed_bit) != 0)
    return;
  // An abort that got in first is inside shutdown(2) on this descriptor:
  // let it finish (one system call) before the number can be reused. No
  // abort can start from here on, as it sees closed_bit.
  if ((before & aborting_bit) != 0)
    while ((state_.load(std::memory_order_acquire) & aborting_bit) != 0)
      std::this_thread::yield();
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  listener_->closed_one(id_);
}

void connection::abort() noexcept {
  auto s = state_.load(std::memory_order_relaxed);
  do {
    // Closed (or closing): the descriptor is not ours to touch any more.
    // Another abort in progress: it does the shutdown.
    if (s != 0)
      return;
  } while (!state_.compare_exchange_weak(s, aborting_bit, std::memory_order_acquire,
                                         std::memory_order_relaxed));
  ::shutdown(fd_, SHUT_RDWR);
  state_.fetch_and(static_cast<std::uint8_t>(~aborting_bit), std::memory_order_release);
}

// -- listener --------------------------------------------------------------------

listener::listener(node& owner, listener_options opts, accept_handler on_accept,
                   drain_handler on_drain)
  : impl_(std::make_shared<impl>(owner, std::move(opts), std::move(on_accept),
                                 std::move(on_drain))) {
  impl_->bind();
  std::lock_guard<std::mutex> guard{impl_->mtx};
  impl_->arm_idle();
}

listener::~listener() {
  stop(std::chrono::milliseconds{0});
}

std::uint16_t listener::port() const noexcept {
  return impl_->bound_port;
}

const listener_options& listener::options() const noexcept {
  return impl_->opts;
}

listener_stats listener::stats() const noexcept {
  return listener_stats{impl_->active.load(), impl_->accepted.load(), impl_->fd_exhausted.load(),
                        impl_->pauses.load(), impl_->option_failures.load()};
}

drain_report listener::stop(std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  // A drain waits for sessions that may run on this very thread.
  if (timeout > std::chrono::milliseconds{0} && d.owner.on_io_thread())
    throw std::logic_error("net::listener::stop with a drain timeout on an I/O thread would block "
                           "it; stop from outside the node's threads");
  std::vector<connection_ptr> to_drain;
  {
    std::lock_guard<std::mutex> guard{d.mtx};
    if (d.stopping)
      return {};
    d.stopping = true;
    // Marked before the acceptors close: whoever sees the port closed also
    // sees every open connection draining.
    for (auto& kv : d.open)
      if (auto conn = kv.second.lock()) {
        conn->set_draining();
        to_drain.push_back(std::move(conn));
      }
    boost::system::error_code ignored;
    for (auto& slot : d.slots) {
      slot->acceptor.close(ignored);
      slot->backoff.cancel();
    }
  }
  auto initial = to_drain.size();
  if (d.on_drain)
    for (auto& conn : to_drain)
      d.on_drain(conn);
  to_drain.clear(); // our references must not keep connections open
  drain_report report;
  {
    std::unique_lock<std::mutex> guard{d.mtx};
    d.closed_cv.wait(guard, [&] { return d.in_callback == 0; });
    d.closed_cv.wait_for(guard, timeout, [&] { return d.open.empty(); });
    for (auto& kv : d.open)
      if (auto conn = kv.second.lock())
        to_drain.push_back(std::move(conn));
  }
  report.cut = to_drain.size();
  report.drained = initial >= report.cut ? initial - report.cut : 0;
  // The sessions own their sockets; shutdown(2) makes their next operation
  // fail so that they close and end by themselves.
  for (auto& conn : to_drain)
    conn->abort();
  if (initial > 0)
    log::info("listener_stopped", log::kv("port", d.bound_port), log::kv("drained", report.drained),
              log::kv("cut", report.cut));
  return report;
}

} // namespace libactor::net
