#include "internal/timer_wheel.hpp"

#include <caf/send.hpp>

#include "internal/session_atoms.hpp"

namespace libactor::detail {

timer_wheel::timer_wheel(boost::asio::io_context& io, duration tick) : tick_(tick), ticker_(io) {
}

timer_wheel::~timer_wheel() {
  stop();
}

std::size_t timer_wheel::bucket_of(time_point t) const noexcept {
  return static_cast<std::size_t>(t.time_since_epoch() / tick_) % bucket_count;
}

timer_wheel::time_point timer_wheel::round_up(time_point t) const noexcept {
  auto ticks = (t.time_since_epoch() + tick_ - duration{1}) / tick_;
  return time_point{ticks * tick_};
}

void timer_wheel::arm(const std::shared_ptr<wheel_timer>& timer, time_point deadline,
                      caf::actor owner) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& t = *timer;
  t.deadline = deadline;
  t.owner = std::move(owner);
  // A deadline already past fires at the next tick, not a rotation later.
  auto slot = std::max(round_up(deadline), next_tick_);
  // An entry in a bucket that comes round no later than the deadline will
  // re-file itself; only an earlier deadline needs a new entry.
  if (slot < t.slot) {
    t.slot = slot;
    buckets_[bucket_of(slot)].push_back(entry{timer, slot});
  }
}

void timer_wheel::disarm(const std::shared_ptr<wheel_timer>& timer) {
  std::lock_guard<std::mutex> guard{mtx_};
  timer->deadline = time_point::max();
  timer->owner = nullptr;
}

void timer_wheel::start() {
  std::lock_guard<std::mutex> guard{mtx_};
  running_ = true;
  next_tick_ = round_up(std::chrono::steady_clock::now() + tick_);
  schedule_tick();
}

void timer_wheel::stop() {
  std::lock_guard<std::mutex> guard{mtx_};
  running_ = false;
  ticker_.cancel();
  for (auto& b : buckets_)
    std::vector<entry>{}.swap(b);
}

std::size_t timer_wheel::entries() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::size_t n = 0;
  for (auto& b : buckets_)
    n += b.size();
  return n;
}

void timer_wheel::schedule_tick() {
  ticker_.expires_at(next_tick_);
  // Weak: the wheel may go away with its server; a tick already queued then
  // finds nothing, and one that runs holds the wheel until it returns.
  ticker_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec)
      return;
    if (auto self = weak.lock())
      self->on_tick();
  });
}

void timer_wheel::on_tick() {
  std::vector<caf::actor> due;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!running_)
      return;
    auto now = std::chrono::steady_clock::now();
    // Catch up on every bucket whose time has come (a late tick skips none).
    while (next_tick_ <= now) {
      auto& bucket = buckets_[bucket_of(next_tick_)];
      std::vector<entry> current;
      current.swap(bucket);
      for (auto& e : current) {
        auto timer = e.timer.lock();
        if (!timer || timer->slot != e.slot)
          continue; // owner gone, or a newer entry stands for this timer
        if (e.slot > next_tick_) {
          bucket.push_back(std::move(e)); // a later round of the wheel
          continue;
        }
        auto& t = *timer;
        t.slot = time_point::max();
        if (t.deadline == time_point::max())
          continue; // disarmed
        if (t.deadline <= now) {
          t.deadline = time_point::max();
          due.push_back(std::move(t.owner));
          t.owner = nullptr;
        } else {
          // Pushed back since it was filed: re-file at the new deadline.
          t.slot = round_up(t.deadline);
          buckets_[bucket_of(t.slot)].push_back(entry{timer, t.slot});
        }
      }
      next_tick_ += tick_;
    }
    schedule_tick();
  }
  for (auto& owner : due)
    caf::anon_send(owner, timeout_atom::value);
}

} // namespace libactor::detail
