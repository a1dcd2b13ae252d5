/// @file
/// The replay side of the NATS transport: a JetStream stream that captures
/// every key subject (`<prefix>.key.>`) and keeps each key's last messages,
/// and a worker thread that sets the stream up after each (re)connection and
/// reads a key's messages for a replay, so that no JetStream round trip ever
/// runs on a sender's, a process's or a NATS callback's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>

#include "internal/cluster/transport_counters.hpp"
#include "libactor/cluster/nats_transport.hpp"

namespace libactor::cluster::detail {

class jetstream_store {
public:
  /// `subjects` is the stream's subject filter, `<prefix>.key.>`.
  jetstream_store(natsConnection* nc, const nats_config& cfg, std::string subjects,
                  transport_counters& counters);
  ~jetstream_store();

  jetstream_store(const jetstream_store&) = delete;
  jetstream_store& operator=(const jetstream_store&) = delete;

  const std::string& stream_name() const noexcept { return stream_; }

  /// The stream's limits (`messages_per_key` 0: none per key), from the
  /// registry it serves; sets the stream up.
  void set_limits(std::size_t messages_per_key, std::chrono::milliseconds max_age);

  /// A connection came up: a restarted server lost a memory stream, so set
  /// it up again.
  void connected();

  /// Reads the messages of `subject` the stream holds, in stream order, on
  /// the worker (after a pending set-up) and hands them to `done`; when the
  /// newest is `after` itself, only that one. Nullopt at once if JetStream
  /// cannot answer (not connected, known unavailable, queue full).
  /// `key_check` is the key a hashed subject's frames must carry.
  void fetch(std::string subject, std::optional<std::string> key_check, std::optional<message_id> after,
             registry_transport::fetch_handler done);

  bool ready() const;

  /// Ends the worker; queued replays get nullopt. Idempotent.
  void stop();

private:
  struct fetch_job {
    std::string subject;
    std::optional<std::string> key_check;
    std::optional<message_id> after;
    registry_transport::fetch_handler done;
  };

  void run();
  void set_up();
  std::optional<std::vector<routed_message>> read(const fetch_job& job);

  natsConnection* nc_;
  const nats_config& cfg_;
  std::string subjects_;
  std::string stream_;
  transport_counters& counters_;
  jsCtx* js_ = nullptr;

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<fetch_job> jobs_;
  bool set_up_due_ = false;
  bool stopping_ = false;
  bool ready_ = false;
  /// The last set-up failed (no JetStream): replays fail at once until a
  /// reconnection tries again.
  bool set_up_failed_ = false;
  bool limits_known_ = false;
  bool unavailable_logged_ = false;
  std::int64_t messages_per_key_ = 0;
  std::chrono::milliseconds max_age_{0};
  std::thread worker_;
};

} // namespace libactor::cluster::detail
