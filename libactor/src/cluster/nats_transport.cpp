#include "libactor/cluster/nats_transport.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nats/nats.h>

#include "internal/cluster/frame.hpp"
#include "internal/cluster/jetstream_store.hpp"
#include "internal/cluster/subject.hpp"
#include "internal/cluster/transport_counters.hpp"
#include "libactor/log.hpp"
#include "libactor/registry.hpp"

namespace libactor::cluster {

using detail::decode_frame;
using detail::encode_frame;

namespace {

std::string default_node_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0)
    host[0] = '\0';
  return fmt::format("{}:{}", host[0] ? host : "node", ::getpid());
}

/// The config with its derived defaults filled in, so `config()` shows them.
nats_config resolved(nats_config cfg) {
  if (cfg.node_name.empty())
    cfg.node_name = default_node_name();
  return cfg;
}

int clamp_int(std::size_t x) {
  return static_cast<int>(std::min<std::size_t>(x, std::numeric_limits<int>::max()));
}

/// Throws for a C client call that must not fail while setting up.
void check(natsStatus s, const char* what) {
  if (s != NATS_OK)
    throw std::runtime_error(fmt::format("nats: {}: {}", what, natsStatus_GetText(s)));
}

} // namespace

// -- impl ------------------------------------------------------------------------

/// Everything NATS calls back into. Its address is the closure of every
/// connection callback and (through `subscription`) every message handler;
/// the destructor waits until the client has made its last call.
class nats_transport::impl {
public:
  explicit impl(nats_config cfg);
  ~impl();

  /// Closes the connection and waits for the client's last callbacks;
  /// false if they did not come (the caller must then leak this object).
  bool shut_down();

  nats_stats stats() const;
  bool wait_connected(std::chrono::milliseconds timeout);

  void attach(registry& owner);
  void detach(registry& owner);
  std::size_t publish(const std::string& subject, const std::string& frame);
  std::size_t forward(const registry_key& key, message_id id, const std::string& payload);
  std::size_t forward_broadcast(const std::string& payload);
  void reconcile(const registry_key& key);
  void fetch(const registry_key& key, std::optional<message_id> after, fetch_handler done);
  void when_reachable(std::function<void()> done);
  /// The confirmer thread: one round trip per batch of `when_reachable`.
  void confirm_loop();
  /// Ends the confirmer, answering what waits. Idempotent.
  void stop_confirmer();

  const nats_config cfg_;
  const std::string key_prefix_; ///< "<prefix>.key."
  const std::string all_subject_;

private:
  /// The closure of one subscription: what its handler needs. Freed by the
  /// client's completion callback, after the handler's last call.
  struct subscription {
    impl* owner;
    registry_key key;
    bool broadcast;
    /// The subject is a hash: frames carry their key, checked here.
    bool hashed;
  };

