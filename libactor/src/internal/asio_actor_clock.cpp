#include "internal/asio_actor_clock.hpp"

#include <map>
#include <mutex>

#include <boost/asio/steady_timer.hpp>
#include <caf/detail/simple_actor_clock.hpp>
#include <caf/group.hpp>
#include <caf/mailbox_element.hpp>

#include "libactor/detail/process_actor.hpp"

namespace libactor::detail {

namespace {

/// Marks a process that gets a timeout (see process_actor::had_timeouts).
void note_timeouts(const caf::abstract_actor* self) {
  if (auto* p = as_process(const_cast<caf::abstract_actor*>(self)))
    p->note_timeouts();
}

} // namespace

/// One I/O thread's schedule: CAF's own events (simple_actor_clock) plus
/// the cancellable timers of send_after, fired by one steady_timer on that
/// thread's io_context.
class asio_actor_clock::lane final : public caf::detail::simple_actor_clock {
public:
  using super = caf::detail::simple_actor_clock;

  lane(boost::asio::io_context& io, std::size_t index) : timer_(io), index_(index) {
  }

  /// What every override does: runs `f` on the schedule under this lane's
  /// lock, then re-arms the timer if the earliest deadline moved earlier.
  template <class F>
  auto locked(F f) {
    std::lock_guard<std::mutex> guard{mtx_};
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      rearm();
    } else {
      auto r = f();
      rearm();
      return r;
    }
  }

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override {
    locked([&] { super::set_ordinary_timeout(t, self, type, id); });
  }
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override {
    locked([&] { super::set_multi_timeout(t, self, type, id); });
  }
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override {
    locked([&] { super::set_request_timeout(t, self, id); });
  }
  // A cancelled earliest deadline leaves the timer armed early; on_timer
  // then finds nothing due and re-arms, which is cheaper than re-arming here.
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::cancel_ordinary_timeout(self, type);
  }
  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (actor_lookup_.count(self->id()) != 0)
      super::cancel_request_timeout(self, id);
  }
  void cancel_timeouts(caf::abstract_actor* self) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (actor_lookup_.count(self->id()) != 0)
      super::cancel_timeouts(self);
    // Erlang cancels the timers of an exiting process: nothing would read
    // their messages, and each holds a reference to the process.
    auto range = timers_by_actor_.equal_range(self->id());
    for (auto i = range.first; i != range.second; ++i)
      timers_.erase(i->second);
    timers_by_actor_.erase(range.first, range.second);
  }
  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override {
    locked([&] { super::schedule_message(t, std::move(receiver), std::move(content)); });
  }
  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override {
    locked([&] {
      super::schedule_message(t, std::move(target), std::move(sender), std::move(content));
    });
  }
  void cancel_all() override {
    std::lock_guard<std::mutex> guard{mtx_};
    super::cancel_all();
    drop_timers();
  }

  timer_key start_timer(time_point due, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) {
    return locked([&] {
      auto id = next_timer_++;
      auto aid = receiver->id();
      key k{due, id};
      timers_.emplace(k, pending_timer{std::move(receiver), std::move(content)});
      timers_by_actor_.emplace(aid, k);
      return timer_key{index_, due, id};
    });
  }

  std::optional<duration_type> cancel_timer(const timer_key& k) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = timers_.find(key{k.due, k.id});
    if (i == timers_.end())
      return std::nullopt;
    forget_by_actor(i->second.receiver->id(), i->first);
    timers_.erase(i);
    return left(k.due);
  }

  std::optional<duration_type> read_timer(const timer_key& k) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (timers_.count(key{k.due, k.id}) == 0)
      return std::nullopt;
    return left(k.due);
  }

  std::size_t request_timeouts() {
    std::lock_guard<std::mutex> guard{mtx_};
    std::size_t n = 0;
    for (auto& kv : schedule_)
      if (kv.second->subtype == request_timeout_type)
        ++n;
    return n;
  }

  std::size_t pending() {
    std::lock_guard<std::mutex> guard{mtx_};
    return schedule_.size() + timers_.size();
  }

  void stop() {
    std::lock_guard<std::mutex> guard{mtx_};
    stopped_ = true;
    super::cancel_all();
    drop_timers();
    timer_.cancel();
    armed_for_ = time_point::max();
  }

