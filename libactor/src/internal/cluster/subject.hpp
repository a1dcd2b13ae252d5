/// @file
/// How a registry key becomes one NATS subject token (see `key_subject` in
/// cluster/nats_transport.hpp). NATS splits subjects at `.`, reads `*` and
/// `>` as wildcards and forbids whitespace, and user ids may contain any
/// byte: the token must be injective, never empty, and short enough for the
/// server's control line.
#pragma once

#include <cstddef>
#include <string>

#include "libactor/registry_key.hpp"

namespace libactor::cluster::detail {

/// Longest escaped token; longer keys are hashed (NATS's default control
/// line is 4 KiB, and JetStream indexes every subject it keeps).
inline constexpr std::size_t max_escaped_token = 128;

/// `i42`, `salice`, `sa~2Eb` or `h<32 hex digits>`.
std::string key_token(const registry_key& key);

/// Whether `key_token(key)` is a hash, so that the key itself must travel
/// in the frame for receivers to tell two keys of one subject apart.
bool token_is_hashed(const registry_key& key);

} // namespace libactor::cluster::detail