  // -- NATS callbacks (static trampolines; closures are `impl*`) ---------------

  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);
  static void on_complete(void* closure);
  static void on_connected(natsConnection* nc, void* closure);
  static void on_disconnected(natsConnection* nc, void* closure);
  static void on_reconnected(natsConnection* nc, void* closure);
  static void on_closed(natsConnection* nc, void* closure);
  static void on_error(natsConnection* nc, natsSubscription* sub, natsStatus err, void* closure);
  /// Adds what `sub` dropped since its last slow-consumer event.
  void count_dropped(natsSubscription* sub);
  /// A subscription is about to be destroyed (under `subs_mtx_`): its last
  /// drops are counted, and its address may name another later.
  void forget_dropped(natsSubscription* sub);
  /// Brings `slow_consumer_dropped` up to date (under `subs_mtx_` and
  /// `dropped_mtx_`).
  void read_dropped_locked() const;

  void deliver(const subscription& sub, natsMsg* msg);
  void up(natsConnection* nc, const char* event);
  std::string url_of(natsConnection* nc) const;
  natsSubscription* subscribe(const std::string& subject, registry_key key, bool broadcast);
  void unsubscribe_all_locked();

  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  std::unique_ptr<detail::jetstream_store> store_;
  mutable detail::transport_counters counters_;

  /// The registry inbound messages go to; exclusive only to change it.
  std::shared_mutex reg_mtx_;
  registry* reg_ = nullptr;

  /// One subscription per key with a local process. Lock order: `subs_mtx_`,
  /// then `reg_mtx_`, then a registry partition.
  mutable std::mutex subs_mtx_;
  std::mutex confirm_mtx_;
  std::condition_variable confirm_cv_;
  std::vector<std::function<void()>> confirm_queue_;
  bool confirm_stopping_ = false;
  std::thread confirmer_;
  /// Per subscription that had a slow-consumer episode, the client's
  /// dropped count last read. Locked after `subs_mtx_`.
  mutable std::mutex dropped_mtx_;
  mutable std::unordered_map<natsSubscription*, std::int64_t> dropped_seen_;
  std::unordered_map<registry_key, natsSubscription*> subs_;
  natsSubscription* all_sub_ = nullptr;
  std::atomic<std::size_t> sub_count_{0};

  /// Connection state and the client's outstanding closures.
  mutable std::mutex state_mtx_;
  mutable std::condition_variable state_cv_;
  std::size_t live_closures_ = 0;
  bool closed_ = false;
  /// Publications fail while set: logged once per outage.
  std::atomic<bool> publish_failing_{false};
  /// Set by `shut_down`: the disconnection that follows is ours.
  std::atomic<bool> closing_{false};
};

nats_transport::impl::impl(nats_config cfg)
  : cfg_(resolved(std::move(cfg))),
    key_prefix_(cfg_.subject_prefix + ".key."),
    all_subject_(cfg_.subject_prefix + ".all") {
  if (!valid_subject_prefix(cfg_.subject_prefix))
    throw std::invalid_argument("nats_transport: invalid subject prefix '" + cfg_.subject_prefix + "'");
  if (cfg_.servers.empty())
    throw std::invalid_argument("nats_transport: no servers");
  auto& name = cfg_.node_name;
  std::vector<const char*> urls;
  for (auto& s : cfg_.servers)
    urls.push_back(s.c_str());
  // The pool is process-wide and only grows; set before any subscription.
  check(nats_SetMessageDeliveryPoolSize(std::max(cfg_.delivery_threads, 1)), "delivery pool");
  check(natsOptions_Create(&opts_), "options");
  try {
    check(natsOptions_SetServers(opts_, urls.data(), static_cast<int>(urls.size())), "servers");
    check(natsOptions_SetName(opts_, name.c_str()), "name");
    check(natsOptions_SetTimeout(opts_, cfg_.connect_timeout.count()), "connect timeout");
    check(natsOptions_SetReconnectWait(opts_, cfg_.reconnect_wait.count()), "reconnect wait");
    check(natsOptions_SetMaxReconnect(opts_, cfg_.max_reconnects), "max reconnects");
    check(natsOptions_SetReconnectBufSize(opts_, clamp_int(cfg_.reconnect_buffer_bytes)), "reconnect buffer");
    check(natsOptions_SetMaxPendingMsgs(opts_, std::max(cfg_.max_pending_messages, 1)), "max pending");
    // A node delivers its own sends locally; hearing them back would deliver
    // them twice.
    check(natsOptions_SetNoEcho(opts_, true), "no echo");
    // One shared pool of delivery threads, not one thread per subscription
    // (100,000 keys would be 100,000 threads).
    check(natsOptions_UseGlobalMessageDelivery(opts_, true), "global delivery");
    check(natsOptions_SetDisconnectedCB(opts_, on_disconnected, this), "disconnected callback");
    check(natsOptions_SetReconnectedCB(opts_, on_reconnected, this), "reconnected callback");
    check(natsOptions_SetClosedCB(opts_, on_closed, this), "closed callback");
    check(natsOptions_SetErrorHandler(opts_, on_error, this), "error handler");
    check(natsOptions_SetRetryOnFailedConnect(opts_, cfg_.retry_on_failed_connect,
                                              cfg_.retry_on_failed_connect ? on_connected : nullptr, this),
          "retry on failed connect");
    auto s = natsConnection_Connect(&nc_, opts_);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
      throw std::runtime_error(fmt::format("nats: cannot connect to {}: {}", fmt::join(cfg_.servers, ","),
                                           natsStatus_GetText(s)));
    }
    // From here the connection's callbacks may run: `up` reads `store_`
    // under the same lock.
    auto store = std::make_unique<detail::jetstream_store>(nc_, cfg_, key_prefix_ + ">", counters_);
    if (!cfg_.jetstream)
      store->stop();
    {
      std::lock_guard<std::mutex> lock{state_mtx_};
      store_ = std::move(store);
    }
    if (s == NATS_OK) {
      up(nc_, "nats_connected");
    } else {
      log::warning("nats_connect_pending", log::kv("node", name),
                   log::kv("servers", fmt::format("{}", fmt::join(cfg_.servers, ","))),
                   log::kv("status", natsStatus_GetText(s)),
                   log::kv("retry_ms", cfg_.reconnect_wait.count()));
    }
  } catch (...) {
    // The destructor will not run: undo by hand what the client holds.
    if (nc_ != nullptr) {
      shut_down();
      natsConnection_Destroy(nc_);
    }
    natsOptions_Destroy(opts_);
    throw;
  }
}

