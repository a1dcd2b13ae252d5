/// @file
/// Everything a user of libactor needs, in one include.
#pragma once

#include "libactor/call.hpp"
#include "libactor/child_spec.hpp"
#include "libactor/exit_reason.hpp"
#include "libactor/log.hpp"
#include "libactor/node.hpp"
#include "libactor/pid.hpp"
#include "libactor/process.hpp"
#include "libactor/registry.hpp"
#include "libactor/restart_backoff.hpp"
#include "libactor/sharded_supervisor.hpp"
#include "libactor/supervisor.hpp"
#include "libactor/timer_ref.hpp"
