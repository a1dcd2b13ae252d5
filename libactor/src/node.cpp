#include "libactor/node.hpp"

#include <thread>

#include <caf/send.hpp>

#include "internal/asio_coordinator.hpp"
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
  if (cfg.max_throughput == 0)
    cfg.max_throughput = 1;
  impl_->config = cfg;
  log::set_level(cfg.log_level);
  impl_->io = std::make_unique<detail::io_pool>(cfg.io_threads);
  auto& caf_cfg = impl_->caf_config;
  caf_cfg.set("scheduler.max-threads", cfg.io_threads);
  caf_cfg.set("scheduler.max-throughput", cfg.max_throughput);
  caf_cfg.module_factories.push_back(
    [pool = impl_->io.get()](caf::actor_system& sys) -> caf::actor_system::module* {
      return new detail::asio_coordinator(sys, *pool);
    });
  impl_->system = std::make_unique<caf::actor_system>(caf_cfg);
  impl_->running = true;
  log::debug("node_started", log::kv("io_threads", cfg.io_threads));
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
  // The actor system's destructor waits for every actor to finish, then
  // stops the scheduler, which joins the I/O threads.
  impl_->system.reset();
  log::debug("node_stopped");
}

bool node::on_io_thread() const noexcept {
  return impl_->io->thread_index() < impl_->io->size();
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
