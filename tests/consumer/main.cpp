// Spawns a process through the installed library and calls it once; exits 0
// only if the reply arrives.
#include <chrono>

#include <libactor/libactor.hpp>

int main() {
  libactor::node node{libactor::node_config{}};
  auto doubler = libactor::spawn(node, [](libactor::process&, int factor) -> caf::behavior {
    return {[factor](int x) { return x * factor; }};
  }, 2);
  auto reply = libactor::call<int>(node, doubler, std::chrono::seconds{5}, 21);
  return reply.ok() && reply.value() == 42 ? 0 : 1;
}
