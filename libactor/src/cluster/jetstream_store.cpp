#include "internal/cluster/jetstream_store.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "internal/cluster/frame.hpp"
#include "libactor/log.hpp"

namespace libactor::cluster::detail {

namespace {

std::int64_t to_ns(std::chrono::milliseconds x) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(x).count();
}

std::string derived_stream_name(const std::string& prefix) {
  std::string out;
  for (char c : prefix) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
                 || c == '_';
    out.push_back(plain ? c : '_');
  }
  return out + "_routed";
}

} // namespace

jetstream_store::jetstream_store(natsConnection* nc, const nats_config& cfg, std::string subjects,
                                 transport_counters& counters)
  : nc_(nc),
    cfg_(cfg),
    subjects_(std::move(subjects)),
    stream_(cfg.stream_name.empty() ? derived_stream_name(cfg.subject_prefix) : cfg.stream_name),
    counters_(counters) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = cfg_.request_timeout.count();
  if (auto s = natsConnection_JetStream(&js_, nc_, &jo); s != NATS_OK)
    throw std::runtime_error(std::string{"nats: no JetStream context: "} + natsStatus_GetText(s));
  worker_ = std::thread{[this] { run(); }};
}

jetstream_store::~jetstream_store() {
  stop();
  jsCtx_Destroy(js_);
}

void jetstream_store::set_limits(std::size_t messages_per_key, std::chrono::milliseconds max_age) {
  {
    std::lock_guard<std::mutex> lock{mtx_};
    // Zero: no per-subject limit (-1 to the server), see nats_config.
    messages_per_key_ = messages_per_key == 0 ? -1 : static_cast<std::int64_t>(messages_per_key);
    // nats-server refuses a MaxAge below 100 ms; zero would mean forever.
    max_age_ = std::max(max_age, std::chrono::milliseconds{100});
    limits_known_ = true;
    set_up_due_ = true;
  }
  cv_.notify_all();
}

void jetstream_store::connected() {
  {
    std::lock_guard<std::mutex> lock{mtx_};
    set_up_due_ = true;
  }
  cv_.notify_all();
}

bool jetstream_store::ready() const {
  std::lock_guard<std::mutex> lock{mtx_};
  return ready_;
}

void jetstream_store::fetch(std::string subject, std::optional<std::string> key_check,
                            std::optional<message_id> after, registry_transport::fetch_handler done) {
  ++counters_.fetches;
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    // Not connected or no stream: answering now lets the registry release
    // the key at once instead of holding it for a request that cannot work.
    if (!stopping_ && !set_up_failed_ && jobs_.size() < cfg_.max_queued_fetches
        && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED) {
      jobs_.push_back(fetch_job{std::move(subject), std::move(key_check), after, std::move(done)});
      queued = true;
    }
  }
  if (queued) {
    cv_.notify_all();
    return;
  }
  ++counters_.fetch_failures;
  done(std::nullopt);
}

void jetstream_store::stop() {
  {
    std::lock_guard<std::mutex> lock{mtx_};
    if (stopping_)
      return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable())
    worker_.join();
}

// -- worker ----------------------------------------------------------------------

void jetstream_store::run() {
  std::unique_lock<std::mutex> lock{mtx_};
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || set_up_due_ || !jobs_.empty(); });
    if (stopping_)
      break;
    if (set_up_due_) {
      set_up_due_ = false;
      lock.unlock();
      set_up();
      lock.lock();
      continue;
    }
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    auto found = read(job);
    if (found)
      counters_.fetched += found->size();
    else
      ++counters_.fetch_failures;
    job.done(std::move(found));
    lock.lock();
  }
  auto rest = std::move(jobs_);
  jobs_.clear();
  lock.unlock();
  for (auto& job : rest) {
    ++counters_.fetch_failures;
    job.done(std::nullopt);
  }
}