nats_transport::impl::~impl() {
  natsConnection_Destroy(nc_);
  natsOptions_Destroy(opts_);
}

bool nats_transport::impl::shut_down() {
  stop_confirmer();
  if (store_)
    store_->stop();
  {
    std::lock_guard<std::mutex> lock{subs_mtx_};
    unsubscribe_all_locked();
  }
  closing_ = true;
  if (nc_ != nullptr)
    natsConnection_Close(nc_);
  // The client calls `on_closed` last among the connection callbacks, and
  // `on_complete` after a subscription's last message: after both, nothing
  // of it refers to this object any more.
  std::unique_lock<std::mutex> lock{state_mtx_};
  auto done = state_cv_.wait_for(lock, std::chrono::seconds{10},
                                 [this] { return (closed_ || nc_ == nullptr) && live_closures_ == 0; });
  if (!done)
    log::error("nats_shutdown_stuck", log::kv("node", cfg_.node_name), log::kv("closures", live_closures_),
               log::kv("closed", closed_));
  return done;
}

// -- connection events -------------------------------------------------------------

std::string nats_transport::impl::url_of(natsConnection* nc) const {
  char buf[256] = {};
  if (natsConnection_GetConnectedUrl(nc, buf, sizeof(buf)) != NATS_OK)
    return {};
  return buf;
}

void nats_transport::impl::up(natsConnection* nc, const char* event) {
  publish_failing_ = false;
  log::info(event, log::kv("node", cfg_.node_name), log::kv("url", url_of(nc)),
            log::kv("subscriptions", sub_count_.load()));
  std::lock_guard<std::mutex> lock{state_mtx_};
  // Null only while the constructor runs; `attach` sets the stream up then.
  if (store_)
    store_->connected();
  state_cv_.notify_all();
}

void nats_transport::impl::on_connected(natsConnection* nc, void* closure) {
  static_cast<impl*>(closure)->up(nc, "nats_connected");
}

void nats_transport::impl::on_reconnected(natsConnection* nc, void* closure) {
  auto* self = static_cast<impl*>(closure);
  ++self->counters_.reconnects;
  // The client has sent every subscription again before calling this.
  self->up(nc, "nats_reconnected");
}

