/// @file
/// The key under which processes register in the registry (registry.hpp):
/// a user id, either a string ("alice") or a 64-bit integer (42). Routing by
/// user id is what the comet server's `/send/<id>` does, so the key is the
/// unit of addressing, of message ordering and of buffering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

namespace libactor {

/// A string or a 64-bit integer. The two kinds never compare equal: the
/// integer 42 and the string "42" are different keys.
///
/// Integers of any width convert implicitly; signed values are stored as
/// their two's complement `std::uint64_t`, so -1 and 2^64-1 are one key.
class registry_key {
public:
  registry_key(std::string x) : value_(std::move(x)) {
  }
  registry_key(std::string_view x) : value_(std::string{x}) {
  }
  registry_key(const char* x) : value_(std::string{x}) {
  }

  template <class Int, class = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>
                                                && !std::is_same_v<Int, char>>>
  registry_key(Int x) : value_(static_cast<std::uint64_t>(x)) {
  }

  bool is_integer() const noexcept { return value_.index() == 0; }
  bool is_string() const noexcept { return value_.index() == 1; }

  /// The integer; only valid if `is_integer()`.
  std::uint64_t integer() const noexcept { return *std::get_if<std::uint64_t>(&value_); }
  /// The string; only valid if `is_string()`.
  const std::string& string() const noexcept { return *std::get_if<std::string>(&value_); }

  /// Well mixed in every bit: the registry picks a partition from it and the
  /// partition's hash map its bucket, so sequential user ids must not cluster.
  std::size_t hash() const noexcept;

  friend bool operator==(const registry_key& x, const registry_key& y) noexcept {
    return x.value_ == y.value_;
  }
  friend bool operator!=(const registry_key& x, const registry_key& y) noexcept {
    return !(x == y);
  }

private:
  std::variant<std::uint64_t, std::string> value_;
};

/// `42` for an integer key, `"alice"` (quoted) for a string key, so logs tell
/// the two kinds apart.
std::string to_string(const registry_key& x);

} // namespace libactor

template <>
struct std::hash<libactor::registry_key> {
  std::size_t operator()(const libactor::registry_key& x) const noexcept {
    return x.hash();
  }
};

template <>
struct fmt::formatter<libactor::registry_key> : fmt::formatter<std::string> {
  template <class FormatContext>
  auto format(const libactor::registry_key& x, FormatContext& ctx) const {
    return fmt::formatter<std::string>::format(libactor::to_string(x), ctx);
  }
};
