#include "libactor/registry.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <thread>

#include <caf/actor_cast.hpp>
#include <caf/attachable.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_message.hpp>
#include <caf/message_id.hpp>

#include "internal/deferred_wakeups.hpp"
#include "internal/hybrid_clock.hpp"
#include "internal/registry_partition.hpp"
#include "internal/routed_element.hpp"
#include "libactor/detail/process_actor.hpp"
#include "libactor/log.hpp"
#include "libactor/process.hpp"

namespace libactor {

using detail::key_entry;
using detail::kept_message;
using detail::kept_queue;
using detail::registry_partition;
using detail::shared_payload;
using time_point = std::chrono::steady_clock::time_point;

// -- shared state ----------------------------------------------------------------

namespace {

/// A payload on its way into one key: a send's own string, moved along to
/// the receiving process when nothing needs to keep it, or a broadcast's
/// one shared copy. Keeping it (replay window, pending) shares it.
class payload_source {
public:
  explicit payload_source(std::string s) : owned_(std::move(s)) {
  }
  explicit payload_source(shared_payload s) : shared_(std::move(s)) {
  }

  /// For keeping: makes the shared copy on first use.
  const shared_payload& shared() {
    if (!shared_)
      shared_ = std::make_shared<const std::string>(std::move(owned_));
    return shared_;
  }

  /// For the message: the string itself if it was never shared.
  std::string take() { return shared_ ? *shared_ : std::move(owned_); }

private:
  std::string owned_;
  shared_payload shared_;
};

} // namespace

/// Everything a registry is. Shared with the exit hook of each
/// registered process, which holds it weakly: a process that exits after
/// its registry was destroyed finds nothing to clean up.
class registry::state : public std::enable_shared_from_this<registry::state> {
public:
  explicit state(registry_config cfg)
    : cfg_(std::move(cfg)),
      nparts_(cfg_.partitions == 0 ? 1 : cfg_.partitions),
      parts_(new registry_partition[nparts_]),
      transport_(cfg_.transport.get()),
      clock_ids_(transport_ != nullptr),
      node_tag_(clock_ids_ ? detail::hybrid_node_tag() : 0) {
  }

  const registry_config& config() const noexcept { return cfg_; }
  registry_transport* transport() const noexcept { return transport_; }

  register_result add(const registry_key& key, const pid& who, std::optional<std::uint64_t> last_seen);
  bool remove(const registry_key& key, const pid& who);
  /// A registered process is exiting: removes registration `serial` and,
  /// given the process (null for a plain CAF actor, or one already past its
  /// mailbox), hands the key's messages it left unread back to the key.
  void remove_exited(const registry_key& key, std::uint64_t serial, detail::process_actor* self);
  std::vector<pid> lookup(const registry_key& key) const;
  std::vector<routed_message> replay(const registry_key& key, std::uint64_t after_id) const;
  registry_stats stats() const;
  std::size_t send(const registry_key& key, std::string payload, bool forward);
  std::size_t receive(const registry_key& key, std::string payload, std::uint64_t id);
  std::size_t broadcast(const std::string& payload, std::uint64_t floor_id);
  std::uint64_t next_broadcast_floor();
  void raise_broadcast_floor(std::uint64_t id);
  std::size_t expire();

  // -- sweeping ------------------------------------------------------------------

  void start_sweeper();
  void stop_sweeper();

private:
  registry_partition& partition_of(const registry_key& key) const {
    // Bits 32 and up mod the partition count; the table inside a partition
    // takes its slot from the top bits and its tag from the lowest byte.
    return parts_[(key.hash() >> 32) % nparts_];
  }

  /// The id floor of a message entering here now: 0 for counter ids.
  std::uint64_t entry_floor() const noexcept { return clock_ids_ ? detail::hybrid_floor() : 0; }

  /// Numbers the next message of `e`: `max(floor, last + 1)`. Clock ids
  /// end in this node's tag: two nodes that number a message for one key in
  /// the same millisecond (each not yet knowing the other's) never give the
  /// same id, which a stream would take for a duplicate and drop.
  /// A broadcast carries its entry node's tag in its floor and every node
  /// numbers it with that tag, so that a key held on two nodes gets one id.
  std::uint64_t assign_id(key_entry& e, std::uint64_t floor, bool broadcast = false) const noexcept {
    if (!clock_ids_) {
      e.last_id = std::max(floor, e.last_id + 1);
      return e.last_id;
    }
    constexpr unsigned bits = detail::hybrid_node_bits;
    constexpr std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
    auto seq = std::max(floor >> bits, (e.last_id >> bits) + 1);
    e.last_id = (seq << bits) | (broadcast ? floor & mask : node_tag_);
    return e.last_id;
  }

