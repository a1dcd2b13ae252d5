/// @file
/// Messages the I/O side sends to session processes.
#pragma once

#include <caf/atom.hpp>

namespace libactor::detail {

/// The socket became readable (or has an error or EOF to report).
using readable_atom = caf::atom_constant<caf::atom("readable")>;
/// The socket can take more bytes.
using writable_atom = caf::atom_constant<caf::atom("writable")>;
/// A deadline armed on the timer wheel has passed.
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
/// The listener is stopping: finish the current request, then close.
using drain_atom = caf::atom_constant<caf::atom("drain")>;
/// A note for the stream's `on_info` hook (`http::notify`).
using info_atom = caf::atom_constant<caf::atom("info")>;
/// The registry's transport confirmed that every node reaches the stream's
/// key (`registry::when_reachable`): its held output may go.
using reachable_atom = caf::atom_constant<caf::atom("reachable")>;

} // namespace libactor::detail
