#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "internal/cluster/subject.hpp"
#include "libactor/cluster/nats_transport.hpp"

namespace libactor::cluster {

namespace {

bool plain_byte(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
         || c == '_';
}

/// FNV-1a, 64 bits, from a given basis: stable across builds and machines
/// (std::hash is neither), which every node must agree on.
std::uint64_t fnv1a(std::string_view s, std::uint64_t basis) noexcept {
  auto h = basis;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string escaped(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 1);
  for (unsigned char c : s) {
    if (plain_byte(c))
      out.push_back(static_cast<char>(c));
    else
      out += fmt::format("~{:02X}", c);
  }
  return out;
}

} // namespace

namespace detail {

std::string key_token(const registry_key& key) {
  if (key.is_integer())
    return fmt::format("i{}", key.integer());
  auto e = escaped(key.string());
  if (e.size() + 1 <= max_escaped_token)
    return "s" + e;
  // Two independent 64-bit hashes; a collision costs rejected messages, never
  // a misdelivery, since the key travels in the frame and is checked.
  auto& s = key.string();
  return fmt::format("h{:016x}{:016x}", fnv1a(s, 0xcbf29ce484222325ULL),
                     fnv1a(s, 0x84222325cbf29ce4ULL));
}

bool token_is_hashed(const registry_key& key) {
  if (key.is_integer())
    return false;
  std::size_t n = 1;
  for (unsigned char c : key.string())
    n += plain_byte(c) ? 1 : 3;
  return n > max_escaped_token;
}

} // namespace detail

std::string key_subject(std::string_view prefix, const registry_key& key) {
  std::string out{prefix};
  out += ".key.";
  out += detail::key_token(key);
  return out;
}

bool valid_subject_prefix(std::string_view prefix) noexcept {
  if (prefix.empty() || prefix.front() == '.' || prefix.back() == '.')
    return false;
  char previous = 0;
  for (char ch : prefix) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c >= 0x7f || c == '*' || c == '>')
      return false;
    if (c == '.' && previous == '.')
      return false;
    previous = ch;
  }
  return true;
}

} // namespace libactor::cluster
