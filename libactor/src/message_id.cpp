#include "libactor/message_id.hpp"

#include <charconv>

namespace libactor {

std::string to_string(const message_id& id) {
  char buf[16 + 1 + 20];
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i)
    buf[i] = hex[(id.epoch >> (60 - 4 * i)) & 0xf];
  buf[16] = '-';
  auto r = std::to_chars(buf + 17, buf + sizeof buf, id.seq);
  return std::string{buf, r.ptr};
}

std::optional<message_id> parse_message_id(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  // Exactly 16 hex digits, a dash, 1 to 20 decimal digits.
  if (text.size() < 18 || text.size() > 37 || text[16] != '-')
    return std::nullopt;
  message_id id;
  for (int i = 0; i < 16; ++i) {
    char c = text[i];
    unsigned v = 0;
    if (c >= '0' && c <= '9')
      v = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      v = static_cast<unsigned>(c - 'a' + 10);
    else
      return std::nullopt;
    id.epoch = (id.epoch << 4) | v;
  }
  auto seq = text.substr(17);
  for (char c : seq)
    if (c < '0' || c > '9')
      return std::nullopt;
  // One text per id: to_string writes no leading zero.
  if (seq.size() > 1 && seq.front() == '0')
    return std::nullopt;
  auto r = std::from_chars(seq.data(), seq.data() + seq.size(), id.seq);
  if (r.ec != std::errc{} || r.ptr != seq.data() + seq.size() || !id.position())
    return std::nullopt;
  return id;
}

} // namespace libactor
