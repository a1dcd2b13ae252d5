/// @file
/// The registry: routes messages to processes by key (a user id), mochiweb's
/// "router". HTTP session processes register under their user's id; a
/// `POST /send/<id>` anywhere on the node then reaches every open stream of
/// that user, and `POST /broadcast` reaches them all (docs/comet.md).
///
/// - Keys are strings or 64-bit integers (registry_key.hpp). In `unique` mode
///   a key names at most one process (OTP's `register/2`); in `duplicate`
///   mode many (one user with several browser tabs), as Elixir's Registry.
/// - A process leaves the registry by itself when it exits, before any link
///   or monitor hears of the exit (an exit hook, detail/process_actor.hpp):
///   no stale entries, and a DOWN handler can register the key again. The
///   routed messages it left unread go back to the key, ahead of newer ones.
/// - Delivery format: `(routed_atom, id, payload)`, see routed.hpp.
/// - Messages sent to a key that has no process are kept in a bounded,
///   aged buffer and delivered in order when a process registers the key
///   again (a session restarting under its supervisor loses nothing).
/// - Every message has an id with an epoch (message_id.hpp). A process that
///   registers with the last id its client saw gets exactly what it missed,
///   in order, once; when that cannot be done it gets a `replay_reset`
///   (replay_reset.hpp) saying why and how many were lost, before anything
///   else. Nothing is dropped without a counter and, for a client that comes
///   back, a reset.
/// - Partitioned by key hash, each partition behind its own mutex (lock
///   striping): senders on different threads rarely meet on one lock, and a
///   send is one direct mailbox enqueue, no hop through a shard actor.
///   docs/registry.md gives the measurements behind the choice.
/// - Several nodes: a `registry_transport` in `registry_config::transport`
///   (cluster/nats_transport.hpp) carries `send` and `broadcast` to the
///   key's processes on other nodes and replays what a node missed;
///   docs/cluster.md describes it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libactor/message_id.hpp"
#include "libactor/pid.hpp"
#include "libactor/registry_key.hpp"
#include "libactor/registry_transport.hpp"
#include "libactor/replay_reset.hpp"
#include "libactor/routed.hpp"

namespace libactor {

class process;

/// One process per key, or many.
enum class registry_mode : std::uint8_t { unique, duplicate };

/// How a registry is built; every field has a default.
struct registry_config {
  using clock_function = std::function<std::chrono::steady_clock::time_point()>;

  registry_mode mode = registry_mode::unique;

  /// Independent partitions (hash map + mutex each). More than the number
  /// of threads that send at once makes two senders rarely share one.
  std::size_t partitions = 64;

  /// Messages kept per key while it has no process; beyond it the oldest
  /// is dropped and counted in `registry_stats::dropped_overflow`.
  std::size_t max_pending = 256;

