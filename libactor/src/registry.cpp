#include "libactor/registry.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <random>
#include <thread>
#include <unordered_set>

#include <caf/actor_cast.hpp>
#include <caf/attachable.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_message.hpp>
#include <caf/message_id.hpp>

#include "internal/deferred_wakeups.hpp"
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
      epoch_base_(random_epoch_base()) {
  }

  const registry_config& config() const noexcept { return cfg_; }
  registry_transport* transport() const noexcept { return transport_; }

  register_result add(const registry_key& key, const pid& who, std::optional<message_id> last_seen);
  bool remove(const registry_key& key, const pid& who);
  /// A registered process is exiting: removes registration `serial` and,
  /// given the process (null for a plain CAF actor, or one already past its
  /// mailbox), hands the key's messages it left unread back to the key.
  void remove_exited(const registry_key& key, std::uint64_t serial, detail::process_actor* self);
  std::vector<pid> lookup(const registry_key& key) const;
  std::vector<routed_message> replay(const registry_key& key) const;
  registry_stats stats() const;
  send_result send(const registry_key& key, std::string payload, bool forward);
  std::size_t receive(const registry_key& key, std::string payload, message_id id);
  std::size_t broadcast(const std::string& payload);
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

  static std::uint64_t random_epoch_base() {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd()
           ^ static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }

  /// A new history's epoch: splitmix64 of a random base plus a counter, so
  /// distinct within this registry (the mix is a bijection) and random
  /// across registries, restarts and nodes. Never 0.
  std::uint64_t new_epoch() noexcept {
    auto n = epoch_counter_.fetch_add(1, std::memory_order_relaxed) + 1;
    std::uint64_t z = epoch_base_ + 0x9e3779b97f4a7c15ULL * n;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z == 0 ? 1 : z;
  }

  /// Numbers the next message of `e` in this node's history of the key,
  /// starting one (a new epoch) if the key has none yet.
  message_id assign_id(key_entry& e) noexcept {
    if (e.epoch == 0) {
      e.epoch = new_epoch();
      e.last_seq = 0;
    }
    message_id id{e.epoch, ++e.last_seq};
    e.last_routed = id;
    return id;
  }

  /// Where a client that saw `seen` resumes among the key's kept messages
  /// (history, then pending: one sequence in the order they were routed),
  /// and the reset it must be shown first, if any.
  struct resume_plan {
    std::size_t start = 0;
    std::optional<replay_reset> reset;
  };
  resume_plan locate_locked(const key_entry& e, const message_id& seen) const;

  /// `touch`: whether buffering for an absent key extends its life (a send
  /// does; a broadcast must not, or departed users would live forever).
  /// `wake` collects the wake-ups of idle processes, to be flushed by the
  /// caller after unlocking.
  std::size_t route_locked(registry_partition& p, key_entry& e, payload_source payload,
                           message_id id, detail::deferred_wakeups& wake, bool touch = true);
  /// Hands the key's kept messages to a process that registered: with
  /// `last_seen`, what its client missed (after a reset if need be), to it
  /// alone; without, the pending ones, to every process of the key.
  std::size_t release_kept_locked(registry_partition& p, key_entry& e, const caf::actor& who,
                                  const std::optional<message_id>& last_seen,
                                  std::optional<replay_reset>* reset_out = nullptr);
  /// Ends a hold begun by `add`; `fetched` is null if the store could not
  /// answer. `fetch_after` is what the store was asked to read after.
  void end_hold(const registry_key& key, std::optional<message_id> fetch_after,
                std::vector<routed_message>* fetched, const caf::actor& who,
                const std::optional<message_id>& last_seen);
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
  /// Epochs (new_epoch): a random base and a counter.
  std::uint64_t epoch_base_;
  std::atomic<std::uint64_t> epoch_counter_{0};
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
void deliver(const detail::registration& r, detail::routed_tag tag, message_id id,
             std::string payload) {
  // No sender: a routed message has no one to reply to.
  r.proc->enqueue(caf::mailbox_element_ptr{new detail::routed_element_vals(tag, id, std::move(payload))},
                  nullptr);
}

