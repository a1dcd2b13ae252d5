#include "comet_cluster.hpp"

#include "comet_background_metrics.hpp"
#include "comet_metrics.hpp"

#ifdef LIBACTOR_WITH_NATS
#include "libactor/cluster/nats_transport.hpp"
#endif

namespace comet {

#ifdef LIBACTOR_WITH_NATS

namespace {

/// The transport's counters as Prometheus lines, after one round trip to
/// the server (bounded by `round_trip`). Blocks: runs on the background
/// thread of `make_cluster`, never in a handler.
std::string cluster_metrics_text(libactor::cluster::nats_transport& nats,
                                 std::chrono::milliseconds round_trip) {
  // Read before the round trip: once the server has answered it, it has
  // seen every subscription counted here, so that a subscription shown is
  // one it already routes to (a test or an operator can then publish from
  // another node and count on delivery). Not connected, there is nothing to
  // confirm and no reason to wait.
  auto s = nats.stats();
  if (s.connected)
    nats.wait_connected(round_trip);
  std::string out;
  auto line = [&out](std::string_view name, std::string_view type, std::string_view help, auto v) {
    append_metric(out, name, type, help, static_cast<double>(v));
  };
  line("comet_cluster_connected", "gauge", "1 while a NATS connection is up.", s.connected ? 1 : 0);
  line("comet_cluster_published_total", "counter", "Messages published for other nodes.", s.published);
  line("comet_cluster_received_total", "counter", "Messages received from other nodes.", s.received);
  line("comet_cluster_dropped_total", "counter",
       "Publications NATS refused (reconnect buffer full or connection closed).", s.dropped);
  line("comet_cluster_rejected_total", "counter", "Inbound messages that were malformed.", s.rejected);
  line("comet_cluster_slow_consumer_total", "counter",
       "Times a subscription fell behind and NATS dropped inbound messages.", s.slow_consumers);
  line("comet_cluster_slow_consumer_dropped_total", "counter",
       "Inbound messages NATS dropped because a subscription fell behind.", s.slow_consumer_dropped);
  line("comet_cluster_unconfirmed_total", "counter",
       "Streams released without a confirmed subscription (NATS down or slow).", s.unconfirmed);
  line("comet_cluster_subscriptions", "gauge", "User ids subscribed on NATS (one per local user).",
       s.subscriptions);
  line("comet_cluster_disconnects_total", "counter", "NATS connections lost.", s.disconnects);
  line("comet_cluster_reconnects_total", "counter", "NATS connections re-established.", s.reconnects);
  line("comet_cluster_replay_fetches_total", "counter", "Replays asked of JetStream.", s.fetches);
  line("comet_cluster_replay_failures_total", "counter",
       "Replays JetStream could not answer (the local buffer served).", s.fetch_failures);
  return out;
}

} // namespace

#endif

cluster make_cluster([[maybe_unused]] const options& o) {
  cluster c;
#ifdef LIBACTOR_WITH_NATS
  if (o.nats.empty())
    return c;
  libactor::cluster::nats_config cfg;
  cfg.servers = o.nats;
  cfg.node_name = o.node_name;
  cfg.subject_prefix = o.nats_prefix;
  // Another node's message is input like a publish: no larger than one.
  cfg.max_inbound_payload = o.max_body;
  auto nats = std::make_shared<libactor::cluster::nats_transport>(cfg);
  c.transport = nats;
  // The transport is read on a thread of its own (comet_background_metrics.hpp
  // says why); /metrics only copies the result. Every second, and after
  // each scrape, so that a scrape sees counters at most one round trip
  // older than the previous scrape. Off the I/O threads, the round trip may
  // take as long as NATS needs (the transport's request deadline).
  auto round_trip = cfg.request_timeout;
  auto bg = std::make_shared<background_metrics>(
    [nats, round_trip] { return cluster_metrics_text(*nats, round_trip); }, std::chrono::seconds{1},
    "comet_cluster_stats_age_seconds");
  c.metrics = [bg] { return bg->read(); };
#endif
  return c;
}

} // namespace comet