void jetstream_store::set_up() {
  std::int64_t per_key = 0;
  std::chrono::milliseconds max_age{0};
  {
    std::lock_guard<std::mutex> lock{mtx_};
    if (!limits_known_)
      return; // no registry yet: `set_limits` comes back here
    per_key = messages_per_key_;
    max_age = max_age_;
  }
  if (natsConnection_Status(nc_) != NATS_CONN_STATUS_CONNECTED)
    return; // `connected` comes back here
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  const char* subjects[] = {subjects_.c_str()};
  sc.Name = stream_.c_str();
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_MemoryStorage;
  sc.Retention = js_LimitsPolicy;
  sc.Discard = js_DiscardOld;
  sc.MaxMsgsPerSubject = per_key;
  sc.MaxAge = to_ns(max_age);
  sc.MaxBytes = cfg_.stream_max_bytes;
  sc.Replicas = cfg_.stream_replicas;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  // Idempotent: the same config is accepted again; another node's (or an
  // older) config is replaced by this one.
  auto s = js_AddStream(&si, js_, &sc, nullptr, &jerr);
  if (s != NATS_OK && jerr == JSStreamNameExistErr) {
    jerr = static_cast<jsErrCode>(0);
    s = js_UpdateStream(&si, js_, &sc, nullptr, &jerr);
  }
  if (si != nullptr)
    jsStreamInfo_Destroy(si);
  bool was_ready = false;
  bool log_unavailable = false;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    was_ready = ready_;
    ready_ = s == NATS_OK;
    set_up_failed_ = !ready_;
    if (!ready_ && !unavailable_logged_)
      log_unavailable = unavailable_logged_ = true;
  }
  if (s == NATS_OK) {
    if (!was_ready)
      log::info("nats_jetstream_ready", log::kv("node", cfg_.node_name), log::kv("stream", stream_),
                log::kv("subjects", subjects_), log::kv("messages_per_key", per_key),
                log::kv("max_age_ms", max_age.count()));
  } else if (log_unavailable) {
    // Once: a server without `-js` answers the same at every reconnection.
    log::warning("nats_jetstream_unavailable", log::kv("node", cfg_.node_name), log::kv("stream", stream_),
                 log::kv("status", natsStatus_GetText(s)), log::kv("js_error", static_cast<int>(jerr)),
                 log::kv("replay", "local_buffer"));
  }
}

std::optional<std::vector<routed_message>> jetstream_store::read(const fetch_job& job) {
  auto deadline = std::chrono::steady_clock::now() + cfg_.request_timeout;
  auto wanted = [&job](const frame_view& f) {
    if (!f.id.valid())
      return false;
    if (job.key_check)
      return f.has_key && f.key == *job.key_check;
    return true;
  };
  // The newest message first: none means nothing to read, and `after`
  // itself (the usual case: a client that saw everything) spares the
  // consumer: the registry places the client right after it.
  natsMsg* last = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  auto s = js_GetLastMsg(&last, js_, stream_.c_str(), job.subject.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
    return std::vector<routed_message>{};
  if (s != NATS_OK)
    return std::nullopt;
  auto last_seq = natsMsg_GetSequence(last);
  std::optional<std::vector<routed_message>> newest_only;
  if (auto f = decode_frame(natsMsg_GetData(last), static_cast<std::size_t>(natsMsg_GetDataLength(last)));
      f && job.after && f->id == *job.after && wanted(*f))
    newest_only = std::vector<routed_message>{routed_message{f->id, std::string{f->payload}}};
  natsMsg_Destroy(last);
  if (newest_only)
    return newest_only;
  // An ephemeral push consumer on the key's subject, no acks, deleted on
  // unsubscribe (and by the server if this node dies meanwhile).
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream_.c_str();
  // From the start: ids carry no time, and the stream keeps only `max_age`
  // of messages anyway.
  so.Config.DeliverPolicy = js_DeliverAll;
  so.Config.AckPolicy = js_AckNone;
  so.Config.MemoryStorage = true;
  so.Config.InactiveThreshold = to_ns(std::chrono::seconds{5});
  natsSubscription* sub = nullptr;
  s = js_SubscribeSync(&sub, js_, job.subject.c_str(), nullptr, &so, &jerr);
  if (s != NATS_OK)
    return std::nullopt;
  std::vector<routed_message> out;
  bool complete = false;
  for (;;) {
    auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub, left.count()) != NATS_OK)
      break;
    std::uint64_t seq = 0;
    std::uint64_t left_to_read = 1;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
      seq = meta->Sequence.Stream;
      left_to_read = meta->NumPending;
      jsMsgMetaData_Destroy(meta);
    }
    if (auto f = decode_frame(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
        f && wanted(*f))
      out.push_back(routed_message{f->id, std::string{f->payload}});
    natsMsg_Destroy(m);
    if (seq >= last_seq || left_to_read == 0) {
      complete = true;
      break;
    }
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  if (!complete)
    return std::nullopt;
  return out;
}

} // namespace libactor::cluster::detail
