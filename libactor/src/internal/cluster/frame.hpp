/// @file
/// The bytes of one routed message on NATS: an 18-byte header ahead of the
/// payload, so that the id given where the message entered the cluster
/// reaches every node (and JetStream keeps it with the message) without
/// NATS headers to parse.
///
///     byte 0       format version (2)
///     byte 1       flags: bit 0 = a key follows (hashed subjects only)
///     bytes 2-9    id's epoch, big endian (0 for a broadcast)
///     bytes 10-17  id's seq, big endian (0 for a broadcast)
///     [4 bytes key length n, big endian; then n bytes of the string key]
///     the rest     payload, as given to `registry::send`
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "libactor/message_id.hpp"

namespace libactor::cluster::detail {

inline constexpr unsigned char frame_version = 2;
inline constexpr unsigned char frame_has_key = 0x01;
inline constexpr std::size_t frame_header = 18;

struct frame_view {
  message_id id;
  bool has_key = false;
  std::string_view key;
  std::string_view payload;
};

inline void put_be(std::string& out, std::uint64_t x, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

inline std::uint64_t get_be(const unsigned char* p, int bytes) {
  std::uint64_t x = 0;
  for (int i = 0; i < bytes; ++i)
    x = (x << 8) | p[i];
  return x;
}

/// One allocation: header, optional key, payload.
inline std::string encode_frame(message_id id, const std::string* key, std::string_view payload) {
  std::string out;
  out.reserve(frame_header + (key ? 4 + key->size() : 0) + payload.size());
  out.push_back(static_cast<char>(frame_version));
  out.push_back(static_cast<char>(key ? frame_has_key : 0));
  put_be(out, id.epoch, 8);
  put_be(out, id.seq, 8);
  if (key) {
    put_be(out, key->size(), 4);
    out.append(*key);
  }
  out.append(payload);
  return out;
}

/// Nullopt for anything this version did not write.
inline std::optional<frame_view> decode_frame(const char* data, std::size_t len) {
  auto* p = reinterpret_cast<const unsigned char*>(data);
  if (data == nullptr || len < frame_header || p[0] != frame_version || (p[1] & ~frame_has_key) != 0)
    return std::nullopt;
  frame_view f;
  f.id.epoch = get_be(p + 2, 8);
  f.id.seq = get_be(p + 10, 8);
  std::size_t at = frame_header;
  if (p[1] & frame_has_key) {
    if (len < at + 4)
      return std::nullopt;
    auto n = static_cast<std::size_t>(get_be(p + at, 4));
    at += 4;
    if (len - at < n)
      return std::nullopt;
    f.has_key = true;
    f.key = std::string_view{data + at, n};
    at += n;
  }
  f.payload = std::string_view{data + at, len - at};
  return f;
}

} // namespace libactor::cluster::detail
