#include "internal/asio_coordinator.hpp"

#include "libactor/detail/process_actor.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <caf/resumable.hpp>

namespace libactor::detail {

namespace {

/// An Asio handler that owns one reference to a job. If Asio destroys it
/// without running it, the job is cleaned up and released rather than leaked.
class job_handler {
public:
  job_handler(asio_coordinator* owner, caf::resumable* job) : owner_(owner), job_(job) {
  }
  job_handler(job_handler&& other) noexcept : owner_(other.owner_), job_(other.job_) {
    other.job_ = nullptr;
  }
  job_handler(const job_handler&) = delete;
  job_handler& operator=(const job_handler&) = delete;
  job_handler& operator=(job_handler&&) = delete;

  ~job_handler() {
    if (job_ != nullptr)
      caf::scheduler::abstract_coordinator::cleanup_and_release(job_);
  }

  void operator()() {
    auto* job = job_;
    job_ = nullptr;
    owner_->run(job);
  }

private:
  asio_coordinator* owner_;
  caf::resumable* job_;
};

/// As job_handler, for a batch: runs them in order; the ones Asio destroys
/// unrun (at shutdown) are cleaned up and released.
class batch_handler {
public:
  batch_handler(asio_coordinator* owner, std::vector<caf::resumable*> jobs)
    : owner_(owner), jobs_(std::move(jobs)) {
  }
  batch_handler(batch_handler&& other) noexcept
    : owner_(other.owner_), jobs_(std::move(other.jobs_)) {
    other.jobs_.clear();
  }
  batch_handler(const batch_handler&) = delete;
  batch_handler& operator=(const batch_handler&) = delete;
  batch_handler& operator=(batch_handler&&) = delete;

  ~batch_handler() {
    for (auto* job : jobs_)
      caf::scheduler::abstract_coordinator::cleanup_and_release(job);
  }

  void operator()() {
    auto jobs = std::move(jobs_);
    jobs_.clear();
    for (auto* job : jobs)
      owner_->run(job);
  }

private:
  asio_coordinator* owner_;
  std::vector<caf::resumable*> jobs_;
};

} // namespace

asio_coordinator::asio_coordinator(caf::actor_system& sys, io_pool& pool)
  : super(sys), pool_(pool), clock_(pool), unit_(&sys, this) {
}

void asio_coordinator::start() {
  pool_.start();
  super::start();
}

void asio_coordinator::stop() {
  // The order of worker.hpp's shutdown, adapted: utility actors first, then
  // timers, then the threads; what was posted meanwhile runs on this thread.
  stop_actors();
  clock_.stop();
  pool_.join();
}

std::size_t asio_coordinator::home_of(caf::resumable* job) noexcept {
  // Every libactor process has a home; CAF's own utility actors do not and
  // run where they were woken.
  if (auto* p = as_process(job))
    return p->home();
  return pool_.here_or_next();
}

void asio_coordinator::enqueue(caf::resumable* job) {
  boost::asio::post(pool_.context(home_of(job)), job_handler{this, job});
}

void asio_coordinator::enqueue_batch(caf::resumable* const* jobs, std::size_t count) {
  if (count <= 2) {
    // A send to a key with one or two processes: no grouping to pay for.
    for (std::size_t i = 0; i < count; ++i)
      enqueue(jobs[i]);
    return;
  }
  // One run of batches per home thread, each job keeping its place.
  std::vector<std::vector<caf::resumable*>> homes(pool_.size());
  for (std::size_t i = 0; i < count; ++i)
    homes[home_of(jobs[i]) % homes.size()].push_back(jobs[i]);
  for (std::size_t h = 0; h < homes.size(); ++h) {
    auto& mine = homes[h];
    for (std::size_t i = 0; i < mine.size(); i += batch_size) {
      auto last = std::min(mine.size(), i + batch_size);
      boost::asio::post(pool_.context(h),
                        batch_handler{this, {mine.begin() + static_cast<std::ptrdiff_t>(i),
                                             mine.begin() + static_cast<std::ptrdiff_t>(last)}});
    }
  }
}

void asio_coordinator::run(caf::resumable* job) {
  // The release rules of caf/scheduler/worker.hpp.
  switch (job->resume(&unit_, max_throughput())) {
    case caf::resumable::resume_later:
      // Keeps its reference and yields to other handlers on this thread.
      enqueue(job);
      break;
    case caf::resumable::done:
    case caf::resumable::awaiting_message:
      intrusive_ptr_release(job);
      break;
    case caf::resumable::shutdown_execution_unit:
      break;
  }
}

} // namespace libactor::detail
