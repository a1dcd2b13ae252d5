// Drives request_parser the way a session does, without a socket: keeps the
// unconsumed bytes, appends new ones, starts a new parser per request.
#pragma once

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "libactor/http/request_parser.hpp"

namespace libactor::http::test {

struct feed_outcome {
  std::vector<request> requests;
  unsigned error_status = 0;      ///< 0 when no error was reported
  std::string error_reason;
  int continues = 0;              ///< expect_continue answers seen
  std::string leftover;           ///< bytes kept for a request still incomplete
  std::size_t max_leftover = 0;   ///< most bytes ever kept between reads
  std::size_t delivered = 0;      ///< input bytes read when the parser refused (or all)
};

/// Delivers `input` in reads of `step` bytes (0: all at once).
inline feed_outcome feed_in_steps(std::string_view input, std::size_t step,
                                  const limits& lim = {}) {
  using state = request_parser::result::state;
  feed_outcome out;
  std::optional<request_parser> parser;
  std::string pending;
  std::size_t pos = 0;
  if (step == 0)
    step = input.size() ? input.size() : 1;
  while (pos < input.size()) {
    pending.append(input.substr(pos, step));
    pos += step;
    while (!pending.empty()) {
      if (!parser)
        parser.emplace(lim);
      auto r = parser->feed(pending);
      if (r.consumed > pending.size())
        throw std::logic_error("consumed more than fed");
      pending.erase(0, r.consumed);
      if (r.st == state::need_more)
        break;
      if (r.st == state::expect_continue) {
        ++out.continues;
        continue;
      }
      if (r.st == state::error) {
        out.error_status = r.status;
        out.error_reason = r.reason;
        out.leftover = pending;
        out.delivered = std::min(pos, input.size());
        return out;
      }
      out.requests.push_back(parser->take());
      parser.reset();
    }
    out.max_leftover = std::max(out.max_leftover, pending.size());
  }
  out.leftover = pending;
  out.delivered = input.size();
  return out;
}

/// One request's outcome with everything delivered at once.
inline feed_outcome feed_all(std::string_view input, const limits& lim = {}) {
  return feed_in_steps(input, 0, lim);
}

} // namespace libactor::http::test
