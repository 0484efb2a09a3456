# Installation: the shared library and its headers, the hvrpc tool, the
# protoc plugin, our .proto files, a CMake package (find_package(hvrpc) ->
# hvrpc::hvrpc, hvrpc::protoc-gen-hvrpc, hvrpc_generate()) and a pkg-config
# file.
include(CMakePackageConfigHelpers)

install(TARGETS hvrpc protoc-gen-hvrpc EXPORT hvrpcTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/hvrpc
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/hvrpc
  DESTINATION ${CMAKE_INSTALL_DATADIR}/hvrpc/proto)
install(EXPORT hvrpcTargets NAMESPACE hvrpc::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/hvrpc)

set(HVRPC_INSTALL_PROTO_DIR ${CMAKE_INSTALL_DATADIR}/hvrpc/proto)
set(HVRPC_INSTALL_PLUGIN ${CMAKE_INSTALL_BINDIR}/protoc-gen-hvrpc)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/hvrpcConfig.cmake.in
  ${PROJECT_BINARY_DIR}/hvrpcConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/hvrpc
  PATH_VARS HVRPC_INSTALL_PROTO_DIR HVRPC_INSTALL_PLUGIN)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/hvrpcConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/hvrpcConfig.cmake ${PROJECT_BINARY_DIR}/hvrpcConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/HvrpcGenerate.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/hvrpc)

configure_file(${PROJECT_SOURCE_DIR}/cmake/hvrpc.pc.in ${PROJECT_BINARY_DIR}/hvrpc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/hvrpc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
