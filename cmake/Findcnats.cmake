# Findcnats.cmake -- locate the NATS C client (libnats-dev, 3.x).
#
# Debian 12's libnats-dev ships a package config whose `cnats::nats_static`
# target names libnats_static.a, which the package does not contain: that
# config fails with a fatal error. This module, found first because
# cmake/ is on CMAKE_MODULE_PATH, finds the shared library by hand and
# exposes the target the upstream config would give:
#
#   cnats::nats   libnats (its own dependencies, OpenSSL and protobuf-c,
#                 are recorded in the shared library)
#
# Result variables: cnats_FOUND, cnats_VERSION, cnats_INCLUDE_DIR.

find_path(cnats_INCLUDE_DIR NAMES nats/nats.h)
find_library(cnats_LIBRARY NAMES nats)

if(cnats_INCLUDE_DIR AND EXISTS "${cnats_INCLUDE_DIR}/nats/version.h")
  file(STRINGS "${cnats_INCLUDE_DIR}/nats/version.h" _cnats_version_line
       REGEX "^#define NATS_VERSION_STRING \"[0-9.]+\"")
  string(REGEX REPLACE "^#define NATS_VERSION_STRING \"([0-9.]+)\".*" "\\1"
         cnats_VERSION "${_cnats_version_line}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(cnats
  REQUIRED_VARS cnats_LIBRARY cnats_INCLUDE_DIR
  VERSION_VAR cnats_VERSION)

if(cnats_FOUND AND NOT TARGET cnats::nats)
  add_library(cnats::nats UNKNOWN IMPORTED)
  set_target_properties(cnats::nats PROPERTIES
    IMPORTED_LOCATION "${cnats_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${cnats_INCLUDE_DIR}")
endif()

mark_as_advanced(cnats_INCLUDE_DIR cnats_LIBRARY)
