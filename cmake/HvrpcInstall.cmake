# Installation: the shared library and its headers, the hvrpc tool, our
# .proto files, a CMake package (find_package(hvrpc) -> hvrpc::hvrpc) and a
# pkg-config file.
include(CMakePackageConfigHelpers)

install(TARGETS hvrpc EXPORT hvrpcTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/hvrpc
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/hvrpc
  DESTINATION ${CMAKE_INSTALL_DATADIR}/hvrpc/proto)
install(EXPORT hvrpcTargets NAMESPACE hvrpc::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/hvrpc)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/hvrpcConfig.cmake.in
  ${PROJECT_BINARY_DIR}/hvrpcConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/hvrpc)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/hvrpcConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/hvrpcConfig.cmake ${PROJECT_BINARY_DIR}/hvrpcConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/hvrpc)

configure_file(${PROJECT_SOURCE_DIR}/cmake/hvrpc.pc.in ${PROJECT_BINARY_DIR}/hvrpc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/hvrpc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
