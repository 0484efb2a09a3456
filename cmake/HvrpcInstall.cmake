# Installation: the shared library and its headers, the hvrpc tool, the
# protoc plugin, our .proto files, a CMake package (find_package(hvrpc) ->
# hvrpc::hvrpc, hvrpc::protoc-gen-hvrpc, hvrpc_generate()) and a pkg-config
# file. libhvrpc_json (tools/json) is internal to the hvrpc tool and is not
# installed, neither its archive nor its header.
include(CMakePackageConfigHelpers)

install(TARGETS hvrpc protoc-gen-hvrpc EXPORT hvrpcTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/hvrpc
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# share/hvrpc/proto: hvrpc/options.proto and the APIs of the built-in
# services (echo, reflection, bus, kvp, ... under hvrpc/) and gRPC's health
# (grpc/health/v1), what `hvrpc call --proto` and a user's own .proto
# import. (ttrpc/request.proto is the wire envelope, compiled in: not an API.)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/hvrpc ${PROJECT_SOURCE_DIR}/proto/grpc
  DESTINATION ${CMAKE_INSTALL_DATADIR}/hvrpc/proto
  FILES_MATCHING PATTERN "*.proto")
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

# hvrpc.pc finds the prefix from where it is (${pcfiledir}), as the CMake
# package does, so `cmake --install --prefix DIR` gives a usable file.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(HVRPC_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH pc_up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" pc_up "${pc_up}")
  set(HVRPC_PC_PREFIX "\${pcfiledir}/${pc_up}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/hvrpc.pc.in ${PROJECT_BINARY_DIR}/hvrpc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/hvrpc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
