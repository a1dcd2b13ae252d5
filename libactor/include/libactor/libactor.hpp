/// @file
/// Everything a user of libactor needs, in one include.
#pragma once

#include "libactor/call.hpp"
#include "libactor/exit_reason.hpp"
#include "libactor/log.hpp"
#include "libactor/node.hpp"
#include "libactor/pid.hpp"
#include "libactor/process.hpp"
