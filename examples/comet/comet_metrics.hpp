/// @file
/// `GET /metrics` in the Prometheus text format (version 0.0.4): the
/// server's, the registry's and the process's counters, so that every
/// refused, dropped or restarted thing can be seen from outside.
#pragma once

#include <string>
#include <string_view>

#include "comet_routes.hpp"

namespace comet {

std::string prometheus_text(const services& svc, const libactor::http::server& server);

/// Appends one metric with its HELP and TYPE lines.
void append_metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                   double value);

} // namespace comet
