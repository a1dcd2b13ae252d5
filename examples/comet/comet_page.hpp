/// @file
/// `GET /`: a page to try the server in a browser (EventSource on
/// /events/<id>, a form that posts to /send/<id> or /broadcast).
#pragma once

#include <string_view>

namespace comet {

extern const std::string_view page_html;

} // namespace comet
