/// @file
/// A client of one `GET /events/<user>` stream that parses what it reads
/// into server-sent events ({id, event, data}), as a browser's EventSource
/// does: fields are gathered up to a blank line, comments are skipped, and a
/// `retry:` field is remembered rather than handed out as an event.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "support/test_client.hpp"

namespace libactor::test {

struct sse_event {
  std::string id;    ///< Empty when the event has no `id:` field.
  std::string event; ///< Empty for a plain message.
  std::string data;  ///< `data:` lines joined with "\n".

  bool is_message() const { return event.empty() || event == "message"; }
};

class sse_reader {
public:
  /// Opens the stream (with `Last-Event-ID` when given) and reads its head.
  /// A `receive_buffer` above zero is set before connecting (a slow reader).
  sse_reader(std::uint16_t port, const std::string& user,
             const std::optional<std::string>& last_event_id = std::nullopt, receive_buffer rb = {0})
    : c_(port, rb) {
    std::string req = "GET /events/" + user + " HTTP/1.1\r\nHost: t\r\n";
    if (last_event_id)
      req += "Last-Event-ID: " + *last_event_id + "\r\n";
    c_.send(req + "\r\n");
    if (auto head = c_.read_until("\r\n\r\n"))
      head_ = *head;
    chunked_ = head_.find("Transfer-Encoding: chunked") != std::string::npos;
  }

  /// The status line and header fields; empty if none came.
  const std::string& head() const { return head_; }

  bool has_header(std::string_view field_line) const {
    return head_.find(std::string{field_line}) != std::string::npos;
  }

  /// The next event; nullopt at the end of the stream or the deadline
  /// (`closed()` tells which). An event cut by the deadline is kept and
  /// completed by the next call.
  std::optional<sse_event> next(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = text_.find('\n');
      if (nl == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !fill(left))
          return std::nullopt;
        continue;
      }
      auto line = text_.substr(0, nl);
      text_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (line.empty()) {
        if (!any_)
          continue;
        if (!has_data_) {
          // No data: a browser dispatches nothing, but keeps the id (a
          // stream's announced start position).
          ev_ = {};
          any_ = false;
          continue;
        }
        ++events_;
        auto out = std::move(ev_);
        ev_ = {};
        any_ = has_data_ = false;
        return out;
      }
      if (line.front() == ':')
        continue; // a comment (the heartbeat)
      auto colon = line.find(':');
      auto name = line.substr(0, colon);
      std::string value;
      if (colon != std::string::npos) {
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ')
          value.erase(0, 1);
      }
      if (name == "id") {
        ev_.id = value;
        last_event_id_ = value;
        any_ = true;
      } else if (name == "event") {
        ev_.event = value;
        any_ = true;
      } else if (name == "data") {
        if (has_data_)
          ev_.data += "\n";
        ev_.data += value;
        any_ = has_data_ = true;
      } else if (name == "retry" && !retry_) {
        retry_ = value;
        retry_events_before_ = events_;
      }
    }
  }

  /// True once the server has closed the stream.
  bool closed() { return c_.wait_closed(std::chrono::milliseconds{0}); }

  /// What a browser would send back as `Last-Event-ID`: the last `id:` field
  /// read, in an event or on its own (empty: none yet).
  const std::string& last_event_id() const { return last_event_id_; }

  /// The value of the first `retry:` field read, if any.
  const std::optional<std::string>& retry() const { return retry_; }

  /// How many events came before the first `retry:` field (nullopt: none yet).
  std::optional<std::size_t> events_before_retry() const { return retry_events_before_; }

  test_client& client() { return c_; }

private:
  /// Appends body text: one chunk, or whatever a plain body brings.
  bool fill(std::chrono::milliseconds timeout) {
    if (chunked_) {
      auto chunk = c_.read_chunk(timeout);
      if (!chunk || chunk->empty())
        return false;
      text_ += *chunk;
      return true;
    }
    auto line = c_.read_until("\n", timeout);
    if (!line)
      return false;
    text_ += *line;
    return true;
  }

  test_client c_;
  std::string head_;
  bool chunked_ = false;
  std::string text_;
  sse_event ev_;     ///< The event being read.
  bool any_ = false; ///< `ev_` has a field.
  bool has_data_ = false;
  std::size_t events_ = 0;
  std::optional<std::string> retry_;
  std::string last_event_id_;
  std::optional<std::size_t> retry_events_before_;
};

} // namespace libactor::test
