#include "response_reader.hpp"

#include <algorithm>

namespace floodtest {

response_reader::response_reader(reader_events& events) : events_{events} {
  eager(true);           // parse chunks that follow the header in the same read
  body_limit(boost::none); // a stream's body never ends
}

std::size_t response_reader::on_body_impl(string_view body, error_code&) {
  events_.on_body({body.data(), body.size()});
  return body.size();
}

std::size_t response_reader::on_chunk_body_impl(std::uint64_t remain, string_view body, error_code&) {
  bool last_piece = body.size() == remain;
  if (last_piece && partial_.empty()) {
    events_.on_chunk({body.data(), body.size()}); // the common case: no copy
    return body.size();
  }
  auto room = max_chunk - std::min(max_chunk, partial_.size());
  partial_.append(body.data(), std::min<std::size_t>(room, body.size()));
  if (last_piece) {
    events_.on_chunk(partial_);
    std::string{}.swap(partial_);
  }
  return body.size();
}

} // namespace floodtest