void nats_transport::impl::on_disconnected(natsConnection*, void* closure) {
  auto* self = static_cast<impl*>(closure);
  if (self->closing_)
    return;
  ++self->counters_.disconnects;
  log::warning("nats_disconnected", log::kv("node", self->cfg_.node_name),
               log::kv("subscriptions", self->sub_count_.load()),
               log::kv("reconnect_wait_ms", self->cfg_.reconnect_wait.count()),
               log::kv("buffer_bytes", self->cfg_.reconnect_buffer_bytes));
}

void nats_transport::impl::on_closed(natsConnection*, void* closure) {
  auto* self = static_cast<impl*>(closure);
  log::info("nats_closed", log::kv("node", self->cfg_.node_name),
            log::kv("published", self->counters_.published.load()),
            log::kv("dropped", self->counters_.dropped.load()));
  std::lock_guard<std::mutex> lock{self->state_mtx_};
  self->closed_ = true;
  self->state_cv_.notify_all();
}

void nats_transport::impl::count_dropped(natsSubscription* sub) {
  // The client calls this once per episode (the first drop) and counts the
  // episode's drops on the subscription; they are read from there while the
  // subscription lives (`read_dropped_locked`) and once more before it goes.
  if (sub == nullptr)
    return;
  std::lock_guard<std::mutex> lock{subs_mtx_};
  // Only a live subscription: the handler may run after one was destroyed.
  bool live = sub == all_sub_
              || std::any_of(subs_.begin(), subs_.end(), [sub](const auto& kv) { return kv.second == sub; });
  if (!live)
    return;
  std::lock_guard<std::mutex> dlock{dropped_mtx_};
  dropped_seen_.emplace(sub, 0);
  read_dropped_locked();
}

void nats_transport::impl::read_dropped_locked() const {
  for (auto& [sub, seen] : dropped_seen_) {
    std::int64_t total = 0;
    if (natsSubscription_GetDropped(sub, &total) == NATS_OK && total > seen) {
      counters_.slow_consumer_dropped += static_cast<std::uint64_t>(total - seen);
      seen = total;
    }
  }
}

void nats_transport::impl::forget_dropped(natsSubscription* sub) {
  std::lock_guard<std::mutex> lock{dropped_mtx_};
  auto i = dropped_seen_.find(sub);
  if (i == dropped_seen_.end())
    return;
  std::int64_t total = 0;
  if (natsSubscription_GetDropped(sub, &total) == NATS_OK && total > i->second)
    counters_.slow_consumer_dropped += static_cast<std::uint64_t>(total - i->second);
  dropped_seen_.erase(i);
}

void nats_transport::impl::on_error(natsConnection*, natsSubscription* sub, natsStatus err, void* closure) {
  auto* self = static_cast<impl*>(closure);
  if (err == NATS_SLOW_CONSUMER) {
    ++self->counters_.slow_consumers;
    self->count_dropped(sub);
  }
  const char* subject = sub != nullptr ? natsSubscription_GetSubject(sub) : nullptr;
  log::warning("nats_error", log::kv("node", self->cfg_.node_name),
               log::kv("status", natsStatus_GetText(err)),
               log::kv("subject", subject != nullptr ? subject : "-"));
}

// -- inbound -------------------------------------------------------------------------

void nats_transport::impl::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* sub = static_cast<subscription*>(closure);
  sub->owner->deliver(*sub, msg);
}

