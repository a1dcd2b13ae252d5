/// @file
/// The cluster transport: carries the registry's `send` and `broadcast` to
/// the other nodes over NATS (docs/cluster.md), so that
/// `POST /send/<id>` on any node reaches that user's sessions wherever they
/// live. Plug one into `registry_config::transport`; the registry's API does
/// not change. docs/cluster.md describes subjects, ids, replay and failures.
///
///     auto nats = std::make_shared<libactor::cluster::nats_transport>(cfg);
///     libactor::registry_config rc;
///     rc.transport = nats;
///     libactor::registry reg{rc};   // subscribes as sessions register
///
/// - One core NATS subject per key that has a process on this node
///   (`<prefix>.key.<token>`), subscribed when the key's first local process
///   registers and dropped when the last one leaves; one subject for
///   broadcasts (`<prefix>.all`). A send delivers locally and publishes once;
///   the connection never receives its own publications (no echo).
/// - Ids are given where a message enters (routed.hpp: the entry node's
///   history of the key), carried in an 18-byte frame ahead of the payload;
///   every node delivers the message with that id. Inbound frames are
///   checked like any other input (version, flags, ids, key, size).
/// - Replay across nodes: a JetStream stream (memory storage) keeps every
///   key's messages for the registry's `max_age`; a process that registers
///   on a node that did not hear the key gets what it missed from there,
///   before live messages.
/// - NATS down: local delivery goes on; publications wait in the client's
///   reconnect buffer or are counted as dropped; the client reconnects and
///   resubscribes by itself; each transition is logged.
///
/// Only available when libactor is built with `LIBACTOR_WITH_NATS` (the
/// default); the NATS C client stays behind this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libactor/registry_transport.hpp"

namespace libactor::cluster {

/// How a NATS transport is built; every limit has a default and a name.
struct nats_config {
  /// NATS servers (URLs) of one cluster; the client picks one and moves to
  /// another when it fails.
  std::vector<std::string> servers{"nats://127.0.0.1:4222"};

  /// This node's name in logs and in the server's connection list; empty
  /// means `<hostname>:<pid>`.
  std::string node_name;

  /// First token(s) of every subject, so that several applications can
  /// share one NATS: `<prefix>.key.<token>` and `<prefix>.all`. Dot-separated
  /// tokens without spaces or wildcards.
  std::string subject_prefix = "libactor";

