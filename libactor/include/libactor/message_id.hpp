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
  /// Position in the history, from 1.
  std::uint64_t seq = 0;

  bool valid() const noexcept { return epoch != 0 && seq != 0; }

  friend bool operator==(const message_id& x, const message_id& y) noexcept {
    return x.epoch == y.epoch && x.seq == y.seq;
  }
  friend bool operator!=(const message_id& x, const message_id& y) noexcept { return !(x == y); }
};

/// `<16 hex digits>-<decimal>`.
std::string to_string(const message_id& id);

/// The id in `text` (surrounding spaces and tabs ignored, as an HTTP field
/// value may carry them), or nullopt for anything `to_string` would not
/// have written: a client's id is input like any other.
std::optional<message_id> parse_message_id(std::string_view text) noexcept;

/// Lets CAF carry the id inside a message and print it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_id& x) {
  return f(x.epoch, x.seq);
}

} // namespace libactor
