# `cmake --install` puts the weave program, the library and its public headers in place, and
# exports weave::weave so other CMake projects can find_package(weave).
include(GNUInstallDirs)
install(TARGETS weave weave_core weave_io weave_mpi EXPORT weaveTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/weave DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/include/weave/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/weave)
install(EXPORT weaveTargets NAMESPACE weave:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weave)
install(DIRECTORY mpi_jobs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/weave/mpi_jobs)
include(CMakePackageConfigHelpers)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/weaveConfig.cmake.in
  ${PROJECT_BINARY_DIR}/weaveConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weave)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/weaveConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/weaveConfig.cmake ${PROJECT_BINARY_DIR}/weaveConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/weave)
