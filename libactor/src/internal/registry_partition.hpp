/// @file
/// One partition of the registry: the keys whose hash falls on it, behind one
/// mutex, with its share of the counters. Everything about one key (its
/// processes, its id counter, its buffer) lives in one partition, so every
/// per-key guarantee (ids in order, buffered messages first) is a matter of
/// one lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/circular_buffer.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <caf/actor.hpp>

#include "libactor/message_id.hpp"
#include "libactor/registry_key.hpp"

namespace libactor::detail {

/// A payload kept by one or more keys. Immutable and shared, so that a
/// broadcast keeps one copy for all the keys' replay windows instead of one
/// per key (15,000 copies of the same bytes, and as many allocations inside
/// the broadcast's loop, measured as its largest cost).
using shared_payload = std::shared_ptr<const std::string>;

/// A message kept for a key: waiting for a process, or delivered and kept
/// for replay.
struct kept_message {
  message_id id;
  std::chrono::steady_clock::time_point at;
  shared_payload payload;
};

/// The kept messages of one key, oldest first. Allocates nothing until the
/// first message and then grows by doubling: `std::deque` allocates about
/// 600 bytes as soon as it exists, which for every key a broadcast reaches
/// was most of the first broadcast's time. The limits (replay window,
/// max_pending, max_age) are the registry's to apply; this only stores.
class kept_queue {
public:
  using container = boost::circular_buffer<kept_message>;
  using iterator = container::iterator;
  using const_iterator = container::const_iterator;

  void push_back(kept_message m) {
    if (q_.full())
      q_.set_capacity(q_.capacity() == 0 ? 4 : 2 * q_.capacity());
    q_.push_back(std::move(m));
  }
  void pop_front() { q_.pop_front(); }
  void clear() noexcept { q_.clear(); }

  std::size_t size() const noexcept { return q_.size(); }
  bool empty() const noexcept { return q_.empty(); }
  kept_message& front() { return q_.front(); }
  const kept_message& front() const { return q_.front(); }

  iterator begin() noexcept { return q_.begin(); }
  iterator end() noexcept { return q_.end(); }
  const_iterator begin() const noexcept { return q_.begin(); }
  const_iterator end() const noexcept { return q_.end(); }

private:
  container q_;
};

/// Only keys that have ever held a message while absent, keep a replay
/// window, or wait for a transport's replay allocate one.
struct key_buffer {
  /// Delivered, kept for replay.
  kept_queue history;
  /// Not delivered yet: the key had no process when they were sent, or its
  /// messages are held back while the transport fetches what was missed.
  kept_queue pending;
  /// Transport fetches under way for the key. While non-zero every message
  /// of the key waits in `pending`, so that replayed ones come out first.
  std::uint32_t holds = 0;

  /// Nothing kept and nothing awaited: the buffer may go.
  bool empty() const noexcept { return history.empty() && pending.empty() && holds == 0; }
};

/// One process registered under a key. `serial` names this very
/// registration (unique within the registry): the exit hook that removes it
/// and the messages delivered for it carry it, so an exit never removes a
/// later registration of the same process under the same key, and only
/// this key's messages go back to this key. `hook` is the process's handle
/// for that exit hook (0 for a plain CAF actor, watched by an attachable).
struct registration {
  caf::actor proc;
  std::uint64_t serial = 0;
  std::uint64_t hook = 0;
};

/// The processes of one key. Almost every key has exactly one (one session
/// per user), so that one lives inline: no heap block per key, and a send
/// reaches the actor without a detour through a vector's buffer (a cache
/// miss per message at 100,000 keys). More processes move to a vector.
class registration_list {
public:
  std::size_t size() const noexcept { return more_ ? more_->size() : (one_.proc ? 1 : 0); }
  bool empty() const noexcept { return size() == 0; }

  registration* begin() noexcept { return more_ ? more_->data() : &one_; }
  registration* end() noexcept { return begin() + size(); }
  const registration* begin() const noexcept { return more_ ? more_->data() : &one_; }
  const registration* end() const noexcept { return begin() + size(); }
  registration& front() noexcept { return *begin(); }

  void push_back(registration x) {
    if (!more_ && !one_.proc) {
      one_ = std::move(x);
      return;
    }
    if (!more_) {
      more_ = std::make_unique<std::vector<registration>>();
      more_->push_back(std::move(one_));
      one_ = registration{};
    }
    more_->push_back(std::move(x));
  }

  /// Removes `*pos`, keeping the order of the others (lookup returns them in
  /// registration order).
  void erase(registration* pos) {
    if (!more_) {
      one_ = registration{};
      return;
    }
    more_->erase(more_->begin() + (pos - more_->data()));
    if (more_->size() == 1) {
      one_ = std::move(more_->front());
      more_.reset();
    }
  }

private:
  registration one_;
  std::unique_ptr<std::vector<registration>> more_;
};

/// Per key: 32 bytes of processes, 16 of history (epoch and counter), 8 of
/// buffer pointer, 8 of time, 16 of the newest id routed and 16 of that id
/// at the last departure. A key whose last process left stays as a
/// tombstone (no process, no buffer) for `max_age`, so that a session
/// restarting under its supervisor continues the key's history instead of
/// starting a new one.
struct key_entry {
  registration_list procs;
  /// This node's history of the key: its epoch (0 until the first message
  /// it numbers) and the seq of the last message it numbered in it.
  std::uint64_t epoch = 0;
  std::uint64_t last_seq = 0;
  std::unique_ptr<key_buffer> buffer;
  /// When the last process left or a message was last buffered.
  std::chrono::steady_clock::time_point touched{};
  /// The newest message routed to the key here, numbered here or received.
  message_id last_routed;
  /// `last_routed` when the last process left (invalid if it never did):
  /// with a transport the node stops hearing the key then, so a process
  /// that comes back asks the cluster's store for what it missed.
  message_id retired;
  /// Messages numbered by other nodes reached the key here: a count of
  /// what a client missed can then no longer be read off this node's seqs.
  bool mixed = false;

  bool idle() const noexcept { return procs.empty() && (!buffer || buffer->empty()); }
};

/// Counters of one partition, changed only under its lock.
struct partition_counters {
  std::size_t keys = 0;
  std::size_t registrations = 0;
  std::size_t pending = 0;
  std::uint64_t routed = 0;
  std::uint64_t delivered = 0;
  std::uint64_t buffered = 0;
  std::uint64_t dropped_overflow = 0;
  std::uint64_t expired = 0;
  std::uint64_t replayed = 0;
  std::uint64_t fetched = 0;
  std::uint64_t reclaimed = 0;
  std::uint64_t dropped_exit = 0;
  std::uint64_t resets = 0;
  std::uint64_t reset_lost = 0;
};

/// The partitions' hash: the key's own (already mixed, registry_key.cpp),
/// declared avalanching so that the table uses it as is.
struct registry_key_hash {
  using is_avalanching = void;
  std::size_t operator()(const registry_key& k) const noexcept { return k.hash(); }
};

/// Cache-line aligned so two partitions' mutexes never share a line. The
/// keys live in an open-addressing table: a lookup among 100,000 random
/// keys in `std::unordered_map` walked its bucket node by node, hashing and
/// touching each next node to find the bucket's end (a cache miss per
/// step), and was the largest part of a send (bench/RESULTS.md, Registry).
/// Entries move when the table grows: nothing keeps a reference to one
/// across an insertion.
struct alignas(64) registry_partition {
  mutable std::mutex mtx;
  boost::unordered_flat_map<registry_key, key_entry, registry_key_hash> keys;
  partition_counters counters;
};

} // namespace libactor::detail
