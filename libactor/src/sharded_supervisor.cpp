#include "libactor/sharded_supervisor.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "internal/io_pool.hpp"
#include "internal/node_impl.hpp"
#include "libactor/node.hpp"
#include "libactor/process.hpp"

namespace libactor::detail {

/// The shards' current pids. Each slot has its own lock, on its own cache
/// line: a start on shard 3 never waits for a restart of shard 5, and no
/// lock is shared by all shards.
struct shard_table {
  struct alignas(64) slot {
    mutable std::mutex mtx;
    pid current;
  };

  shard_table(node& n, sharded_supervisor_spec s)
    : owner(&n), spec(std::move(s)), count(spec.shards), slots(new slot[count]) {
  }

  pid get(std::size_t i) const {
    std::lock_guard<std::mutex> guard{slots[i].mtx};
    return slots[i].current;
  }

  void set(std::size_t i, pid x) {
    std::lock_guard<std::mutex> guard{slots[i].mtx};
    slots[i].current = std::move(x);
  }

  node* owner;
  sharded_supervisor_spec spec;
  std::size_t count;
  std::unique_ptr<slot[]> slots;
  slot top;
};

} // namespace libactor::detail

namespace libactor {

namespace {

using table_ptr = std::shared_ptr<detail::shard_table>;

/// The top supervisor's spec: one permanent simple_one_for_one child per
/// shard, whose start function also records the new pid in the table.
supervisor_spec top_spec(const table_ptr& table) {
  auto& s = table->spec;
  supervisor_spec shard;
  shard.name = s.name + "_shard";
  shard.flags = supervisor_flags{restart_strategy::simple_one_for_one, s.shard_intensity,
                                 s.shard_period, s.shard_backoff};
  shard.children.push_back(s.child);
  supervisor_spec top;
  top.name = s.name;
  top.flags = supervisor_flags{restart_strategy::one_for_one, s.top_intensity, s.top_period};
  top.children.reserve(table->count);
  for (std::size_t i = 0; i < table->count; ++i) {
    auto child = supervisor::child(fmt::format("shard_{}", i), shard);
    child.start = [table, i, shard](process& sup, const std::any&) {
      // Shard i lives on I/O thread i mod threads, and the children it
      // spawns with it: the shards' work spreads over the threads, which a
      // single supervisor's cannot (its children share its thread).
      detail::io_pool::placement on_thread{*table->owner->internals().io, i};
      auto p = supervisor::start_link(sup, shard);
      table->set(i, p);
      return p;
    };
    top.children.push_back(std::move(child));
  }
  return top;
}

} // namespace

sharded_supervisor sharded_supervisor::prepare(node& owner, sharded_supervisor_spec spec) {
  if (spec.shards == 0)
    spec.shards = owner.config().io_threads * 4;
  return sharded_supervisor{std::make_shared<detail::shard_table>(owner, std::move(spec))};
}

supervisor_result<sharded_supervisor>
sharded_supervisor::start(node& owner, sharded_supervisor_spec spec, std::chrono::milliseconds timeout) {
  if (owner.on_io_thread()) // its shards would get this thread, which would be waiting
    return supervisor_error{supervisor_error::kind::call_failed,
                            "sharded_supervisor::start on an I/O thread would block it; "
                            "use as_child under a supervisor"};
  // Checked here: a shard would only exit with it, and the top supervisor
  // restart it until it gave up, a crash loop instead of an answer.
  if (spec.shard_backoff)
    if (auto problem = validate(*spec.shard_backoff); !problem.empty())
      return supervisor_error{supervisor_error::kind::bad_spec, problem};
  auto handle = prepare(owner, std::move(spec));
  auto top = supervisor::start(owner, top_spec(handle.table_), timeout);
  if (!top)
    return top.error();
  handle.table_->top.current = top.value();
  return handle;
}

child_spec sharded_supervisor::as_child(std::string id) const {
  child_spec out;
  out.id = std::move(id);
  out.start = [table = table_](process& sup, const std::any&) {
    // As `start` checks: a bad backoff would fail every shard and make the
    // top supervisor restart them until it gives up. A throw is a failed
    // start, with this reason, for the parent's start.
    if (table->spec.shard_backoff)
      if (auto problem = validate(*table->spec.shard_backoff); !problem.empty())
        throw std::invalid_argument("shard_backoff: " + problem);
    auto p = supervisor::start_link(sup, top_spec(table));
    std::lock_guard<std::mutex> guard{table->top.mtx};
    table->top.current = p;
    return p;
  };
  out.restart = restart_type::permanent;
  out.shutdown = shutdown_mode::infinity();
  out.type = child_type::supervisor;
  return out;
}

pid sharded_supervisor::top() const {
  std::lock_guard<std::mutex> guard{table_->top.mtx};
  return table_->top.current;
}

std::size_t sharded_supervisor::shard_count() const noexcept {
  return table_ ? table_->count : 0;
}

std::size_t sharded_supervisor::shard_of(std::string_view key) const noexcept {
  return std::hash<std::string_view>{}(key) % table_->count;
}

pid sharded_supervisor::shard(std::size_t index) const {
  return table_->get(index);
}

std::size_t sharded_supervisor::next_shard() const noexcept {
  // Per thread, started at a thread-dependent offset: round robin without a
  // counter that every thread writes.
  thread_local std::size_t next = std::hash<std::thread::id>{}(std::this_thread::get_id());
  return next++ % table_->count;
}

namespace {

/// On an I/O thread: the next shard on this thread (shard i is on thread
/// i mod threads, see top_spec), whose child then runs here too. Elsewhere
/// (or with fewer shards than threads): `any`.
std::size_t shard_on_this_thread(const detail::shard_table& t, std::size_t any) noexcept {
  thread_local std::size_t next = 0;
  auto& pool = *t.owner->internals().io;
  auto threads = pool.size();
  auto here = pool.thread_index();
  if (here >= threads || t.count < threads)
    return any;
  auto mine = (t.count - here + threads - 1) / threads;
  return here + threads * (next++ % mine);
}

/// What a blocking call answers on an I/O thread, before it waits for
/// anything: waiting there (even the short sleeps of `running_shard`) would
/// stall every process on the thread, possibly the very shard waited for.
supervisor_error would_block(const char* what) {
  return supervisor_error{supervisor_error::kind::call_failed,
                          fmt::format("sharded_supervisor::{} on an I/O thread would block it; "
                                      "use the process& overload",
                                      what)};
}

bool on_io_thread(const detail::shard_table& t) noexcept {
  return t.owner->on_io_thread();
}

/// The shard's supervisor, waiting (bounded) while it is not running: a
/// shard has no pid until its parent has run its start function (the tree
/// started by `as_child` starts its shards asynchronously), and a dead pid
/// between an escalation and the restart. Only the blocking calls wait.
pid running_shard(const detail::shard_table& t, std::size_t i,
                  std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto p = t.get(i);
    if ((p && alive(p)) || std::chrono::steady_clock::now() >= deadline)
      return p;
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
}

supervisor_result<pid> start_on(const detail::shard_table& t, std::size_t i, std::any args,
                                std::chrono::milliseconds timeout) {
  if (on_io_thread(t))
    return would_block("start_child");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto sup = running_shard(t, i, deadline);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    auto r = supervisor::start_child(*t.owner, sup, args, std::max(left, std::chrono::milliseconds{1}));
    // The shard died under the call (an escalation): try its successor.
    if (r || r.error().what() != supervisor_error::kind::call_failed
        || std::chrono::steady_clock::now() >= deadline || alive(sup))
      return r;
  }
}

} // namespace