/// Tells one registration, ahead of what it is about to be sent, that its
/// client's history could not be replayed exactly.
void deliver_reset(const caf::actor& who, const replay_reset& r) {
  who->enqueue(caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, reset_atom::value, r),
               nullptr);
}

} // namespace

// -- registration --------------------------------------------------------------

register_result registry::state::add(const registry_key& key, const pid& who,
                                     std::optional<message_id> last_seen) {
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
  std::optional<message_id> fetch_after;
  bool fetching = false;
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
    // The position this process starts from: the newest message it will
    // not be sent. Without last_seen, kept messages that were never
    // delivered (pending) come to it, and everything before them went to
    // others. A key without a history gets one now, so that even a process
    // that has seen nothing has a position (`<epoch>-0`, the start) its
    // client can resume from.
    if (e.epoch == 0) {
      e.epoch = new_epoch();
      e.last_seq = 0;
    }
    if (last_seen) {
      result.baseline = last_seen;
    } else if (e.buffer && !e.buffer->pending.empty()) {
      auto& h = e.buffer->history;
      auto front = e.buffer->pending.front().id;
      if (!h.empty())
        result.baseline = h.begin()[h.size() - 1].id;
      else if (front.epoch == e.epoch)
        result.baseline = message_id{front.epoch, front.seq - 1};
    } else if (e.last_routed.valid()) {
      result.baseline = e.last_routed;
    } else {
      result.baseline = message_id{e.epoch, e.last_seq};
    }
    if (first && transport_ != nullptr && (last_seen || e.retired.valid())) {
      // This node did not hear the key before now: ask the cluster's store
      // what it missed, and hold everything for the key until it answers.
      fetch_after = last_seen ? *last_seen : e.retired;
      fetching = true;
      if (!e.buffer)
        e.buffer = std::make_unique<detail::key_buffer>();
      ++e.buffer->holds;
    } else if (e.buffer ? e.buffer->holds == 0 : last_seen.has_value()) {
      // Under the lock: anything sent after this registration is enqueued
      // after these, so the process sees one ordered stream. With nothing
      // kept, the client's id still tells whether it missed anything.
      result.delivered = release_kept_locked(p, e, who.handle(), last_seen, &result.reset);
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
  if (fetching) {
    // After `key_added`: the transport hears the key's live messages before
    // it asks the store, so nothing falls between the two.
    auto done = [weak = weak_from_this(), key, fetch_after, who = who.handle(),
                 last_seen](std::optional<std::vector<routed_message>> fetched) {
      if (auto st = weak.lock())
        st->end_hold(key, fetch_after, fetched ? &*fetched : nullptr, who, last_seen);
    };
    try {
      transport_->fetch(key, fetch_after, std::move(done));
    } catch (...) {
      // A hold nobody ends would keep the key's messages forever.
      end_hold(key, fetch_after, nullptr, who.handle(), last_seen);
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

std::vector<routed_message> registry::state::replay(const registry_key& key) const {
  std::vector<routed_message> out;
  auto& p = partition_of(key);
  std::lock_guard<std::mutex> lock{p.mtx};
  auto i = p.keys.find(key);
  if (i == p.keys.end() || !i->second.buffer)
    return out;
  auto& e = i->second;
  // Read-only: aged messages are skipped here and dropped by the next touch.
  auto oldest = cfg_.clock() - cfg_.max_age;
  auto collect = [&](const kept_queue& xs) {
    for (auto& m : xs)
      if (m.at > oldest)
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
    s.resets += c.resets;
    s.reset_lost += c.reset_lost;
  }
  return s;
}

// -- routing -------------------------------------------------------------------

std::size_t registry::state::route_locked(registry_partition& p, key_entry& e,
                                          payload_source payload, message_id id,
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

registry::send_result registry::state::send(const registry_key& key, std::string payload,
                                            bool forward) {
  auto& p = partition_of(key);
  detail::deferred_wakeups wake; // declared first: flushes after the unlock
  std::lock_guard<std::mutex> lock{p.mtx};
  auto i = p.keys.find(key);
  if (i == p.keys.end())
    i = p.keys.emplace(key, key_entry{}).first;
  auto& e = i->second;
  auto id = assign_id(e);
  // Under the lock (see registry_transport::forward): the ids of this node
  // leave in order.
  if (forward && transport_ != nullptr)
    transport_->forward(key, id, payload);
  return send_result{route_locked(p, e, payload_source{std::move(payload)}, id, wake), id};
}

std::size_t registry::state::receive(const registry_key& key, std::string payload, message_id id) {
  auto& p = partition_of(key);
  detail::deferred_wakeups wake; // declared first: flushes after the unlock
  std::lock_guard<std::mutex> lock{p.mtx};
  auto i = p.keys.find(key);
  if (i == p.keys.end())
    i = p.keys.emplace(key, key_entry{}).first;
  auto& e = i->second;
  // The entry node's id, kept as is so that every node agrees on it. This
  // node's own numbering of the key is not touched: it is another history.
  if (id.epoch != e.epoch)
    e.mixed = true;
  e.last_routed = id;
  return route_locked(p, e, payload_source{std::move(payload)}, id, wake);
}

std::size_t registry::state::broadcast(const std::string& payload) {
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
        n += route_locked(p, e, payload_source{shared}, assign_id(e), wake, false);
      else if (e.epoch != 0)
        // Not kept, but numbered: a client of that history that comes back
        // before the key is swept away is told of it (a gap in its seqs).
        ++e.last_seq;
    }
  }
  return n;
}

// -- kept messages at registration ---------------------------------------------

registry::state::resume_plan registry::state::locate_locked(const key_entry& e,
                                                            const message_id& seen) const {
  const kept_queue* parts[2] = {nullptr, nullptr};
  if (e.buffer) {
    parts[0] = &e.buffer->history;
    parts[1] = &e.buffer->pending;
  }
  std::size_t total = 0;
  for (auto* q : parts)
    total += q ? q->size() : 0;
  auto at = [&](std::size_t i) -> const kept_message& {
    auto h = parts[0]->size();
    return i < h ? parts[0]->begin()[i] : parts[1]->begin()[i - h];
  };
  // Seqs of this node's history are contiguous. Walking back from the
  // newest kept message while they follow each other (down to `stop`)
  // finds the run a client gets after a reset: one unbroken run up to the
  // newest, never a second, silent gap (kept messages may have holes: a
  // buffer that overflowed while older ones sat in the replay window).
  // Returns the run's first index and the seq below it.
  auto newest_run = [&](std::uint64_t stop) {
    auto want = e.last_seq;
    std::size_t first = total;
    if (want == stop)
      return std::pair{stop == 0 ? std::size_t{0} : total, want};
    for (std::size_t i = total; i-- > 0 && want > stop;) {
      auto& id = at(i).id;
      if (id.epoch != e.epoch)
        continue;
      if (id.seq != want)
        break;
      first = i;
      --want;
    }
    // The whole history is kept: other nodes' messages before it too.
    if (stop == 0 && want == 0)
      first = 0;
    return std::pair{first, want};
  };
  resume_plan plan;
  // A reset for a client this node cannot place: then the newest unbroken
  // run of its own history (everything kept if it holds it whole), and the
  // position just before that run.
  auto reset_to_newest = [&](reset_reason why) {
    plan.reset = replay_reset{why, std::nullopt};
    if (e.epoch == 0)
      return;
    auto [first, below] = newest_run(0);
    plan.start = first;
    plan.reset->position = message_id{e.epoch, below};
  };
  if (!seen.position()) {
    // The client sent an id that could not be read: what is kept.
    reset_to_newest(reset_reason::unknown_id);
    return plan;
  }
  std::optional<std::size_t> found;
  for (std::size_t i = total; i-- > 0;) {
    if (at(i).id == seen) {
      found = i;
      break;
    }
  }
  const bool own = e.epoch != 0 && seen.epoch == e.epoch;
  if (!own) {
    if (found) {
      // Another node's message this node kept: its place is exact.
      plan.start = *found + 1;
      return plan;
    }
    // Another history: the key was forgotten since, or this registry is
    // new (a restart), or the id is another node's that is not kept here.
    reset_to_newest(reset_reason::history_reset);
    return plan;
  }
  if (seen.seq > e.last_seq) {
    reset_to_newest(reset_reason::unknown_id);
    return plan;
  }
  if (found) {
    // Kept here: the client's place in this node's order is exact (other
    // nodes' messages after it included). Own messages after it that are no
    // longer kept are counted below.
    auto [tail, want] = newest_run(seen.seq);
    (void) tail;
    plan.start = *found + 1;
    if (want == seen.seq)
      return plan;
  } else if (e.mixed) {
    // Not kept, and other nodes' messages reached the key: some may have
    // come after the client's id, and nothing here says which. Everything
    // kept, after a reset that cannot count.
    plan.reset = replay_reset{reset_reason::window_exceeded, std::nullopt};
    plan.start = 0;
    return plan;
  }
  // What the client missed of this node's history is exactly
  // seen.seq + 1 .. last_seq.
  auto [tail, want] = newest_run(seen.seq);
  if (want == seen.seq) {
    plan.start = tail; // everything missed is kept: from the first missed one
    return plan;
  }
  plan.start = tail;
  std::optional<std::uint64_t> lost;
  // Messages from other nodes may be missing too, uncounted.
  if (!e.mixed)
    lost = want - seen.seq;
  plan.reset = replay_reset{reset_reason::window_exceeded, lost, message_id{e.epoch, want}};
  return plan;
}

std::size_t registry::state::release_kept_locked(registry_partition& p, key_entry& e,
                                                 const caf::actor& who,
                                                 const std::optional<message_id>& last_seen,
                                                 std::optional<replay_reset>* reset_out) {
  if (e.buffer)
    expire_locked(p, e, cfg_.clock());
  auto here = std::find_if(e.procs.begin(), e.procs.end(),
                           [&](const detail::registration& r) { return r.proc == who; });
  bool who_here = here != e.procs.end();
  resume_plan plan;
  if (last_seen) {
    plan = locate_locked(e, *last_seen);
    if (plan.reset) {
      ++p.counters.resets;
      p.counters.reset_lost += plan.reset->lost.value_or(0);
      if (reset_out != nullptr)
        *reset_out = plan.reset;
      // First, before any message: the mailbox keeps this order.
      if (who_here)
        deliver_reset(here->proc, *plan.reset);
    }
  }
  if (!e.buffer)
    return 0;
  auto& buf = *e.buffer;
  std::size_t n = 0;
  std::size_t index = 0;
  if (last_seen && who_here) {
    for (auto& m : buf.history) {
      if (index++ >= plan.start) {
        deliver(*here, tag_of(*here), m.id, *m.payload);
        ++p.counters.replayed;
        ++n;
      }
    }
  } else {
    index = buf.history.size();
  }
  // Pending messages before the client's position reached it some other
  // way (another node, say); they count as delivered, not resent. Every
  // process of the key gets the rest: more than one only when several
  // registered while a replay held the key.
  for (auto& m : buf.pending) {
    if (!last_seen || index >= plan.start) {
      for (auto& r : e.procs)
        deliver(r, tag_of(r), m.id, *m.payload);
      p.counters.delivered += e.procs.size();
      if (who_here)
        ++n;
    }
    ++index;
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

void registry::state::end_hold(const registry_key& key, std::optional<message_id> fetch_after,
                               std::vector<routed_message>* fetched, const caf::actor& who,
                               const std::optional<message_id>& last_seen) {
  auto& p = partition_of(key);
  std::lock_guard<std::mutex> lock{p.mtx};
  auto i = p.keys.find(key);
  // A hold keeps its entry (the buffer is not empty while it lasts).
  if (i == p.keys.end() || !i->second.buffer || i->second.buffer->holds == 0)
    return;
  auto& e = i->second;
  auto& buf = *e.buffer;
  --buf.holds;
  // Where the process resumes once the store has answered: after
  // `last_seen` by the local rules, or, when the store shows that id, right
  // after it in the store's order (no reset).
  std::optional<message_id> resume = last_seen;
  if (fetched != nullptr && !fetched->empty()) {
    // The store answers with every message it holds for the key, in the
    // order it stored them.
    struct id_hash {
      std::size_t operator()(const message_id& x) const noexcept {
        return std::hash<std::uint64_t>{}(x.epoch ^ (x.seq * 0x9e3779b97f4a7c15ULL));
      }
    };
    using id_set = std::unordered_set<message_id, id_hash>;
    auto anchor = fetched->end();
    if (fetch_after)
      anchor = std::find_if(fetched->begin(), fetched->end(),
                            [&](const routed_message& m) { return m.id == *fetch_after; });
    auto now = cfg_.clock();
    auto old_pending = buf.pending.size();
    id_set pending_ids;
    for (auto& m : buf.pending)
      pending_ids.insert(m.id);
    kept_queue merged;
    std::size_t added = 0;
    auto take = [&](routed_message& m) {
      if (m.id.epoch != e.epoch)
        e.mixed = true;
      if (pending_ids.count(m.id) == 0)
        ++added;
      merged.push_back(kept_message{m.id, now, std::make_shared<const std::string>(std::move(m.payload))});
    };
    if (anchor != fetched->end()) {
      // Placed by the store: what follows the id there is exactly what was
      // missed, in the store's order, whatever this node's history holds
      // (its own view, older or the same). Held messages the store shows
      // at or before the id were had; those it shows after are taken from
      // it; those it does not show yet came after everything it has.
      id_set stored;
      for (auto& m : *fetched)
        stored.insert(m.id);
      for (auto m = anchor + 1; m != fetched->end(); ++m)
        if (m->id.valid())
          take(*m);
      for (auto& m : buf.pending)
        if (stored.count(m.id) == 0)
          merged.push_back(std::move(m));
      resume.reset(); // everything pending now is what it missed
    } else {
      // Not in the store: a process with a client id is placed by the
      // local rules (`locate_locked`: a reset) among the store's messages
      // and those held here; one without an id gets live messages only.
      id_set history_ids;
      for (auto& m : buf.history)
        history_ids.insert(m.id);
      id_set taken;
      if (last_seen) {
        for (auto& m : *fetched) {
          if (!m.id.valid() || history_ids.count(m.id) != 0 || taken.count(m.id) != 0)
            continue;
          taken.insert(m.id);
          take(m);
        }
      }
      for (auto& m : buf.pending)
        if (taken.count(m.id) == 0)
          merged.push_back(std::move(m));
    }
    buf.pending = std::move(merged);
    p.counters.fetched += added;
    p.counters.pending += buf.pending.size();
    p.counters.pending -= old_pending;
    while (buf.pending.size() > cfg_.max_pending) {
      buf.pending.pop_front();
      ++p.counters.dropped_overflow;
      --p.counters.pending;
    }
  }
  if (buf.holds == 0 && !e.procs.empty()) {
    release_kept_locked(p, e, who, resume);
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
  e.retired = e.last_routed;
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
  // Ahead of anything newer, in the order they were routed (the mailbox's):
  // whatever is pending arrived after these were delivered.
  p.counters.reclaimed += back.size();
  p.counters.pending += back.size();
  for (auto& m : buf.pending)
    back.push_back(std::move(m));
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
                                           std::optional<message_id> last_seen) {
  return state_->add(key, who, last_seen);
}

register_result registry::register_process(const registry_key& key, const process& self,
                                           std::optional<message_id> last_seen) {
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

std::vector<routed_message> registry::replay(const registry_key& key) const {
  return state_->replay(key);
}

registry_stats registry::stats() const {
  return state_->stats();
}

const registry_config& registry::config() const noexcept {
  return state_->config();
}

void registry::when_reachable(const registry_key& key, std::function<void()> done) const {
  if (auto* t = state_->transport())
    t->when_reachable(key, std::move(done));
  else
    done();
}

bool registry::has_transport() const noexcept {
  return state_->transport() != nullptr;
}

std::size_t registry::send(const registry_key& key, std::string payload) {
  return state_->send(key, std::move(payload), true).reached;
}

registry::send_result registry::send_with_id(const registry_key& key, std::string payload) {
  return state_->send(key, std::move(payload), true);
}

std::size_t registry::broadcast(const std::string& payload) {
  auto n = state_->broadcast(payload);
  if (auto* t = state_->transport())
    t->forward_broadcast(payload);
  return n;
}

std::size_t registry::send_local(const registry_key& key, std::string payload) {
  return state_->send(key, std::move(payload), false).reached;
}

std::size_t registry::send_local(const registry_key& key, std::string payload, message_id id) {
  return state_->receive(key, std::move(payload), id);
}

std::size_t registry::broadcast_local(const std::string& payload) {
  return state_->broadcast(payload);
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
