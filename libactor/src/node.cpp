#include "libactor/node.hpp"

#include <thread>

#include <caf/send.hpp>

#include "internal/node_impl.hpp"
#include "libactor/exit_reason.hpp"
#include "libactor/log.hpp"
#include "libactor/process.hpp"

namespace libactor {

namespace {

std::size_t or_cores(std::size_t n) {
  if (n != 0)
    return n;
  auto cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

} // namespace

node::node(node_config cfg) : impl_(std::make_unique<impl>()) {
  cfg.io_threads = or_cores(cfg.io_threads);
  cfg.scheduler_threads = or_cores(cfg.scheduler_threads);
  impl_->config = cfg;
  log::set_level(cfg.log_level);
  impl_->caf_config.set("scheduler.max-threads", cfg.scheduler_threads);
  impl_->system = std::make_unique<caf::actor_system>(impl_->caf_config);
  impl_->work.emplace(impl_->io.get_executor());
  for (std::size_t i = 0; i < cfg.io_threads; ++i)
    impl_->io_threads.emplace_back([io = &impl_->io] { io->run(); });
  impl_->running = true;
  log::debug("node_started", log::kv("io_threads", cfg.io_threads),
             log::kv("scheduler_threads", cfg.scheduler_threads));
}

node::~node() {
  stop();
}

void node::stop() {
  if (!impl_->running.exchange(false))
    return;
  auto& procs = impl_->processes;
  // OTP's orderly stop: `shutdown` first, `kill` for whoever ignores it.
  auto live = procs.snapshot();
  for (auto& hdl : live)
    detail::send_exit_signal(hdl, exit_reason::shutdown(), {});
  if (!procs.wait_empty(impl_->config.shutdown_timeout)) {
    auto stubborn = procs.snapshot();
    log::warning("node_stop_killing", log::kv("processes", stubborn.size()));
    for (auto& hdl : stubborn)
      detail::send_exit_signal(hdl, exit_reason::kill(), {});
  }
  live.clear();
  // The actor system's destructor waits for every actor to finish.
  impl_->system.reset();
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->io_threads)
    t.join();
  impl_->io_threads.clear();
  log::debug("node_stopped");
}

bool node::running() const noexcept {
  return impl_->running.load();
}

std::size_t node::process_count() const {
  return impl_->processes.size();
}

const node_config& node::config() const noexcept {
  return impl_->config;
}

caf::actor_system& node::system() noexcept {
  return *impl_->system;
}

} // namespace libactor
