/// @file
/// Server-Sent Events framing (the `text/event-stream` format of the WHATWG
/// HTML standard) for a session's `/events/<id>` streams: one event in, the
/// exact bytes out, ready to go in one `chunk`. A reconnecting browser sends
/// the last `id:` it saw as `Last-Event-ID`; `context::resume` reads it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace libactor::http {

/// The Content-Type of an event stream.
inline constexpr std::string_view sse_content_type = "text/event-stream";

/// One event. Empty `event` means the default type ("message").
struct sse_event {
  /// Sent as `id:`; the browser echoes the last one in `Last-Event-ID` when it
  /// reconnects, which is what makes replay possible.
  /// A message id (message_id.hpp) in its text form. CR, LF and NUL are
  /// removed: they would end the field or, per the standard, void it.
  std::optional<std::string> id;
  std::string event;
  std::string data;
  /// Sent as `retry:`: the reconnection delay the browser should use.
  std::optional<unsigned> retry_ms;
};

/// The bytes of `ev`, ending in the blank line that dispatches it.
///
/// Each line of `data` (split at CRLF, CR or LF, the three line ends the
/// format accepts) becomes its own `data:` line, so a message containing line
/// breaks arrives intact and cannot inject fields. CR and LF are removed from
/// `event` for the same reason.
std::string format(const sse_event& ev);

/// A comment line (`: tick`), which browsers ignore: a keep-alive that stops
/// proxies and idle timers from closing a quiet stream. Line breaks in `text`
/// start further comment lines.
std::string sse_comment(std::string_view text);


} // namespace libactor::http
