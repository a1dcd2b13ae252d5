#include "libactor/registry_key.hpp"

namespace libactor {

namespace {

/// splitmix64's finaliser: user ids are often sequential, and both the
/// partition index and the hash map's bucket are taken from this value.
std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

} // namespace

std::size_t registry_key::hash() const noexcept {
  if (is_integer())
    return static_cast<std::size_t>(mix(integer()));
  // 42 and "42" may share a hash; equality tells them apart.
  return static_cast<std::size_t>(mix(std::hash<std::string>{}(string())));
}

std::string to_string(const registry_key& x) {
  if (x.is_integer())
    return std::to_string(x.integer());
  return fmt::format("\"{}\"", x.string());
}

} // namespace libactor