supervisor_result<pid> sharded_supervisor::start_child(std::string_view key, std::any args,
                                                       std::chrono::milliseconds timeout) const {
  return start_on(*table_, shard_of(key), std::move(args), timeout);
}

supervisor_result<pid> sharded_supervisor::start_child(std::any args,
                                                       std::chrono::milliseconds timeout) const {
  return start_on(*table_, next_shard(), std::move(args), timeout);
}

void sharded_supervisor::cast_start_child(std::any args) const {
  // The listener's path: the connection's socket is served by this thread,
  // so its session goes to a shard here, as Ranch ties each acceptor to its
  // own connection supervisor. A process starting many children through
  // `start_child` spreads them over all shards instead.
  supervisor::cast_start_child(shard(shard_on_this_thread(*table_, next_shard())), std::move(args));
}

void sharded_supervisor::start_child(process& self, std::string_view key, std::any args,
                                     std::function<void(supervisor_result<pid>)> then,
                                     std::chrono::milliseconds timeout) const {
  supervisor::start_child(self, shard(shard_of(key)), std::move(args), std::move(then), timeout);
}

void sharded_supervisor::start_child(process& self, std::any args,
                                     std::function<void(supervisor_result<pid>)> then,
                                     std::chrono::milliseconds timeout) const {
  supervisor::start_child(self, shard(next_shard()), std::move(args), std::move(then), timeout);
}

supervisor_result<ok_t> sharded_supervisor::terminate_child(const pid& child,
                                                            std::chrono::milliseconds timeout) const {
  if (on_io_thread(*table_))
    return would_block("terminate_child");
  for (std::size_t i = 0; i < table_->count; ++i) {
    auto r = supervisor::terminate_child(
      *table_->owner, running_shard(*table_, i, std::chrono::steady_clock::now() + timeout), child,
      timeout);
    if (r || r.error().what() != supervisor_error::kind::not_found)
      return r;
  }
  return supervisor_error{supervisor_error::kind::not_found, to_string(child)};
}

supervisor_result<std::vector<child_info>>
sharded_supervisor::which_children(std::chrono::milliseconds timeout) const {
  if (on_io_thread(*table_))
    return would_block("which_children");
  std::vector<child_info> all;
  for (std::size_t i = 0; i < table_->count; ++i) {
    auto r = supervisor::which_children(
      *table_->owner, running_shard(*table_, i, std::chrono::steady_clock::now() + timeout), timeout);
    if (!r)
      return r.error();
    all.insert(all.end(), std::make_move_iterator(r.value().begin()),
               std::make_move_iterator(r.value().end()));
  }
  return all;
}

supervisor_result<child_counts> sharded_supervisor::count_children(std::chrono::milliseconds timeout) const {
  if (on_io_thread(*table_))
    return would_block("count_children");
  child_counts sum;
  for (std::size_t i = 0; i < table_->count; ++i) {
    auto r = supervisor::count_children(
      *table_->owner, running_shard(*table_, i, std::chrono::steady_clock::now() + timeout), timeout);
    if (!r)
      return r.error();
    sum += r.value();
  }
  return sum;
}

} // namespace libactor