  /// How long one connection attempt to one server may take.
  std::chrono::milliseconds connect_timeout{2'000};

  /// Pause between two reconnection rounds over the server list (the C
  /// client's default).
  std::chrono::milliseconds reconnect_wait{2'000};

  /// Reconnection rounds before the client gives up and closes; -1 never.
  int max_reconnects = -1;

  /// Keep publications made while disconnected in the client's reconnect
  /// buffer and send them on reconnection. Off by default: the buffer is
  /// flushed the moment this node reconnects, possibly before the receiving
  /// nodes have resubscribed, and core NATS then drops them without anyone
  /// knowing. Off, a publication made while not connected is not attempted
  /// and counts as `dropped` at once, so every message is either delivered
  /// or counted (docs/cluster.md "Failure behaviour").
  bool buffer_while_disconnected = false;

  /// With `buffer_while_disconnected`: bytes of publications the client
  /// keeps while disconnected and sends on reconnection; beyond it a
  /// publication fails and counts as `dropped`. Zero means the C client's
  /// default, 8 MiB.
  std::size_t reconnect_buffer_bytes = 8 * 1024 * 1024;

  /// Start even if no server answers: local delivery works at once and the
  /// client keeps trying in the background. False makes the constructor
  /// throw instead.
  bool retry_on_failed_connect = true;

  /// Inbound messages one subscription may queue before the client drops
  /// them ("slow consumer", counted in `nats_stats::slow_consumers`).
  int max_pending_messages = 65'536;

  /// Threads of the C client's shared delivery pool, which runs every
  /// subscription's handler (never a thread per subscription). The pool is
  /// process-wide and only grows; one keeps per-key order trivially.
  int delivery_threads = 1;

  // -- JetStream (replay across nodes) ------------------------------------------

  /// Keep each key's last messages in a JetStream stream for replay on
  /// another node. Without it (or without `-js` on the server) replay uses
  /// the local buffer only.
  bool jetstream = true;

  /// The stream's name; empty means the prefix with every character other
  /// than letters, digits, `-` and `_` replaced by `_`, then `_routed`.
  std::string stream_name;

  /// Messages kept per key (the stream's MaxMsgsPerSubject); zero, the
  /// default, sets no per-key limit: the stream keeps the registry's
  /// `max_age` of messages, within `stream_max_bytes`. A per-key limit costs
  /// nats-server 2.9 time in proportion to the stream's size on every
  /// message once reached (measured in docs/cluster.md: 17 us a message at
  /// 16,000 kept, 180 us at 160,000), so set one only for few keys.
  std::size_t stream_messages_per_key = 0;

  /// Bytes the stream may hold over all keys (oldest dropped first): the
  /// bound on nats-server's memory for replay.
  std::int64_t stream_max_bytes = 256 * 1024 * 1024;

  /// Copies of the stream in a NATS cluster (1 on a single server).
  int stream_replicas = 1;

  /// Deadline of one JetStream request (stream set-up, one replay).
  std::chrono::milliseconds request_timeout{1'000};

  /// Largest payload accepted from another node; a larger frame is
  /// rejected (counted in `nats_stats::rejected`), as the HTTP server
  /// refuses a body over its limit. Set it to what a stream can hold.
  std::size_t max_inbound_payload = 1 << 20;

  /// Replays waiting for the JetStream worker; beyond it a replay is
  /// answered from the local buffer and counted in `fetch_failures`.
  std::size_t max_queued_fetches = 10'000;
};

/// Counters since construction, plus current state. Every publication is
/// either `published` or `dropped`.
struct nats_stats {
  /// Handed to the client (sends and broadcasts), reconnect buffer included.
  std::uint64_t published = 0;
  std::uint64_t dropped = 0;        ///< Refused by the client (reconnect buffer full, connection closed).
  std::uint64_t received = 0;       ///< From other nodes, handed to the registry.
  /// Inbound and malformed (or for a hashed subject's other key): not delivered.
  std::uint64_t rejected = 0;
  /// Times a subscription fell `max_pending_messages` behind (the client
  /// dropped inbound messages).
  std::uint64_t slow_consumers = 0;
  /// Inbound messages the client dropped in those events, summed over
  /// subscriptions: the loss in messages, not events.
  std::uint64_t slow_consumer_dropped = 0;
  std::size_t subscriptions = 0;    ///< Keys subscribed now: one per key with a local process.
  std::uint64_t subscribe_failures = 0; ///< Keys the client refused to subscribe.
  std::uint64_t disconnects = 0;    ///< Connections lost.
  std::uint64_t reconnects = 0;     ///< Connections re-established (subscriptions restored).
  std::uint64_t fetches = 0;        ///< Replays asked of JetStream.
  std::uint64_t fetch_failures = 0; ///< Replays it could not answer (the local buffer served).
  std::uint64_t fetched = 0;        ///< Messages read from JetStream for replays.
  bool connected = false;           ///< A server connection is up now.
  bool jetstream = false;           ///< The replay stream is set up now.
  /// `when_reachable` answers given without a confirmed round trip (not
  /// connected, or the server did not answer within `request_timeout`).
  std::uint64_t unconfirmed = 0;
};

/// A `registry_transport` over NATS. Thread-safe. Serves one registry.
///
/// Destroy the registry before the transport (a registry holds it by
/// `shared_ptr`, so that is the natural order).
class nats_transport final : public registry_transport {
public:
  /// Connects (or, with `retry_on_failed_connect`, starts trying to).
  /// Throws `std::invalid_argument` for a bad prefix or no servers, and
  /// `std::runtime_error` if the client refuses to start.
  explicit nats_transport(nats_config cfg = {});
  ~nats_transport() override;

  nats_transport(const nats_transport&) = delete;
  nats_transport& operator=(const nats_transport&) = delete;

  const nats_config& config() const noexcept;

  nats_stats stats() const;

  /// Waits until a server connection is up and the server has seen every
  /// subscription made so far (one round trip). False at the deadline.
  bool wait_connected(std::chrono::milliseconds timeout) const;

  /// The subject this transport uses for `key`.
  std::string subject_of(const registry_key& key) const;

  // -- registry_transport ----------------------------------------------------------

  void attach(registry& owner) override;
  void detach(registry& owner) override;
  std::size_t forward(const registry_key& key, message_id id, const std::string& payload) override;
  std::size_t forward_broadcast(const std::string& payload) override;
  void key_added(const registry_key& key) override;
  void key_removed(const registry_key& key) override;
  void fetch(const registry_key& key, std::optional<message_id> after, fetch_handler done) override;
  /// Batched: one round trip (a PING after the subscriptions made so far)
  /// answers every request queued meanwhile, on a thread of the transport.
  void when_reachable(const registry_key& key, std::function<void()> done) override;

  class impl;

private:
  std::unique_ptr<impl> impl_;
};

/// The subject of `key` under `prefix`: `<prefix>.key.<token>` where the
/// token is `i<decimal>` for an integer key and `s<escaped>` for a string
/// key (letters, digits, `-` and `_` as is, every other byte as `~XX`), or
/// `h<32 hex digits>` (a 128-bit hash) when the escaped form would exceed 128
/// characters; a hashed key travels in the frame too, and receivers check it.
/// No token is empty or contains `.`, `*`, `>` or whitespace.
std::string key_subject(std::string_view prefix, const registry_key& key);

/// Whether `prefix` can start a subject: non-empty dot-separated tokens of
/// printable ASCII without `*`, `>` or spaces.
bool valid_subject_prefix(std::string_view prefix) noexcept;

} // namespace libactor::cluster