  /// How long a message waits for a process (and stays replayable); older
  /// ones are dropped, pending ones counted in `registry_stats::expired`.
  /// Also how long a key's history (its epoch and counter) outlives its
  /// last process, so that a session restarted within it continues the ids
  /// (about 100 bytes a key); a key forgotten after that starts a new epoch.
  std::chrono::milliseconds max_age{30'000};

  /// Messages already delivered that each key keeps for `replay` and for a
  /// `register_process` with a last-seen id (SSE `Last-Event-ID`). Zero keeps
  /// nothing once delivered: the default, as it costs memory on every key.
  std::size_t replay_window = 0;

  /// How often a background thread drops aged messages from keys nobody
  /// touches; zero means never (call `registry::expire` yourself). Keys that
  /// are touched are aged on every touch anyway.
  std::chrono::milliseconds sweep_interval{1'000};

  /// Time source for ages; tests plug in a manual clock.
  clock_function clock = [] { return std::chrono::steady_clock::now(); };

  /// Carries `send`/`broadcast` to other nodes; null (the default) for one
  /// node.
  std::shared_ptr<registry_transport> transport;
};

/// Counters since construction, plus current sizes. Nothing is dropped
/// without appearing here.
struct registry_stats {
  std::size_t keys = 0;          ///< Keys with at least one process.
  std::size_t registrations = 0; ///< (key, process) pairs.
  /// Keys held at all: with processes, with kept messages, or left by their
  /// last process less than `max_age` ago (kept so their ids continue).
  std::size_t entries = 0;
  std::size_t pending = 0;       ///< Messages waiting for a process, over all keys.
  std::uint64_t routed = 0;      ///< Message ids assigned by send and broadcast.
  /// Messages enqueued to processes (one per process reached), less those
  /// an exiting process left unread (they are `reclaimed` or `dropped_exit`).
  std::uint64_t delivered = 0;
  std::uint64_t buffered = 0;    ///< Messages that found no process and were kept.
  std::uint64_t dropped_overflow = 0; ///< Pending messages dropped for `max_pending`.
  std::uint64_t expired = 0;     ///< Pending messages dropped for `max_age`.
  std::uint64_t replayed = 0;    ///< Already-delivered messages delivered again on request.
  /// Messages the transport's store supplied at a registration (missed by
  /// this node); they are then pending and delivered like any other.
  std::uint64_t fetched = 0;
  /// Messages a registered process left unread in its mailbox when it
  /// exited, handed back to its key's buffer (the key had no other process):
  /// then pending, delivered first to the key's next process.
  std::uint64_t reclaimed = 0;
  /// Messages a registered process left unread when it exited that could
  /// not be handed back because the key still had other processes (which
  /// got them): lost for that process.
  std::uint64_t dropped_exit = 0;
  /// Registrations with a last-seen id that got a `replay_reset` instead
  /// of an exact replay.
  std::uint64_t resets = 0;
  /// Messages those resets reported lost (where the count was known).
  std::uint64_t reset_lost = 0;
};

/// The outcome of `register_process`.
enum class register_status : std::uint8_t {
  ok,
  taken,              ///< Unique mode: another process holds the key (`holder`).
  already_registered, ///< This process already holds this key.
  no_process,         ///< The pid is empty or the process has exited.
};

std::string to_string(register_status x);

struct register_result {
  register_status status = register_status::ok;
  /// For `taken`: the process that holds the key.
  pid holder;
  /// Messages delivered to the new process at registration, in id order.
  /// When the transport is asked for what this node missed, those and the
  /// key's kept messages arrive once it answers, after this call returns,
  /// and are not counted here.
  std::size_t delivered = 0;
  /// The newest message of the key that the new process will *not* be
  /// sent (nullopt: it gets everything from the key's first message on). A
  /// process that crashes and registers again with this as `last_seen` (or
  /// the id it handled last, if it handled any) gets back what its lost
  /// mailbox held; the HTTP session does exactly that.
  std::optional<message_id> baseline;
  /// Set when `last_seen` was given and could not be answered exactly. The
  /// process is told in its mailbox too, ahead of every message of the key:
  /// `(reset_atom, replay_reset)` (routed.hpp), which is how it learns of a
  /// reset decided later (with a transport, when the cluster's store answers).
  std::optional<replay_reset> reset;

  bool ok() const noexcept { return status == register_status::ok; }
  explicit operator bool() const noexcept { return ok(); }
};

/// Routes messages to processes by key. Thread-safe; all calls may come from
/// any thread, inside or outside processes. Destroying the registry while
/// processes are still registered is safe: their exits then find nothing.
class registry {
public:
  explicit registry(registry_config cfg = {});
  ~registry();

  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  // -- registration ----------------------------------------------------------

  /// Registers `who` under `key`. Any messages pending for the key are
  /// delivered to `who` first, in order, before anything sent later.
  ///
  /// With `last_seen` (the last id the client saw: SSE `Last-Event-ID`),
  /// `who` instead gets every message kept for the key after that one,
  /// delivered to others or not, in order, once. When the registry cannot
  /// do that exactly, `register_result::reset` says why, and `who` gets
  /// what the key still holds (docs/registry.md, "Ids, epochs and resets"):
  /// - the id is in the key's history but messages after it are no longer
  ///   kept: `window_exceeded`, with the exact number lost;
  /// - the id is of another history (the key was forgotten, or the registry
  ///   is new: a server restart): `history_reset`, lost unknown;
  /// - the id names a message the history never had, or is `message_id{}`
  ///   (what a caller passes for an id the client sent but that could not
  ///   be read): `unknown_id`.
  ///
  /// With a transport, the key's first local process may miss what other
  /// nodes sent while this node held no process for it. The transport's
  /// store is then asked for the key's messages, and the key's messages are
  /// held back until it answers: `who` gets the replayed ones first, without
  /// duplicates, then the live ones. Without a store, or if it cannot
  /// answer, the local buffer serves as on one node.
  ///
  /// Fails with `no_process` if `who` is empty or has already exited; if it
  /// exits later, even during this call, its exit hook removes it as on any exit.
  register_result register_process(const registry_key& key, const pid& who,
                                   std::optional<message_id> last_seen = std::nullopt);

  /// Registers the calling process (`self` is its body's argument).
  register_result register_process(const registry_key& key, const process& self,
                                   std::optional<message_id> last_seen = std::nullopt);

  /// Removes one registration; false if `who` did not hold `key`. Messages
  /// sent to the key afterwards are buffered if no process is left.
  bool unregister_process(const registry_key& key, const pid& who);

  // -- queries -----------------------------------------------------------------

  /// The processes of `key`, in registration order; empty if none.
  std::vector<pid> lookup(const registry_key& key) const;

  /// Keys with at least one process.
  std::size_t key_count() const;

  /// (key, process) pairs.
  std::size_t registration_count() const;

  /// The messages kept for `key` (pending and, with a `replay_window`,
  /// delivered ones), oldest first. Only reads.
  std::vector<routed_message> replay(const registry_key& key) const;

  registry_stats stats() const;

  const registry_config& config() const noexcept;

  /// Calls `done` once, from any thread, when messages sent for `key` on
  /// any node from then on reach this node's processes of the key (see
  /// `registry_transport::when_reachable`); at once without a transport.
  void when_reachable(const registry_key& key, std::function<void()> done) const;

  /// Whether sends and broadcasts also travel to other nodes.
  bool has_transport() const noexcept;

  // -- routing -------------------------------------------------------------------

  /// Delivers `payload` to every process of `key` and, with a transport, to
  /// the key's processes on other nodes. Returns the processes reached on
  /// this node; 0 means it was buffered for the key (or dropped if the
  /// buffer is full: see `registry_stats`).
  std::size_t send(const registry_key& key, std::string payload);

  /// What `send_with_id` did.
  struct send_result {
    std::size_t reached = 0; ///< Processes reached on this node.
    message_id id;           ///< The id the message got.
  };

  /// `send`, also saying which id the message got (comet's `X-Message-Id`).
  send_result send_with_id(const registry_key& key, std::string payload);

  /// Delivers `payload` to every registered process; each key numbers it
  /// as its own next message. A key whose last process left, or that was
  /// sent to, less than `max_age` ago buffers it like a send (a session
  /// restarting under its supervisor misses nothing); keys absent for
  /// longer do not. Returns the processes reached on this node.
  std::size_t broadcast(const std::string& payload);

  /// `send` on this node only.
  std::size_t send_local(const registry_key& key, std::string payload);

  /// `send` on this node only with the id the message got where it entered
  /// the cluster: what a transport calls for inbound messages. The key's
  /// own numbering is not touched.
  std::size_t send_local(const registry_key& key, std::string payload, message_id id);

  /// `broadcast` on this node only: what a transport calls for inbound
  /// broadcasts.
  std::size_t broadcast_local(const std::string& payload);

  /// Drops every kept message older than `max_age` now; returns how many
  /// pending messages expired. The sweep thread calls this periodically.
  std::size_t expire();

  /// The state shared with the exit hooks of registered processes.
  class state;

private:
  std::shared_ptr<state> state_;
};

} // namespace libactor
