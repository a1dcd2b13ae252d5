#include "comet_metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "libactor/node.hpp"
#include "libactor/registry.hpp"

namespace comet {

namespace {

template <class T>
void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help, T value) {
  append_metric(out, name, type, help, static_cast<double>(value));
}

/// Resident set size from /proc/self/statm (what the memory-per-stream
/// figure divides).
std::uint64_t resident_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr)
      ++n;
    closedir(d);
    n = n >= 3 ? n - 3 : 0; // ".", ".." and the directory's own descriptor
  }
  return n;
}

} // namespace

void append_metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                   double value) {
  fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
}

std::string prometheus_text(const services& svc, const libactor::http::server& server) {
  auto s = server.stats();
  auto r = svc.registry.stats();
  std::string out;
  out.reserve(4096);
  auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - svc.started);
  metric(out, "comet_uptime_seconds", "gauge", "Seconds since the server started.", uptime.count());
  metric(out, "comet_connections", "gauge", "Connections open now.", s.listener.active);
  metric(out, "comet_connections_accepted_total", "counter", "Connections accepted.",
         s.listener.accepted);
  metric(out, "comet_accept_fd_exhausted_total", "counter",
         "Accepts that failed for lack of file descriptors (EMFILE/ENFILE).", s.listener.fd_exhausted);
  metric(out, "comet_accept_paused_total", "counter",
         "Times accepting paused at --max-connections.", s.listener.paused);
  metric(out, "comet_socket_option_failures_total", "counter",
         "Keepalive or TCP_USER_TIMEOUT settings the kernel refused on accepted sockets.",
         s.listener.socket_option_failures);
  metric(out, "comet_sessions", "gauge", "Session processes alive.", s.sessions);
  metric(out, "comet_processes", "gauge", "libactor processes alive on this node.",
         svc.node.process_count());
  metric(out, "comet_streams", "gauge", "Streams (chunked and SSE) open now.", s.streams);
  metric(out, "comet_requests_total", "counter", "Complete requests parsed.", s.requests);
  out += "# HELP comet_responses_total Error responses sent, by class.\n"
         "# TYPE comet_responses_total counter\n";
  fmt::format_to(std::back_inserter(out), "comet_responses_total{{class=\"4xx\"}} {}\n",
                 s.responses_4xx);
  fmt::format_to(std::back_inserter(out), "comet_responses_total{{class=\"5xx\"}} {}\n",
                 s.responses_5xx);
  metric(out, "comet_session_restarts_total", "counter",
         "Sessions restarted by their supervisor after a crash.", s.crashes);
  metric(out, "comet_session_crash_budget_closes_total", "counter",
         "Connections closed because their session crashed more than its budget allows.",
         s.crash_budget_closes);
  metric(out, "comet_read_pauses_total", "counter",
         "Times a session stopped reading because its client was not taking its output.",
         s.read_pauses);
  metric(out, "comet_timeouts_total", "counter", "Connections closed by a timeout.", s.timeouts);
  metric(out, "comet_slow_reader_closed_total", "counter", "Sessions closed for a slow reader.",
         s.slow_closed);
  metric(out, "comet_users", "gauge", "User ids with at least one stream.", r.keys);
  metric(out, "comet_registrations", "gauge", "(user id, stream) pairs.", r.registrations);
  metric(out, "comet_messages_pending", "gauge", "Messages waiting for an absent user.", r.pending);
  metric(out, "comet_messages_routed_total", "counter", "Messages given an id by send or broadcast.",
         r.routed);
  metric(out, "comet_messages_delivered_total", "counter",
         "Messages handed to streams (one per stream reached).", r.delivered);
  metric(out, "comet_messages_buffered_total", "counter",
         "Messages that found no stream and were kept for the user.", r.buffered);
  metric(out, "comet_messages_replayed_total", "counter",
         "Messages delivered again for Last-Event-ID replay.", r.replayed);
  out += "# HELP comet_messages_dropped_total Messages lost, by reason.\n"
         "# TYPE comet_messages_dropped_total counter\n";
  auto dropped = [&out](std::string_view reason, std::uint64_t n) {
    fmt::format_to(std::back_inserter(out), "comet_messages_dropped_total{{reason=\"{}\"}} {}\n",
                   reason, n);
  };
  dropped("overflow", r.dropped_overflow);  // the user's buffer was full
  dropped("expired", r.expired);            // waited longer than --keep
  dropped("slow_reader", s.slow_consumer_dropped); // --slow-consumer drop; the client got a reset
  dropped("not_streaming", s.routed_dropped);
  dropped("poison_skipped", s.poison_skipped); // its handler crashed; the client got a reset
  dropped("exit_unread", r.dropped_exit); // a crashed stream's mailbox, others of the user had them
  out += "# HELP comet_stream_closes_total Streams ended, by cause.\n"
         "# TYPE comet_stream_closes_total counter\n";
  auto closes = [&out](std::string_view cause, std::uint64_t n) {
    fmt::format_to(std::back_inserter(out), "comet_stream_closes_total{{cause=\"{}\"}} {}\n", cause, n);
  };
  closes("client", s.stream_closes.client);
  closes("slow_consumer", s.stream_closes.slow_consumer);
  closes("crash_budget", s.stream_closes.crash_budget);
  closes("server_stop", s.stream_closes.server_stop);
  closes("finished", s.stream_closes.finished);
  closes("crashed", s.stream_closes.crashed);
  metric(out, "comet_resets_total", "counter",
         "Resets shown to clients (replay not exact, poison skipped, slow consumer dropped).",
         s.resets_sent);
  metric(out, "comet_replay_resets_total", "counter",
         "Reconnects that could not be replayed exactly (a reset instead).", r.resets);
  metric(out, "comet_replay_reset_lost_total", "counter",
         "Messages those resets reported lost, where the count was known.", r.reset_lost);
  out += svc.nodes.metrics();
  metric(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
         resident_bytes());
  metric(out, "process_open_fds", "gauge", "Open file descriptors.", open_fds());
  return out;
}

} // namespace comet
