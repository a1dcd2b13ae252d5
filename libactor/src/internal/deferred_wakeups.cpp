#include "internal/deferred_wakeups.hpp"

#include <typeinfo>

#include <caf/actor_system.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include "internal/asio_coordinator.hpp"

namespace libactor::detail {

void deferred_wakeups::flush(caf::actor_system& sys) {
  if (jobs_.empty())
    return;
  auto& sched = sys.scheduler();
  // An exact type check (asio_coordinator is final): this runs on every send.
  if (typeid(sched) == typeid(asio_coordinator)) {
    auto* ours = static_cast<asio_coordinator*>(&sched);
    ours->enqueue_batch(jobs_.data(), jobs_.size());
  } else {
    for (auto* job : jobs_)
      sched.enqueue(job);
  }
  jobs_.clear();
}

} // namespace libactor::detail
