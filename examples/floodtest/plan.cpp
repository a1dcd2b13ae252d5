#include "plan.hpp"

#include <sys/resource.h>

#include <algorithm>

#include <fmt/format.h>

#include "target.hpp"

namespace floodtest {

std::string targets_string(const plan& p) {
  std::string out;
  for (auto& t : p.targets)
    out += (out.empty() ? "" : ",") + to_string(t);
  return out;
}

std::uint64_t raise_open_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised{lim.rlim_max, lim.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
      lim.rlim_cur = lim.rlim_max;
  }
  return lim.rlim_cur;
}

namespace {

std::uint32_t div_up(std::uint64_t a, std::uint64_t b) {
  return static_cast<std::uint32_t>((a + b - 1) / b);
}

/// `total` split into `parts` near-equal pieces; piece `i`.
std::uint32_t piece(std::uint32_t total, std::uint32_t parts, std::uint32_t i) {
  return total / parts + (i < total % parts ? 1 : 0);
}

} // namespace

std::variant<plan, std::string> make_plan(const options& o, std::uint64_t file_limit) {
  plan p;
  p.file_limit = file_limit;
  if (auto why = resolve_targets(o, p.targets); !why.empty())
    return why;
  p.post_to = p.targets.front();
  if (!o.post_to.empty()) {
    options one = o;
    one.targets = o.post_to;
    std::vector<boost::asio::ip::tcp::endpoint> ep;
    if (auto why = resolve_targets(one, ep); !why.empty() || ep.size() != 1)
      return fmt::format("--post-to: '{}' is not one ip:port", o.post_to);
    p.post_to = ep.front();
  }
  if (o.per_process + reserved_files > file_limit)
    return fmt::format("--per-process {} needs {} open files per worker, but the limit is {} "
                       "(ulimit -Hn); lower --per-process",
                       o.per_process, o.per_process + reserved_files, file_limit);

  bool hello = o.mode == load_mode::hello;
  // Hello mode's footprint is its concurrency; the stream modes' is their streams.
  std::uint32_t load = hello ? o.concurrency : o.connections;
  std::uint32_t needed = div_up(load, o.per_process);
  std::uint32_t workers = o.workers != 0 ? o.workers : (hello ? 1 : needed);
  if (workers < needed)
    return fmt::format("--workers {} cannot hold {} connections at --per-process {}: at least {} workers needed",
                       o.workers, load, o.per_process, needed);
  if (workers > load)
    workers = load; // a worker with nothing to do is not forked

  std::uint32_t first = 0;
  for (std::uint32_t i = 0; i < workers; ++i) {
    worker_share w;
    if (hello) {
      w.in_flight = piece(o.concurrency, workers, i);
    } else {
      w.first = first;
      w.count = piece(o.connections, workers, i);
      first += w.count;
      w.rate = o.rate * w.count / o.connections;
      w.in_flight = std::max<std::uint32_t>(1, piece(o.concurrency, workers, i));
    }
    p.workers.push_back(w);
  }

  if (o.source_base != "none") {
    boost::system::error_code ec;
    auto base = boost::asio::ip::make_address_v4(o.source_base, ec);
    if (ec)
      return fmt::format("--source-base '{}' is not an IPv4 address (or 'none')", o.source_base);
    std::uint32_t count = o.sources != 0 ? o.sources : (hello ? 1 : div_up(o.connections, streams_per_source));
    if (base.to_uint() + std::uint64_t{count} - 1 >= 0xffffffffu)
      return fmt::format("--sources {} from {} runs past 255.255.255.254", count, o.source_base);
    for (std::uint32_t i = 0; i < count; ++i)
      p.sources.emplace_back(base.to_uint() + i);
  }
  return p;
}

} // namespace floodtest