private:
  /// A timer's place in `timers_`: ordered by deadline, then by number.
  using key = std::pair<time_point, std::uint64_t>;

  struct pending_timer {
    caf::strong_actor_ptr receiver;
    caf::mailbox_element_ptr content;
  };

  static std::optional<duration_type> left(time_point due) {
    auto now = clock_type::now();
    return due > now ? due - now : duration_type::zero();
  }

  void forget_by_actor(caf::actor_id aid, const key& k) {
    auto range = timers_by_actor_.equal_range(aid);
    for (auto i = range.first; i != range.second; ++i)
      if (i->second == k) {
        timers_by_actor_.erase(i);
        return;
      }
  }

  void drop_timers() {
    timers_.clear();
    timers_by_actor_.clear();
  }

  /// Re-arms the timer if the earliest deadline moved. Requires `mtx_`.
  void rearm() {
    if (stopped_)
      return;
    auto earliest = time_point::max();
    if (!schedule_.empty())
      earliest = schedule_.begin()->first;
    if (!timers_.empty() && timers_.begin()->first.first < earliest)
      earliest = timers_.begin()->first.first;
    if (earliest == time_point::max() || earliest >= armed_for_)
      return;
    armed_for_ = earliest;
    // expires_at cancels the previous wait; its handler sees operation_aborted.
    timer_.expires_at(earliest);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec)
        on_timer();
    });
  }

  /// Runs on this lane's thread.
  void on_timer() {
    std::vector<pending_timer> due;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      armed_for_ = time_point::max();
      // Delivers due timeouts: enqueues only, never runs an actor, so
      // holding the lock here cannot deadlock with actor code.
      trigger_expired_timeouts();
      // A timer leaves the map under the lock: from then on cancel_timer
      // reports it fired, and its message is delivered below.
      auto now = clock_type::now();
      while (!timers_.empty() && timers_.begin()->first.first <= now) {
        auto i = timers_.begin();
        forget_by_actor(i->second.receiver->id(), i->first);
        due.push_back(std::move(i->second));
        timers_.erase(i);
      }
      rearm();
    }
    for (auto& t : due)
      t.receiver->enqueue(std::move(t.content), nullptr);
  }

  std::mutex mtx_;
  boost::asio::steady_timer timer_;
  std::size_t index_;
  /// The deadline the timer is armed for; `time_point::max()` when idle.
  time_point armed_for_ = time_point::max();
  bool stopped_ = false;
  std::map<key, pending_timer> timers_;
  /// The timers of each receiver, to end them with it.
  std::multimap<caf::actor_id, key> timers_by_actor_;
  std::uint64_t next_timer_ = 1;
};

asio_actor_clock::asio_actor_clock(io_pool& pool) {
  for (std::size_t i = 0; i < pool.size(); ++i)
    lanes_.push_back(std::make_unique<lane>(pool.context(i), i));
}

asio_actor_clock::~asio_actor_clock() = default;

asio_actor_clock::lane& asio_actor_clock::lane_of(const caf::abstract_actor* x) noexcept {
  // A process's timeouts fire on its home thread; CAF's own actors have no
  // home and spread by id (always the same lane for one actor, so that a
  // cancel finds what a set stored).
  if (auto* p = as_process(const_cast<caf::abstract_actor*>(x)))
    return *lanes_[p->home() % lanes_.size()];
  return *lanes_[(x != nullptr ? x->id() : 0) % lanes_.size()];
}

void asio_actor_clock::set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                                            caf::atom_value type, uint64_t id) {
  note_timeouts(self);
  lane_of(self).set_ordinary_timeout(t, self, type, id);
}

void asio_actor_clock::set_multi_timeout(time_point t, caf::abstract_actor* self,
                                         caf::atom_value type, uint64_t id) {
  note_timeouts(self);
  lane_of(self).set_multi_timeout(t, self, type, id);
}

void asio_actor_clock::set_request_timeout(time_point t, caf::abstract_actor* self,
                                           caf::message_id id) {
  note_timeouts(self);
  lane_of(self).set_request_timeout(t, self, id);
}

void asio_actor_clock::cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) {
  lane_of(self).cancel_ordinary_timeout(self, type);
}

void asio_actor_clock::cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) {
  lane_of(self).cancel_request_timeout(self, id);
}

void asio_actor_clock::cancel_timeouts(caf::abstract_actor* self) {
  // Called for every exiting actor; most processes never had a timeout, and
  // for them this takes no lock at all.
  if (auto* p = as_process(self); p != nullptr && !p->had_timeouts())
    return;
  lane_of(self).cancel_timeouts(self);
}

void asio_actor_clock::schedule_message(time_point t, caf::strong_actor_ptr receiver,
                                        caf::mailbox_element_ptr content) {
  // A delayed send fires on its receiver's home thread: the enqueue then
  // wakes the receiver without crossing threads.
  auto& l = lane_of(receiver ? receiver->get() : nullptr);
  l.schedule_message(t, std::move(receiver), std::move(content));
}

void asio_actor_clock::schedule_message(time_point t, caf::group target,
                                        caf::strong_actor_ptr sender, caf::message content) {
  // A group has members on every thread; the sender's lane is as good as any.
  auto& l = lane_of(sender ? sender->get() : nullptr);
  l.schedule_message(t, std::move(target), std::move(sender), std::move(content));
}

void asio_actor_clock::cancel_all() {
  for (auto& l : lanes_)
    l->cancel_all();
}

asio_actor_clock::timer_key asio_actor_clock::start_timer(time_point due,
                                                          caf::strong_actor_ptr receiver,
                                                          caf::mailbox_element_ptr content) {
  auto* target = receiver->get();
  note_timeouts(target);
  return lane_of(target).start_timer(due, std::move(receiver), std::move(content));
}

std::optional<asio_actor_clock::duration_type> asio_actor_clock::cancel_timer(const timer_key& key) {
  if (key.id == 0 || key.lane >= lanes_.size())
    return std::nullopt;
  return lanes_[key.lane]->cancel_timer(key);
}

std::optional<asio_actor_clock::duration_type> asio_actor_clock::read_timer(const timer_key& key) {
  if (key.id == 0 || key.lane >= lanes_.size())
    return std::nullopt;
  return lanes_[key.lane]->read_timer(key);
}

std::size_t asio_actor_clock::request_timeouts() {
  std::size_t n = 0;
  for (auto& l : lanes_)
    n += l->request_timeouts();
  return n;
}

std::size_t asio_actor_clock::pending(std::size_t i) {
  return i < lanes_.size() ? lanes_[i]->pending() : 0;
}

void asio_actor_clock::stop() {
  for (auto& l : lanes_)
    l->stop();
}

} // namespace libactor::detail
