# Windows builds: protobuf-c's runtime and jansson compiled from source as
# static libraries in the build tree, under the names the Linux build gets
# from pkg-config (PkgConfig::PROTOBUF_C, PkgConfig::JANSSON), so every
# other CMakeLists.txt stays the same.
#
# HVRPC_WIN_DEPS_DIR holds protobuf-c-1.4.1/ and jansson-2.14/, unpacked
# from Debian's source packages by cmake/windows/fetch-deps.sh (the same
# versions as the Linux build's -dev packages: the generated code of the
# build machine's protoc-c must match the runtime). An MSVC build points it
# at the same two directories (docs/WINDOWS.md).
set(HVRPC_WIN_DEPS_DIR "" CACHE PATH
  "Windows: directory with protobuf-c-1.4.1/ and jansson-2.14/ sources")
set(pc_src ${HVRPC_WIN_DEPS_DIR}/protobuf-c-1.4.1)
set(js_src ${HVRPC_WIN_DEPS_DIR}/jansson-2.14)
if(NOT EXISTS ${pc_src}/protobuf-c/protobuf-c.c OR NOT EXISTS ${js_src}/src/value.c)
  message(FATAL_ERROR "Windows build: HVRPC_WIN_DEPS_DIR (${HVRPC_WIN_DEPS_DIR}) "
    "has no protobuf-c-1.4.1/ and jansson-2.14/; run "
    "cmake/windows/fetch-deps.sh DIR and pass -DHVRPC_WIN_DEPS_DIR=DIR")
endif()

add_library(hvrpc_dep_protobuf_c STATIC ${pc_src}/protobuf-c/protobuf-c.c)
set_target_properties(hvrpc_dep_protobuf_c PROPERTIES C_STANDARD 11)
target_include_directories(hvrpc_dep_protobuf_c SYSTEM PUBLIC
  $<BUILD_INTERFACE:${pc_src}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
add_library(PkgConfig::PROTOBUF_C ALIAS hvrpc_dep_protobuf_c)
# Installed beside libhvrpc (static: its users link it too).
install(TARGETS hvrpc_dep_protobuf_c EXPORT hvrpcTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${pc_src}/protobuf-c/protobuf-c.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/protobuf-c)

# jansson's two configuration headers, written by hand for Windows (what
# its own CMake would find there).
set(js_gen ${CMAKE_BINARY_DIR}/hvrpc_deps/jansson)
set(json_inline inline)
set(json_have_long_long 1)
set(json_have_localeconv 1)
set(json_have_atomic_builtins 0)
set(json_have_sync_builtins 0)
configure_file(${js_src}/src/jansson_config.h.in ${js_gen}/jansson_config.h @ONLY)
file(WRITE ${js_gen}/jansson_private_config.h.in
  "#define HAVE_STDINT_H 1\n#define HAVE_SYS_TYPES_H 1\n"
  "#define HAVE_LOCALE_H 1\n#define HAVE_SETLOCALE 1\n"
  "#define HAVE_INT32_T 1\n#define HAVE_UINT32_T 1\n#define HAVE_UINT16_T 1\n"
  "#define HAVE_UINT8_T 1\n#define HAVE_SSIZE_T 1\n"
  "#define USE_WINDOWS_CRYPTOAPI 1\n#define INITIAL_HASHTABLE_ORDER 3\n")
configure_file(${js_gen}/jansson_private_config.h.in
  ${js_gen}/jansson_private_config.h COPYONLY)
add_library(hvrpc_dep_jansson STATIC
  ${js_src}/src/dump.c ${js_src}/src/error.c ${js_src}/src/hashtable.c
  ${js_src}/src/hashtable_seed.c ${js_src}/src/load.c ${js_src}/src/memory.c
  ${js_src}/src/pack_unpack.c ${js_src}/src/strbuffer.c ${js_src}/src/strconv.c
  ${js_src}/src/utf.c ${js_src}/src/value.c ${js_src}/src/version.c)
set_target_properties(hvrpc_dep_jansson PROPERTIES C_STANDARD 11)
target_compile_definitions(hvrpc_dep_jansson PRIVATE HAVE_CONFIG_H)
target_include_directories(hvrpc_dep_jansson SYSTEM PUBLIC ${js_src}/src ${js_gen})
add_library(PkgConfig::JANSSON ALIAS hvrpc_dep_jansson)

# The protoc plugin that generates code at build time must run here: a
# cross build takes the build machine's (a Linux build's
# codegen/protoc-gen-hvrpc). A native Windows build (MSVC) runs its own.
set(HVRPC_HOST_PLUGIN "" CACHE FILEPATH
  "protoc-gen-hvrpc that runs on the build machine (cross builds)")
if(CMAKE_CROSSCOMPILING AND NOT HVRPC_HOST_PLUGIN)
  message(FATAL_ERROR "Cross-compiling for Windows: pass "
    "-DHVRPC_HOST_PLUGIN=<a Linux build>/codegen/protoc-gen-hvrpc "
    "(tests/windows/run.sh builds one)")
endif()
