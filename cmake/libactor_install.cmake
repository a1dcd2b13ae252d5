# Installs the library, its headers and a package config, so that a consumer
# can write `find_package(libactor)` and link `libactor::libactor`.

include(CMakePackageConfigHelpers)

set(LIBACTOR_CONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/libactor)

install(TARGETS libactor EXPORT libactorTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(LIBACTOR_WITH_NATS)
  set(libactor_header_excludes "")
else()
  set(libactor_header_excludes PATTERN cluster EXCLUDE)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/libactor/include/libactor
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} ${libactor_header_excludes})
install(EXPORT libactorTargets NAMESPACE libactor:: DESTINATION ${LIBACTOR_CONFIG_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/libactorConfig.cmake.in
  ${PROJECT_BINARY_DIR}/libactorConfig.cmake INSTALL_DESTINATION ${LIBACTOR_CONFIG_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/libactorConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
# Debian's CAF has no package config and its cnats config is broken;
# consumers need the same find modules.
install(FILES ${PROJECT_BINARY_DIR}/libactorConfig.cmake
              ${PROJECT_BINARY_DIR}/libactorConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake
              ${PROJECT_SOURCE_DIR}/cmake/Findcnats.cmake
        DESTINATION ${LIBACTOR_CONFIG_DIR})