void nats_transport::impl::deliver(const subscription& sub, natsMsg* msg) {
  auto f = decode_frame(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  // Input like any other: a hashed subject may carry another key's messages
  // (the frame names its key); a key's message must carry a real id and a
  // broadcast none (each node numbers it); no payload beyond the limit.
  bool ok = f && f->payload.size() <= cfg_.max_inbound_payload
            && (sub.broadcast ? !f->has_key && f->id == message_id{}
                              : f->id.valid() && f->has_key == sub.hashed
                                  && (!sub.hashed || f->key == sub.key.string()));
  if (!ok) {
    ++counters_.rejected;
    natsMsg_Destroy(msg);
    return;
  }
  std::string payload{f->payload};
  auto id = f->id;
  natsMsg_Destroy(msg);
  std::shared_lock<std::shared_mutex> lock{reg_mtx_};
  if (reg_ == nullptr)
    return;
  // Counted before the hand-off: a process may handle the message (on its
  // own I/O thread) before this call returns, and whoever saw it delivered
  // must find it counted.
  ++counters_.received;
  if (sub.broadcast)
    reg_->broadcast_local(payload);
  else
    reg_->send_local(sub.key, std::move(payload), id);
}

void nats_transport::impl::on_complete(void* closure) {
  auto* sub = static_cast<subscription*>(closure);
  auto* self = sub->owner;
  delete sub;
  std::lock_guard<std::mutex> lock{self->state_mtx_};
  --self->live_closures_;
  self->state_cv_.notify_all();
}

// -- subscriptions -------------------------------------------------------------------

natsSubscription* nats_transport::impl::subscribe(const std::string& subject, registry_key key,
                                                  bool broadcast) {
  {
    std::lock_guard<std::mutex> lock{state_mtx_};
    ++live_closures_;
  }
  bool hashed = !broadcast && detail::token_is_hashed(key);
  auto* closure = new subscription{this, std::move(key), broadcast, hashed};
  natsSubscription* sub = nullptr;
  // While disconnected the client records the subscription and sends it on
  // reconnection.
  auto s = natsConnection_Subscribe(&sub, nc_, subject.c_str(), on_message, closure);
  if (s == NATS_OK)
    s = natsSubscription_SetOnCompleteCB(sub, on_complete, closure);
  if (s == NATS_OK)
    return sub;
  ++counters_.subscribe_failures;
  log::error("nats_subscribe_failed", log::kv("node", cfg_.node_name), log::kv("subject", subject),
             log::kv("status", natsStatus_GetText(s)));
  if (sub == nullptr) {
    delete closure;
    std::lock_guard<std::mutex> lock{state_mtx_};
    --live_closures_;
  } else {
    // Closed under our feet (the connection closed): a handler may still
    // hold the closure, so it stays; shut_down will not wait for it.
    natsSubscription_Destroy(sub);
    std::lock_guard<std::mutex> lock{state_mtx_};
    --live_closures_;
  }
  return nullptr;
}

void nats_transport::impl::unsubscribe_all_locked() {
  for (auto& [key, sub] : subs_) {
    natsSubscription_Unsubscribe(sub);
    forget_dropped(sub);
    natsSubscription_Destroy(sub);
  }
  subs_.clear();
  sub_count_ = 0;
  if (all_sub_ != nullptr) {
    natsSubscription_Unsubscribe(all_sub_);
    forget_dropped(all_sub_);
    natsSubscription_Destroy(all_sub_);
    all_sub_ = nullptr;
  }
}

void nats_transport::impl::reconcile(const registry_key& key) {
  std::lock_guard<std::mutex> lock{subs_mtx_};
  bool wanted = false;
  {
    std::shared_lock<std::shared_mutex> reg_lock{reg_mtx_};
    wanted = reg_ != nullptr && !reg_->lookup(key).empty();
  }
  auto i = subs_.find(key);
  if (wanted && i == subs_.end()) {
    if (auto* sub = subscribe(key_prefix_ + detail::key_token(key), key, false)) {
      subs_.emplace(key, sub);
      ++sub_count_;
    }
  } else if (!wanted && i != subs_.end()) {
    // The handler may run once more for a message already queued; the
    // registry then buffers it as for any key without a process.
    natsSubscription_Unsubscribe(i->second);
    forget_dropped(i->second);
    natsSubscription_Destroy(i->second);
    subs_.erase(i);
    --sub_count_;
  }
}

void nats_transport::impl::attach(registry& owner) {
  {
    std::unique_lock<std::shared_mutex> lock{reg_mtx_};
    if (reg_ != nullptr && reg_ != &owner)
      throw std::logic_error("nats_transport: already serves another registry");
    reg_ = &owner;
  }
  auto& rc = owner.config();
  if (cfg_.jetstream)
    store_->set_limits(cfg_.stream_messages_per_key, rc.max_age);
  std::lock_guard<std::mutex> lock{subs_mtx_};
  if (all_sub_ == nullptr)
    all_sub_ = subscribe(all_subject_, registry_key{std::string{}}, true);
}

void nats_transport::impl::detach(registry& owner) {
  std::lock_guard<std::mutex> lock{subs_mtx_};
  {
    std::shared_lock<std::shared_mutex> reg_lock{reg_mtx_};
    if (reg_ != &owner)
      return;
  }
  unsubscribe_all_locked();
  // Exclusive: waits for handlers inside the registry to leave it.
  std::unique_lock<std::shared_mutex> reg_lock{reg_mtx_};
  reg_ = nullptr;
}

// -- outbound ------------------------------------------------------------------------

std::size_t nats_transport::impl::publish(const std::string& subject, const std::string& frame) {
  // Not connected: the client would buffer the publication and flush it at
  // reconnection, when the receiving nodes may not have resubscribed yet,
  // and core NATS would drop it silently there. Counted as dropped instead.
  auto s = cfg_.buffer_while_disconnected || natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED
             ? natsConnection_Publish(nc_, subject.c_str(), frame.data(), static_cast<int>(frame.size()))
             : NATS_CONNECTION_DISCONNECTED;
  if (s == NATS_OK) {
    ++counters_.published;
    return 0;
  }
  ++counters_.dropped;
  if (!publish_failing_.exchange(true)) {
    log::warning("nats_publish_failed", log::kv("node", cfg_.node_name), log::kv("subject", subject),
                 log::kv("status", natsStatus_GetText(s)),
                 log::kv("dropped", counters_.dropped.load()));
  }
  return 0;
}

std::size_t nats_transport::impl::forward(const registry_key& key, message_id id,
                                          const std::string& payload) {
  bool hashed = detail::token_is_hashed(key);
  auto frame = encode_frame(id, hashed ? &key.string() : nullptr, payload);
  return publish(key_prefix_ + detail::key_token(key), frame);
}

std::size_t nats_transport::impl::forward_broadcast(const std::string& payload) {
  return publish(all_subject_, encode_frame(message_id{}, nullptr, payload));
}

void nats_transport::impl::fetch(const registry_key& key, std::optional<message_id> after,
                                 fetch_handler done) {
  if (!cfg_.jetstream) {
    done(std::nullopt);
    return;
  }
  std::optional<std::string> key_check;
  if (detail::token_is_hashed(key))
    key_check = key.string();
  store_->fetch(key_prefix_ + detail::key_token(key), std::move(key_check), after, std::move(done));
}

// -- reachability -------------------------------------------------------------------

void nats_transport::impl::when_reachable(std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock{confirm_mtx_};
    if (!confirm_stopping_) {
      if (!confirmer_.joinable())
        confirmer_ = std::thread{[this] { confirm_loop(); }};
      confirm_queue_.push_back(std::move(done));
      confirm_cv_.notify_one();
      return;
    }
  }
  ++counters_.unconfirmed;
  done();
}

