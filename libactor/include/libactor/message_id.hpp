/// @file
/// The id of a routed message (docs/registry.md, "Ids, epochs and resets").
///
/// An id names one message in one *history* of one key: `epoch` names the
/// history, `seq` counts the messages of that history from 1 with no gaps.
/// A history begins when a registry first numbers a message for the key,
/// and ends when the key is forgotten (no process and nothing kept for
/// `max_age`) or the registry itself goes (a server restart): the next
/// message starts a new epoch, so an id from before is never read as a
/// position in the new history. Epochs are random 64-bit numbers; two
/// histories, on one node or on two, share one with odds of about 2^-64
/// per pair.
///
/// Seq 0 names no message: it is the *start* of a history, the position of
/// a client that has seen none of its messages yet. A stream announces it
/// when it opens (SSE: an `id:` field with no data, which sets a browser's
/// last event id without an event), so that even a client whose connection
/// drops before its first message resumes exactly, or learns what it lost.
///
/// On the wire (SSE `id:`, `X-Message-Id`, `last_event_id`) an id is the
/// string `<epoch as 16 lowercase hex digits>-<seq in decimal>`, e.g.
/// `9f3a0c21d4e7b815-42`. Clients treat it as opaque and hand the last one
/// they saw back on reconnect.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace libactor {

struct message_id {
  /// The history; never 0 for a real id (0 is "no id").
  std::uint64_t epoch = 0;
  /// Position in the history: a message's, from 1; 0 for the start.
  std::uint64_t seq = 0;

  /// Names a message (an epoch and a seq from 1).
  bool valid() const noexcept { return epoch != 0 && seq != 0; }
  /// Names a position a client can resume from: a message, or a start.
  bool position() const noexcept { return epoch != 0; }

  friend bool operator==(const message_id& x, const message_id& y) noexcept {
    return x.epoch == y.epoch && x.seq == y.seq;
  }
  friend bool operator!=(const message_id& x, const message_id& y) noexcept { return !(x == y); }
};

/// `<16 hex digits>-<decimal>`.
std::string to_string(const message_id& id);

/// The id in `text` (surrounding spaces and tabs ignored, as an HTTP field
/// value may carry them), or nullopt for anything `to_string` would not
/// have written (epoch 0 included): a client's id is input like any other.
/// Seq 0, a history's start, reads back.
std::optional<message_id> parse_message_id(std::string_view text) noexcept;

/// Lets CAF carry the id inside a message and print it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_id& x) {
  return f(x.epoch, x.seq);
}

} // namespace libactor