  /// The id below which a client naming `last_seen` has everything.
  std::uint64_t seen_upto(const key_entry& e, std::optional<std::uint64_t> last_seen) const noexcept {
    // A counter id beyond the newest one predates the key's last reset:
    // everything kept is newer than what the client saw. Clock ids never
    // restart, so for them the client's word stands.
    if (last_seen && (clock_ids_ || *last_seen <= e.last_id))
      return *last_seen;
    return 0;
  }

  /// `touch`: whether buffering for an absent key extends its life (a send
  /// does; a broadcast must not, or departed users would live forever).
  /// `wake` collects the wake-ups of idle processes, to be flushed by the
  /// caller after unlocking.
  std::size_t route_locked(registry_partition& p, key_entry& e, payload_source payload,
                           std::uint64_t id, detail::deferred_wakeups& wake, bool touch = true);
  std::size_t release_kept_locked(registry_partition& p, key_entry& e, const caf::actor& who,
                                  std::optional<std::uint64_t> history_after,
                                  std::uint64_t pending_after);
  /// Ends a hold begun by `add`; `fetched` is null if the store could not answer.
  void end_hold(const registry_key& key, std::uint64_t fetch_after, std::vector<routed_message>* fetched,
                const caf::actor& who, std::optional<std::uint64_t> history_after,
                std::uint64_t pending_after);
  void expire_locked(registry_partition& p, key_entry& e, time_point now);
  void trim_history(key_entry& e);
  void retire_locked(registry_partition& p, const registry_key& key, key_entry& e);
  void reclaim_locked(registry_partition& p, key_entry& e, std::uint64_t serial,
                      detail::process_actor& self);
  detail::routed_tag tag_of(const detail::registration& r) const noexcept {
    return detail::routed_tag{this, r.serial};
  }

  registry_config cfg_;
  std::size_t nparts_;
  std::unique_ptr<registry_partition[]> parts_;
  /// Owned by `cfg_`; null for one node.
  registry_transport* transport_;
  /// Hybrid-clock ids (routed.hpp) rather than counters: with a transport.
  bool clock_ids_;
  /// Low bits of the ids this node assigns (random per registry).
  std::uint64_t node_tag_ = 0;
  /// The newest broadcast floor this node issued or received.
  std::atomic<std::uint64_t> broadcast_floor_{0};
  /// Names each registration (detail::registration::serial).
  std::atomic<std::uint64_t> next_serial_{1};

  std::mutex sweep_mtx_;
  std::condition_variable sweep_cv_;
  bool stopping_ = false;
  std::thread sweeper_;
};

namespace {

/// Tells the registry when a plain CAF actor (not a libactor process, which
/// has exit hooks) exits. It runs among CAF's attachables, after the mailbox
/// is drained: such an actor's unread messages cannot be handed back.
class registration_guard final : public caf::attachable {
public:
  /// Distinct from CAF's own token subtypes (0 to 3).
  static constexpr std::size_t token_type = 0x72656769; // "regi"

  registration_guard(std::weak_ptr<registry::state> st, registry_key key, std::uint64_t serial)
    : state_(std::move(st)), key_(std::move(key)), serial_(serial) {
  }

  void actor_exited(const caf::error&, caf::execution_unit*) override {
    if (auto st = state_.lock())
      st->remove_exited(key_, serial_, nullptr);
  }

