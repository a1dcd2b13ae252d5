/// @file
/// What a reconnecting client is told when the server cannot replay exactly
/// what it missed (docs/registry.md, "Ids, epochs and resets"). The registry
/// decides it at registration; a stream shows it to its client *first*,
/// before any message, in its own framing (SSE `event: reset`, a chunked
/// `reset <reason> <lost>` line, or whatever an application's hook writes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "libactor/message_id.hpp"

namespace libactor {

enum class reset_reason : std::uint8_t {
  /// The id is of the key's current history but older than what is kept.
  window_exceeded,
  /// The id is of another history: the key was forgotten (away longer than
  /// `max_age`), or the server restarted since.
  history_reset,
  /// The id cannot be read, or names a message the history never had.
  unknown_id,
  /// A message crashed the stream's handler and was skipped.
  poison_skipped,
  /// The client read too slowly and messages were dropped (`drop` policy).
  slow_consumer,
};

/// `window_exceeded`, `history_reset`, ... as the wire names them.
std::string_view to_string(reset_reason r) noexcept;

struct replay_reset {
  reset_reason reason = reset_reason::history_reset;
  /// Messages lost between the client's id and the first one delivered
  /// after the reset; nullopt when that cannot be known.
  std::optional<std::uint64_t> lost;
  /// Where the client stands once told: the messages that follow come after
  /// this position (the message before them, or a history's start
  /// `<epoch>-0`). A stream hands it to its client (SSE: the reset event's
  /// `id:`) and resumes from it after a crash, so a reset is never shown
  /// twice for one loss and a skipped poison message is never replayed to
  /// that client. Nullopt when no position can be named.
  std::optional<message_id> position;

  /// Same reason and count: what the client is told (not where it stands).
  friend bool operator==(const replay_reset& x, const replay_reset& y) noexcept {
    return x.reason == y.reason && x.lost == y.lost;
  }
};

/// `{"reason": "window_exceeded", "lost": 6}` (`null` for an unknown count):
/// the data of an SSE reset event and of a WebSocket reset frame.
std::string reset_json(const replay_reset& r);

} // namespace libactor
