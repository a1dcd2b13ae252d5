# Compiler settings shared by every target of this repository.

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

# Warnings live on an interface target linked PRIVATE, so consumers of the
# installed library never inherit them.
add_library(libactor_warnings INTERFACE)
target_compile_options(libactor_warnings INTERFACE -Wall -Wextra -Wpedantic)

# Fuzzing (scripts/fuzz): libFuzzer comes with clang only, and a fuzz target
# runs under ASan+UBSan. Every object gets libFuzzer's coverage
# instrumentation (fuzzer-no-link); the targets in tests/fuzz add the
# libFuzzer runtime and its main() at link time.
if(LIBACTOR_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LIBACTOR_FUZZ needs clang (CMAKE_CXX_COMPILER=clang++), "
                        "not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  if(LIBACTOR_SANITIZE STREQUAL "")
    set(LIBACTOR_SANITIZE "address,undefined" CACHE STRING
        "Sanitizers for every target: empty, 'address,undefined' or 'thread'" FORCE)
  elseif(NOT LIBACTOR_SANITIZE STREQUAL "address,undefined")
    message(FATAL_ERROR "LIBACTOR_FUZZ runs under address,undefined, not '${LIBACTOR_SANITIZE}'")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# Sanitizers apply to everything built here (library, tests, examples), as
# mixing instrumented and plain objects gives false reports.
if(LIBACTOR_SANITIZE)
  if(LIBACTOR_SANITIZE STREQUAL "thread")
    # Asio's atomic_thread_fence is not modelled by TSan; g++ 12 warns about it.
    add_compile_options(-fsanitize=thread -Wno-tsan -fno-omit-frame-pointer)
    add_link_options(-fsanitize=thread)
  elseif(LIBACTOR_SANITIZE STREQUAL "address,undefined" OR LIBACTOR_SANITIZE STREQUAL "address"
         OR LIBACTOR_SANITIZE STREQUAL "undefined")
    # vptr is off: it reads /proc to check a dynamic type, and so reports
    # every virtual call as bad once a process runs out of descriptors (the
    # EMFILE test does that on purpose).
    add_compile_options(-fsanitize=${LIBACTOR_SANITIZE} -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined -fno-sanitize=vptr)
    add_link_options(-fsanitize=${LIBACTOR_SANITIZE})
  else()
    message(FATAL_ERROR "LIBACTOR_SANITIZE must be empty, 'address,undefined' or 'thread', "
                        "not '${LIBACTOR_SANITIZE}'")
  endif()
endif()

# Adds every direct subfolder of the current source folder that has a
# CMakeLists.txt: a new example or benchmark needs no edit here.
function(libactor_add_subfolders)
  file(GLOB children LIST_DIRECTORIES true CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*)
  foreach(dir IN LISTS children)
    if(IS_DIRECTORY ${dir} AND EXISTS ${dir}/CMakeLists.txt)
      add_subdirectory(${dir})
    endif()
  endforeach()
endfunction()