void nats_transport::impl::confirm_loop() {
  std::unique_lock<std::mutex> lock{confirm_mtx_};
  for (;;) {
    confirm_cv_.wait(lock, [this] { return confirm_stopping_ || !confirm_queue_.empty(); });
    if (confirm_queue_.empty())
      return;
    std::vector<std::function<void()>> batch;
    batch.swap(confirm_queue_);
    lock.unlock();
    // Every subscription of this batch was sent before this PING on the
    // same connection: its PONG means the server routes to them all.
    bool confirmed = natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED
                     && natsConnection_FlushTimeout(nc_, cfg_.request_timeout.count()) == NATS_OK;
    if (!confirmed)
      counters_.unconfirmed += batch.size();
    // Answered either way: a stream must not wait for ever on a server
    // that is down; its messages then go by the failure rules (cluster.md).
    for (auto& done : batch)
      done();
    lock.lock();
  }
}

void nats_transport::impl::stop_confirmer() {
  {
    std::lock_guard<std::mutex> lock{confirm_mtx_};
    confirm_stopping_ = true;
  }
  confirm_cv_.notify_all();
  if (confirmer_.joinable())
    confirmer_.join();
  // Requests that came after the last batch was taken.
  std::vector<std::function<void()>> rest;
  {
    std::lock_guard<std::mutex> lock{confirm_mtx_};
    rest.swap(confirm_queue_);
  }
  counters_.unconfirmed += rest.size();
  for (auto& done : rest)
    done();
}

