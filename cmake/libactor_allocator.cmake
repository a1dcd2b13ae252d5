# The allocator of the programs this project builds (examples, benchmarks),
# never of the library: an application picks its own.
#
# libactor allocates a mailbox element per message and the receiving thread
# usually frees it. glibc's malloc handles that producer/consumer pattern
# poorly (arena locks, bin scans on the allocating side): registry sends
# measured 0.5-0.97 M msgs/s with it and 1.32 M msgs/s with jemalloc on the
# same build (bench/RESULTS.md, Registry). So the programs link jemalloc
# when it is there, except under sanitizers, which bring their own.
option(LIBACTOR_JEMALLOC "Link the examples and benchmarks with jemalloc when found" ON)

add_library(libactor_allocator INTERFACE)
if(LIBACTOR_JEMALLOC AND LIBACTOR_SANITIZE STREQUAL "")
  find_library(LIBACTOR_JEMALLOC_LIBRARY NAMES jemalloc)
  if(LIBACTOR_JEMALLOC_LIBRARY)
    target_link_libraries(libactor_allocator INTERFACE "${LIBACTOR_JEMALLOC_LIBRARY}")
    message(STATUS "libactor: examples and benchmarks use jemalloc (${LIBACTOR_JEMALLOC_LIBRARY})")
  else()
    message(STATUS "libactor: jemalloc not found; examples and benchmarks use the system malloc")
  endif()
endif()
