#include "libactor/names.hpp"

#include <memory>

#include <caf/actor_cast.hpp>

#include "internal/name_table.hpp"
#include "internal/node_impl.hpp"
#include "libactor/detail/process_actor.hpp"

namespace libactor {

namespace {

detail::process_actor* process_of(const pid& who) {
  // (A cast of an empty handle would not give null.)
  if (!who)
    return nullptr;
  return detail::as_process(caf::actor_cast<caf::abstract_actor*>(who.handle()));
}

/// Frees `name` if the exiting process `id` still holds it (once its exit
/// hooks have run it can hold nothing else, so its id is enough).
void forget(detail::name_table& t, const std::string& name, std::uint64_t id) {
  std::lock_guard<std::mutex> lock{t.mtx};
  auto i = t.by_name.find(name);
  if (i == t.by_name.end() || i->second.proc.id() != id)
    return;
  t.by_name.erase(i);
  t.by_process.erase(id);
}

} // namespace

std::string to_string(name_status x) {
  switch (x) {
    case name_status::ok:
      return "ok";
    case name_status::taken:
      return "taken";
    case name_status::already_named:
      return "already_named";
    case name_status::no_process:
      return "no_process";
    case name_status::invalid_name:
      return "invalid_name";
  }
  return "unknown";
}

name_status register_name(node& n, const std::string& name, const pid& who) {
  if (name.empty())
    return name_status::invalid_name;
  auto* proc = process_of(who);
  if (proc == nullptr)
    return name_status::no_process;
  std::weak_ptr<detail::name_table> weak = n.internals().names;
  auto id = who.handle().id();
  // The hook first, then the entry: no exit can fall between the two. The
  // hook runs before the process's mailbox is dropped and before any link
  // or monitor fires, so whoever hears of the exit finds the name free.
  auto hook = proc->add_exit_hook([weak, name, id](detail::process_actor&, const caf::error&) {
    if (auto t = weak.lock())
      forget(*t, name, id);
  });
  if (hook == 0)
    return name_status::no_process;
  auto refuse = [&](name_status why) {
    proc->remove_exit_hook(hook);
    return why;
  };
  auto& t = *n.internals().names;
  std::unique_lock<std::mutex> lock{t.mtx};
  // Run or running: the process is exiting (a running hook finds nothing).
  if (!proc->has_exit_hook(hook)) {
    lock.unlock();
    return refuse(name_status::no_process);
  }
  if (t.by_name.count(name) != 0) {
    lock.unlock();
    return refuse(name_status::taken);
  }
  if (t.by_process.count(id) != 0) {
    lock.unlock();
    return refuse(name_status::already_named);
  }
  t.by_name.emplace(name, detail::name_table::entry{who.handle(), hook});
  t.by_process.emplace(id, name);
  return name_status::ok;
}

bool unregister_name(node& n, const std::string& name) {
  auto& t = *n.internals().names;
  caf::actor proc;
  std::uint64_t hook = 0;
  {
    std::lock_guard<std::mutex> lock{t.mtx};
    auto i = t.by_name.find(name);
    if (i == t.by_name.end())
      return false;
    proc = std::move(i->second.proc);
    hook = i->second.hook;
    t.by_process.erase(proc.id());
    t.by_name.erase(i);
  }
  // Outside the lock; if the process is exiting meanwhile its hook finds
  // the name gone.
  if (auto* p = detail::as_process(caf::actor_cast<caf::abstract_actor*>(proc)))
    p->remove_exit_hook(hook);
  return true;
}

pid whereis(node& n, const std::string& name) {
  auto& t = *n.internals().names;
  std::lock_guard<std::mutex> lock{t.mtx};
  auto i = t.by_name.find(name);
  return i == t.by_name.end() ? pid{} : pid{i->second.proc};
}

std::vector<std::string> registered(node& n) {
  auto& t = *n.internals().names;
  std::lock_guard<std::mutex> lock{t.mtx};
  std::vector<std::string> out;
  out.reserve(t.by_name.size());
  for (auto& kv : t.by_name)
    out.push_back(kv.first);
  return out;
}

} // namespace libactor
