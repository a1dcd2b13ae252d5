#include "comet_cluster.hpp"

#include "comet_metrics.hpp"

#ifdef LIBACTOR_WITH_NATS
#include "libactor/cluster/nats_transport.hpp"
#endif

namespace comet {

cluster make_cluster([[maybe_unused]] const options& o) {
  cluster c;
#ifdef LIBACTOR_WITH_NATS
  if (o.nats.empty())
    return c;
  libactor::cluster::nats_config cfg;
  cfg.servers = o.nats;
  cfg.node_name = o.node_name;
  cfg.subject_prefix = o.nats_prefix;
  auto nats = std::make_shared<libactor::cluster::nats_transport>(cfg);
  c.transport = nats;
  c.metrics = [nats] {
    // One round trip first (bounded): the counters then describe what the
    // NATS server knows, e.g. every subscription counted is one it routes to.
    nats->wait_connected(std::chrono::milliseconds{50});
    auto s = nats->stats();
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
    line("comet_cluster_subscriptions", "gauge", "User ids subscribed on NATS (one per local user).",
         s.subscriptions);
    line("comet_cluster_disconnects_total", "counter", "NATS connections lost.", s.disconnects);
    line("comet_cluster_reconnects_total", "counter", "NATS connections re-established.", s.reconnects);
    line("comet_cluster_replay_fetches_total", "counter", "Replays asked of JetStream.", s.fetches);
    line("comet_cluster_replay_failures_total", "counter",
         "Replays JetStream could not answer (the local buffer served).", s.fetch_failures);
    return out;
  };
#endif
  return c;
}

} // namespace comet