  /// The token's `ptr` points to the serial of the registration to detach.
  bool matches(const token& what) override {
    return what.subtype == token_type && *static_cast<const std::uint64_t*>(what.ptr) == serial_;
  }

private:
  std::weak_ptr<registry::state> state_;
  registry_key key_;
  std::uint64_t serial_;
};

/// Enqueues a kept message to one registration, tagged with it.
void deliver(const detail::registration& r, detail::routed_tag tag, std::uint64_t id,
             std::string payload) {
  // No sender: a routed message has no one to reply to.
  r.proc->enqueue(caf::mailbox_element_ptr{new detail::routed_element_vals(tag, id, std::move(payload))},
                  nullptr);
}

} // namespace

// -- registration --------------------------------------------------------------

register_result registry::state::add(const registry_key& key, const pid& who,
                                     std::optional<std::uint64_t> last_seen) {
  register_result result;
  // A process known to have exited would take pending messages with it.
  // One that exits after this check is removed by its exit hook like any other.
  if (!alive(who)) {
    result.status = register_status::no_process;
    return result;
  }
  auto serial = next_serial_.fetch_add(1, std::memory_order_relaxed);
  // A libactor process is watched by an exit hook, which runs before its
  // mailbox is drained and before any link or monitor fires; added before
  // the registration is, so that no exit can fall between the two.
  auto* proc = detail::as_process(caf::actor_cast<caf::abstract_actor*>(who.handle()));
  std::uint64_t hook = 0;
  if (proc != nullptr) {
    hook = proc->add_exit_hook(
      [weak = weak_from_this(), key, serial](detail::process_actor& self, const caf::error&) {
        if (auto st = weak.lock())
          st->remove_exited(key, serial, &self);
      });
    if (hook == 0) {
      result.status = register_status::no_process;
      return result;
    }
  }
  // Undoes the hook when the registration is refused.
  auto refuse = [&](register_status why) {
    result.status = why;
    if (proc != nullptr)
      proc->remove_exit_hook(hook);
    return result;
  };
  std::unique_ptr<registration_guard> guard;
  if (proc == nullptr)
    guard = std::make_unique<registration_guard>(weak_from_this(), key, serial);
  auto& p = partition_of(key);
  bool first = false;
  std::optional<std::uint64_t> fetch_after;
  std::optional<std::uint64_t> history_after;
  std::uint64_t after = 0;
  {
    std::unique_lock<std::mutex> lock{p.mtx};
    // The hook has run (or is running, and will find nothing under this
    // lock): the process is exiting and must not be added.
    if (proc != nullptr && !proc->has_exit_hook(hook)) {
      lock.unlock();
      return refuse(register_status::no_process);
    }
    auto& e = p.keys[key];
    for (auto& r : e.procs) {
      if (r.proc == who.handle()) {
        lock.unlock();
        return refuse(register_status::already_registered);
      }
    }
    if (cfg_.mode == registry_mode::unique && !e.procs.empty()) {
      result.holder = pid{e.procs.front().proc};
      lock.unlock();
      return refuse(register_status::taken);
    }
    first = e.procs.empty();
    e.procs.push_back({who.handle(), serial, hook});
    if (first)
      ++p.counters.keys;
    ++p.counters.registrations;
    after = seen_upto(e, last_seen);
    if (last_seen)
      history_after = after;
    // Without last_seen, kept messages that were never delivered (pending)
    // come to this process; everything before them went to others.
    result.baseline_id = last_seen ? after : e.last_id;
    if (!last_seen && e.buffer && !e.buffer->pending.empty())
      result.baseline_id = e.buffer->pending.front().id - 1;
    if (first && transport_ != nullptr && (last_seen || e.retired_id != 0)) {
      // This node did not hear the key before now: ask the cluster's store
      // what it missed, and hold everything for the key until it answers.
      fetch_after = last_seen ? *last_seen : e.retired_id;
      result.baseline_id = *fetch_after;
      if (!e.buffer)
        e.buffer = std::make_unique<detail::key_buffer>();
      ++e.buffer->holds;
    } else if (e.buffer && e.buffer->holds == 0) {
      // Under the lock: anything sent after this registration gets a higher
      // id and is enqueued after these, so the process sees one ordered stream.
      result.delivered = release_kept_locked(p, e, who.handle(), history_after, after);
    }
    // While a fetch is under way, a process registering meanwhile gets the
    // held messages with everyone else when it ends.
  }
  // Outside the lock: attaching to an actor that already exited runs the
  // guard at once, which takes the lock to remove what was just added.
  if (guard)
    who.handle()->attach(std::move(guard));
  if (first && transport_ != nullptr)
    transport_->key_added(key);
  if (fetch_after) {
    // After `key_added`: the transport hears the key's live messages before
    // it asks the store, so nothing falls between the two.
    auto done = [weak = weak_from_this(), key, fetch_after = *fetch_after, who = who.handle(),
                 history_after, after](std::optional<std::vector<routed_message>> fetched) {
      if (auto st = weak.lock())
        st->end_hold(key, fetch_after, fetched ? &*fetched : nullptr, who, history_after, after);
    };
    try {
      transport_->fetch(key, *fetch_after, std::move(done));
    } catch (...) {
      // A hold nobody ends would keep the key's messages forever.
      end_hold(key, *fetch_after, nullptr, who.handle(), history_after, after);
      throw;
    }
  }
  return result;
}

bool registry::state::remove(const registry_key& key, const pid& who) {
  if (!who)
    return false;
  std::uint64_t serial = 0;
  std::uint64_t hook = 0;
  bool last = false;
  auto& p = partition_of(key);
  {
    std::lock_guard<std::mutex> lock{p.mtx};
    auto i = p.keys.find(key);
    if (i == p.keys.end())
      return false;
    auto& procs = i->second.procs;
    for (auto j = procs.begin(); j != procs.end(); ++j) {
      if (j->proc == who.handle()) {
        serial = j->serial;
        hook = j->hook;
        procs.erase(j);
        break;
      }
    }
    if (serial == 0)
      return false;
    --p.counters.registrations;
    if (procs.empty()) {
      --p.counters.keys;
      retire_locked(p, key, i->second);
      last = true;
    }
  }
  // If the process is exiting meanwhile, its hook finds the registration
  // gone; either way nothing is left behind.
  if (hook != 0) {
    if (auto* proc = detail::as_process(caf::actor_cast<caf::abstract_actor*>(who.handle())))
      proc->remove_exit_hook(hook);
  } else {
    who.handle()->detach(caf::attachable::token{registration_guard::token_type, &serial});
  }
  if (last && transport_ != nullptr)
    transport_->key_removed(key);
  return true;
}

void registry::state::remove_exited(const registry_key& key, std::uint64_t serial,
                                    detail::process_actor* self) {
  auto& p = partition_of(key);
  bool last = false;
  {
    std::lock_guard<std::mutex> lock{p.mtx};
    auto i = p.keys.find(key);
    if (i == p.keys.end())
      return;
    auto& procs = i->second.procs;
    for (auto j = procs.begin(); j != procs.end(); ++j) {
      if (j->serial == serial) {
        procs.erase(j);
        --p.counters.registrations;
        // Before retiring: the key's tombstone then holds what came back.
        if (self != nullptr)
          reclaim_locked(p, i->second, serial, *self);
        if (procs.empty()) {
          --p.counters.keys;
          retire_locked(p, key, i->second);
          last = true;
        }
        break;
      }
    }
  }
  if (last && transport_ != nullptr)
    transport_->key_removed(key);
}

// -- queries -------------------------------------------------------------------

std::vector<pid> registry::state::lookup(const registry_key& key) const {
  std::vector<pid> out;
  auto& p = partition_of(key);
  std::lock_guard<std::mutex> lock{p.mtx};
  auto i = p.keys.find(key);
  if (i != p.keys.end()) {
    out.reserve(i->second.procs.size());
    for (auto& r : i->second.procs)
      out.emplace_back(r.proc);
  }
  return out;
}

std::vector<routed_message> registry::state::replay(const registry_key& key,
                                                    std::uint64_t after_id) const {
  std::vector<routed_message> out;
  auto& p = partition_of(key);
  std::lock_guard<std::mutex> lock{p.mtx};
  auto i = p.keys.find(key);
  if (i == p.keys.end() || !i->second.buffer)
    return out;
  auto& e = i->second;
  auto after = seen_upto(e, after_id);
  // Read-only: aged messages are skipped here and dropped by the next touch.
  auto oldest = cfg_.clock() - cfg_.max_age;
  auto collect = [&](const kept_queue& xs) {
    for (auto& m : xs)
      if (m.id > after && m.at > oldest)
        out.push_back(routed_message{m.id, *m.payload});
  };
  collect(e.buffer->history);
  collect(e.buffer->pending);
  return out;
}

registry_stats registry::state::stats() const {
  registry_stats s;
  for (std::size_t i = 0; i < nparts_; ++i) {
    auto& p = parts_[i];
    std::lock_guard<std::mutex> lock{p.mtx};
    auto& c = p.counters;
    s.keys += c.keys;
    s.registrations += c.registrations;
    s.entries += p.keys.size();
    s.pending += c.pending;
    s.routed += c.routed;
    s.delivered += c.delivered;
    s.buffered += c.buffered;
    s.dropped_overflow += c.dropped_overflow;
    s.expired += c.expired;
    s.replayed += c.replayed;
    s.fetched += c.fetched;
    s.reclaimed += c.reclaimed;
    s.dropped_exit += c.dropped_exit;
  }
  return s;
}

// -- routing -------------------------------------------------------------------

std::size_t registry::state::route_locked(registry_partition& p, key_entry& e,
                                          payload_source payload, std::uint64_t id,
                                          detail::deferred_wakeups& wake, bool touch) {
  // Numbered and enqueued under the partition lock: two concurrent senders
  // to one key cannot enqueue out of id order.
  ++p.counters.routed;
  bool held = e.buffer && e.buffer->holds > 0;
  if (e.procs.empty() || held) {
    if (!e.buffer)
      e.buffer = std::make_unique<detail::key_buffer>();
    auto now = cfg_.clock();
    if (touch)
      e.touched = now;
    expire_locked(p, e, now);
    auto& pending = e.buffer->pending;
    pending.push_back(kept_message{id, now, payload.shared()});
    ++p.counters.buffered;
    ++p.counters.pending;
    while (pending.size() > cfg_.max_pending) {
      pending.pop_front();
      ++p.counters.dropped_overflow;
      --p.counters.pending;
    }
    // Held for a replay: it reaches these processes as soon as that ends.
    return held ? e.procs.size() : 0;
  }
  if (cfg_.replay_window > 0) {
    if (!e.buffer)
      e.buffer = std::make_unique<detail::key_buffer>();
    auto now = cfg_.clock();
    expire_locked(p, e, now);
    e.buffer->history.push_back(kept_message{id, now, payload.shared()});
    trim_history(e);
  } else if (e.buffer) {
    expire_locked(p, e, cfg_.clock());
  }
  if (e.procs.size() == 1) {
    // The common case (one session per user): one allocation holding the
    // values, as `anon_send` does, instead of a message plus an element.
    auto& r = e.procs.front();
    wake.bind(r.proc->home_system());
    r.proc->enqueue(caf::mailbox_element_ptr{new detail::routed_element_vals(tag_of(r), id, payload.take())},
                    &wake);
  } else {
    auto msg = caf::make_message(routed_atom::value, id, payload.take());
    for (auto& r : e.procs) {
      wake.bind(r.proc->home_system());
      r.proc->enqueue(caf::mailbox_element_ptr{new detail::routed_element_shared(tag_of(r), msg)}, &wake);
    }
  }
  p.counters.delivered += e.procs.size();
  if (e.buffer && e.buffer->empty())
    e.buffer.reset();
  return e.procs.size();
}

std::size_t registry::state::send(const registry_key& key, std::string payload, bool forward) {
  auto floor = entry_floor();
  auto& p = partition_of(key);
  detail::deferred_wakeups wake; // declared first: flushes after the unlock
  std::lock_guard<std::mutex> lock{p.mtx};
  auto i = p.keys.find(key);
  if (i == p.keys.end())
    i = p.keys.emplace(key, key_entry{}).first;
  auto& e = i->second;
  auto id = assign_id(e, floor);
  std::size_t remote = 0;
  // Under the lock (see registry_transport::forward): the ids of this node
  // leave in order.
  if (forward && transport_ != nullptr)
    remote = transport_->forward(key, id, payload);
  return route_locked(p, e, payload_source{std::move(payload)}, id, wake) + remote;
}

std::size_t registry::state::receive(const registry_key& key, std::string payload, std::uint64_t id) {
  auto& p = partition_of(key);
  detail::deferred_wakeups wake; // declared first: flushes after the unlock
  std::lock_guard<std::mutex> lock{p.mtx};
  auto i = p.keys.find(key);
  if (i == p.keys.end())
    i = p.keys.emplace(key, key_entry{}).first;
  auto& e = i->second;
  // The entry node's id, kept as is so that every node agrees on it; this
  // node's next own id goes above it.
  e.last_id = std::max(e.last_id, id);
  return route_locked(p, e, payload_source{std::move(payload)}, id, wake);
}

std::size_t registry::state::broadcast(const std::string& payload, std::uint64_t floor_id) {
  std::size_t n = 0;
  const auto shared = std::make_shared<const std::string>(payload);
  for (std::size_t k = 0; k < nparts_; ++k) {
    auto& p = parts_[k];
    // Per partition, so that the I/O threads start writing while the next
    // partitions are walked.
    detail::deferred_wakeups wake; // declared first: flushes after the unlock
    std::lock_guard<std::mutex> lock{p.mtx};
    // A key whose last process left (or that was sent to) less than
    // `max_age` ago is a session about to come back, e.g. restarting under
    // its supervisor: it keeps the broadcast like a send. Later ones are
    // users who left; buffering for them would keep them forever.
    const auto recent = cfg_.clock() - cfg_.max_age;
    for (auto& [key, e] : p.keys) {
      if (!e.procs.empty() || e.touched > recent)
        n += route_locked(p, e, payload_source{shared}, assign_id(e, floor_id, true), wake, false);
    }
  }
  return n;
}

std::uint64_t registry::state::next_broadcast_floor() {
  if (!clock_ids_)
    return 0;
  // The next step of the clock, in this node's tag (see assign_id).
  constexpr unsigned bits = detail::hybrid_node_bits;
  auto last = broadcast_floor_.load();
  std::uint64_t next = 0;
  do {
    next = (((std::max(detail::hybrid_floor(), last) >> bits) + 1) << bits) | node_tag_;
  } while (!broadcast_floor_.compare_exchange_weak(last, next));
  return next;
}

void registry::state::raise_broadcast_floor(std::uint64_t id) {
  auto last = broadcast_floor_.load();
  while (last < id && !broadcast_floor_.compare_exchange_weak(last, id)) {
  }
}

// -- kept messages at registration ---------------------------------------------

std::size_t registry::state::release_kept_locked(registry_partition& p, key_entry& e,
                                                 const caf::actor& who,
                                                 std::optional<std::uint64_t> history_after,
                                                 std::uint64_t pending_after) {
  auto& buf = *e.buffer;
  expire_locked(p, e, cfg_.clock());
  std::size_t n = 0;
  auto here = std::find_if(e.procs.begin(), e.procs.end(),
                           [&](const detail::registration& r) { return r.proc == who; });
  bool who_here = here != e.procs.end();
  if (history_after && who_here) {
    for (auto& m : buf.history) {
      if (m.id > *history_after) {
        deliver(*here, tag_of(*here), m.id, *m.payload);
        ++p.counters.replayed;
        ++n;
      }
    }
  }
  // Pending ids at or below what the client saw reached it some other way
  // (another node, say); they count as delivered, not resent. Every process
  // of the key gets the rest: more than one only when several registered
  // while a replay held the key.
  for (auto& m : buf.pending) {
    if (m.id > pending_after) {
      for (auto& r : e.procs)
        deliver(r, tag_of(r), m.id, *m.payload);
      p.counters.delivered += e.procs.size();
      if (who_here)
        ++n;
    }
  }
  p.counters.pending -= buf.pending.size();
  if (cfg_.replay_window > 0) {
    // Reclaimed messages left the history when they came back (see
    // reclaim_locked), so none is kept twice.
    for (auto& m : buf.pending)
      buf.history.push_back(std::move(m));
  }
  buf.pending.clear();
  trim_history(e);
  if (buf.empty())
    e.buffer.reset();
  return n;
}

void registry::state::end_hold(const registry_key& key, std::uint64_t fetch_after,
                               std::vector<routed_message>* fetched, const caf::actor& who,
                               std::optional<std::uint64_t> history_after,
                               std::uint64_t pending_after) {
  auto& p = partition_of(key);
  std::lock_guard<std::mutex> lock{p.mtx};
  auto i = p.keys.find(key);
  // A hold keeps its entry (the buffer is not empty while it lasts).
  if (i == p.keys.end() || !i->second.buffer || i->second.buffer->holds == 0)
    return;
  auto& e = i->second;
  auto& buf = *e.buffer;
  --buf.holds;
  if (fetched != nullptr && !fetched->empty()) {
    auto known = [&buf](const routed_message& m) {
      auto same = [&m](const kept_message& k) { return k.id == m.id && *k.payload == m.payload; };
      return std::any_of(buf.pending.begin(), buf.pending.end(), same)
             || std::any_of(buf.history.begin(), buf.history.end(), same);
    };
    auto now = cfg_.clock();
    std::size_t added = 0;
    for (auto& m : *fetched) {
      // The store may hold what this node already has: its own sends, or
      // live messages that reached it after it subscribed.
      if (m.id <= fetch_after || known(m))
        continue;
      e.last_id = std::max(e.last_id, m.id);
      buf.pending.push_back(
        kept_message{m.id, now, std::make_shared<const std::string>(std::move(m.payload))});
      ++added;
    }
    p.counters.fetched += added;
    p.counters.pending += added;
    std::stable_sort(buf.pending.begin(), buf.pending.end(),
                     [](const kept_message& x, const kept_message& y) { return x.id < y.id; });
    while (buf.pending.size() > cfg_.max_pending) {
      buf.pending.pop_front();
      ++p.counters.dropped_overflow;
      --p.counters.pending;
    }
  }
  if (buf.holds == 0 && !e.procs.empty()) {
    // Held live messages the client already saw (in flight from the node it
    // came from) are dropped like pending ones: its last id is its truth.
    release_kept_locked(p, e, who, history_after, pending_after);
  } else if (buf.empty()) {
    e.buffer.reset();
  }
}

// -- limits --------------------------------------------------------------------

void registry::state::expire_locked(registry_partition& p, key_entry& e, time_point now) {
  if (!e.buffer)
    return;
  auto oldest = now - cfg_.max_age;
  auto& buf = *e.buffer;
  while (!buf.history.empty() && buf.history.front().at <= oldest)
    buf.history.pop_front();
  while (!buf.pending.empty() && buf.pending.front().at <= oldest) {
    buf.pending.pop_front();
    ++p.counters.expired;
    --p.counters.pending;
  }
}

void registry::state::trim_history(key_entry& e) {
  auto& h = e.buffer->history;
  while (h.size() > cfg_.replay_window)
    h.pop_front();
}

void registry::state::retire_locked(registry_partition& p, const registry_key& key,
                                    key_entry& e) {
  // Kept as a tombstone so the key's ids continue if it comes back soon;
  // `expire` erases it after `max_age`.
  e.touched = cfg_.clock();
  e.retired_id = e.last_id;
  if (e.idle() && cfg_.max_age.count() <= 0)
    p.keys.erase(key);
}

void registry::state::reclaim_locked(registry_partition& p, key_entry& e, std::uint64_t serial,
                                     detail::process_actor& self) {
  // The registration is gone (under this lock): nothing more is enqueued
  // for it, so what its process's mailbox holds now is final. The process
  // is in its exit hooks, on its own thread, before CAF drops the mailbox.
  const detail::routed_tag tag{this, serial};
  auto now = cfg_.clock();
  std::vector<kept_message> back;
  self.visit_unprocessed([&](const caf::mailbox_element& x) {
    auto* r = dynamic_cast<const detail::routed_element*>(&x);
    if (r != nullptr && r->tag() == tag) {
      auto m = r->get();
      back.push_back(kept_message{m.id, now, std::make_shared<const std::string>(std::move(m.payload))});
    }
  });
  if (back.empty())
    return;
  // Counted once as delivered; they were not.
  p.counters.delivered -= back.size();
  if (!e.procs.empty()) {
    // The key's other processes got them (duplicate mode): there is no one
    // to hand them to, and no later process should get them a second time.
    p.counters.dropped_exit += back.size();
    // From the address: a strong reference made from `&self` could revive
    // an actor whose last reference is gone (CAF's `unreachable` exit).
    log::warning("registry_exit_unread_dropped",
                 log::kv("process", pid{caf::actor_cast<caf::actor>(self.address())}),
                 log::kv("messages", back.size()));
    return;
  }
  if (!e.buffer)
    e.buffer = std::make_unique<detail::key_buffer>();
  auto& buf = *e.buffer;
  expire_locked(p, e, now);
  // A replay window holds them as delivered: they are pending again.
  if (!buf.history.empty()) {
    kept_queue rest;
    for (auto& m : buf.history) {
      bool returned = std::any_of(back.begin(), back.end(),
                                  [&](const kept_message& b) { return b.id == m.id; });
      if (!returned)
        rest.push_back(std::move(m));
    }
    buf.history = std::move(rest);
  }
  // Ahead of anything newer: ids order a key's messages, and whatever is
  // pending arrived after these were delivered.
  p.counters.reclaimed += back.size();
  p.counters.pending += back.size();
  for (auto& m : buf.pending)
    back.push_back(std::move(m));
  std::stable_sort(back.begin(), back.end(),
                   [](const kept_message& x, const kept_message& y) { return x.id < y.id; });
  buf.pending.clear();
  for (auto& m : back)
    buf.pending.push_back(std::move(m));
  while (buf.pending.size() > cfg_.max_pending) {
    buf.pending.pop_front();
    ++p.counters.dropped_overflow;
    --p.counters.pending;
  }
  e.touched = now;
  if (buf.empty())
    e.buffer.reset();
}

std::size_t registry::state::expire() {
  std::size_t n = 0;
  for (std::size_t k = 0; k < nparts_; ++k) {
    auto& p = parts_[k];
    std::lock_guard<std::mutex> lock{p.mtx};
    auto before = p.counters.expired;
    auto now = cfg_.clock();
    auto oldest = now - cfg_.max_age;
    for (auto i = p.keys.begin(); i != p.keys.end();) {
      auto& e = i->second;
      if (e.buffer) {
        expire_locked(p, e, now);
        if (e.buffer->empty())
          e.buffer.reset();
      }
      if (e.idle() && e.touched <= oldest)
        p.keys.erase(i++); // erasing moves no other entry
      else
        ++i;
    }
    n += p.counters.expired - before;
  }
  return n;
}

void registry::state::start_sweeper() {
  if (cfg_.sweep_interval.count() <= 0)
    return;
  sweeper_ = std::thread{[this] {
    std::unique_lock<std::mutex> lock{sweep_mtx_};
    while (!sweep_cv_.wait_for(lock, cfg_.sweep_interval, [this] { return stopping_; })) {
      lock.unlock();
      expire();
      lock.lock();
    }
  }};
}

void registry::state::stop_sweeper() {
  {
    std::lock_guard<std::mutex> lock{sweep_mtx_};
    stopping_ = true;
  }
  sweep_cv_.notify_all();
  if (sweeper_.joinable())
    sweeper_.join();
}

// -- registry ------------------------------------------------------------------

registry::registry(registry_config cfg) : state_(std::make_shared<state>(std::move(cfg))) {
  // Before the sweeper starts: a transport that refuses (it serves another
  // registry) leaves nothing running behind the exception.
  if (auto* t = state_->transport())
    t->attach(*this);
  state_->start_sweeper();
}

registry::~registry() {
  state_->stop_sweeper();
  if (auto* t = state_->transport())
    t->detach(*this);
}

register_result registry::register_process(const registry_key& key, const pid& who,
                                           std::optional<std::uint64_t> last_seen) {
  return state_->add(key, who, last_seen);
}

register_result registry::register_process(const registry_key& key, const process& self,
                                           std::optional<std::uint64_t> last_seen) {
  return state_->add(key, self.self(), last_seen);
}

bool registry::unregister_process(const registry_key& key, const pid& who) {
  return state_->remove(key, who);
}

std::vector<pid> registry::lookup(const registry_key& key) const {
  return state_->lookup(key);
}

std::size_t registry::key_count() const {
  return state_->stats().keys;
}

std::size_t registry::registration_count() const {
  return state_->stats().registrations;
}

std::vector<routed_message> registry::replay(const registry_key& key,
                                             std::uint64_t after_id) const {
  return state_->replay(key, after_id);
}

registry_stats registry::stats() const {
  return state_->stats();
}

const registry_config& registry::config() const noexcept {
  return state_->config();
}

std::size_t registry::send(const registry_key& key, std::string payload) {
  return state_->send(key, std::move(payload), true);
}

std::size_t registry::broadcast(const std::string& payload) {
  auto floor = state_->next_broadcast_floor();
  auto n = state_->broadcast(payload, floor);
  if (auto* t = state_->transport())
    n += t->forward_broadcast(floor, payload);
  return n;
}

std::size_t registry::send_local(const registry_key& key, std::string payload) {
  return state_->send(key, std::move(payload), false);
}

std::size_t registry::send_local(const registry_key& key, std::string payload, std::uint64_t id) {
  return state_->receive(key, std::move(payload), id);
}

std::size_t registry::broadcast_local(const std::string& payload) {
  return state_->broadcast(payload, state_->next_broadcast_floor());
}

std::size_t registry::broadcast_local(const std::string& payload, std::uint64_t floor_id) {
  state_->raise_broadcast_floor(floor_id);
  return state_->broadcast(payload, floor_id);
}

std::size_t registry::expire() {
  return state_->expire();
}

std::string to_string(register_status x) {
  switch (x) {
    case register_status::ok:
      return "ok";
    case register_status::taken:
      return "taken";
    case register_status::already_registered:
      return "already_registered";
    case register_status::no_process:
      return "no_process";
  }
  return "unknown";
}

} // namespace libactor