// -- queries -------------------------------------------------------------------------

nats_stats nats_transport::impl::stats() const {
  nats_stats s;
  auto& c = counters_;
  s.published = c.published;
  s.dropped = c.dropped;
  s.received = c.received;
  s.rejected = c.rejected;
  s.slow_consumers = c.slow_consumers;
  {
    std::lock_guard<std::mutex> lock{subs_mtx_};
    std::lock_guard<std::mutex> dlock{dropped_mtx_};
    read_dropped_locked();
  }
  s.slow_consumer_dropped = c.slow_consumer_dropped;
  s.unconfirmed = c.unconfirmed;
  s.subscriptions = sub_count_;
  s.subscribe_failures = c.subscribe_failures;
  s.disconnects = c.disconnects;
  s.reconnects = c.reconnects;
  s.fetches = c.fetches;
  s.fetch_failures = c.fetch_failures;
  s.fetched = c.fetched;
  s.connected = natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
  s.jetstream = cfg_.jetstream && store_->ready();
  return s;
}

bool nats_transport::impl::wait_connected(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::unique_lock<std::mutex> lock{state_mtx_};
    if (!state_cv_.wait_until(lock, deadline, [this] {
          return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
        }))
      return false;
  }
  auto left =
    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  // A PING answered: the server has processed every SUB sent before it.
  return left.count() > 0 && natsConnection_FlushTimeout(nc_, left.count()) == NATS_OK;
}

// -- nats_transport --------------------------------------------------------------------

nats_transport::nats_transport(nats_config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {
}

nats_transport::~nats_transport() {
  if (!impl_->shut_down()) {
    // The client may still call into it; a leak is better than a crash.
    (void) impl_.release();
  }
}

const nats_config& nats_transport::config() const noexcept {
  return impl_->cfg_;
}

nats_stats nats_transport::stats() const {
  return impl_->stats();
}

bool nats_transport::wait_connected(std::chrono::milliseconds timeout) const {
  return impl_->wait_connected(timeout);
}

std::string nats_transport::subject_of(const registry_key& key) const {
  return key_subject(impl_->cfg_.subject_prefix, key);
}

void nats_transport::attach(registry& owner) {
  impl_->attach(owner);
}

void nats_transport::detach(registry& owner) {
  impl_->detach(owner);
}

std::size_t nats_transport::forward(const registry_key& key, message_id id, const std::string& payload) {
  return impl_->forward(key, id, payload);
}

std::size_t nats_transport::forward_broadcast(const std::string& payload) {
  return impl_->forward_broadcast(payload);
}

void nats_transport::key_added(const registry_key& key) {
  impl_->reconcile(key);
}

void nats_transport::key_removed(const registry_key& key) {
  impl_->reconcile(key);
}

void nats_transport::fetch(const registry_key& key, std::optional<message_id> after, fetch_handler done) {
  impl_->fetch(key, after, std::move(done));
}

void nats_transport::when_reachable(const registry_key&, std::function<void()> done) {
  impl_->when_reachable(std::move(done));
}

} // namespace libactor::cluster
