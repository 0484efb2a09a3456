# Cross-compiling hvrpc for 64-bit Windows with Debian's mingw-w64
# (gcc-mingw-w64-x86-64-posix: the "posix" thread model, so winpthreads
# provides <pthread.h>). docs/WINDOWS.md has the whole recipe; in short:
#
#   cmake -S . -B build-windows \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake \
#     -DHVRPC_WIN_DEPS_DIR=<dir with protobuf-c and jansson sources> \
#     -DHVRPC_HOST_PLUGIN=<a Linux build's codegen/protoc-gen-hvrpc>
#
# (tests/windows/run.sh does exactly that, fetching the sources with
# cmake/windows/fetch-deps.sh.) Programs that run at build time (protoc,
# protoc-c, the plugin) are the build machine's; test programs run under
# wine through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(HVRPC_MINGW_PREFIX x86_64-w64-mingw32 CACHE STRING "mingw-w64 target triplet")
set(CMAKE_C_COMPILER ${HVRPC_MINGW_PREFIX}-gcc-posix)
set(CMAKE_RC_COMPILER ${HVRPC_MINGW_PREFIX}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${HVRPC_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The .proto files protoc reads are the build machine's (libprotobuf-dev).
set(HVRPC_PROTOBUF_INCLUDE /usr/include CACHE PATH "google/protobuf/*.proto")
set(HVRPC_PLUGIN_PROTO_INCLUDE /usr/include CACHE PATH "plugin.proto")

# Test programs run under wine (wine64 from Debian). WINEPREFIX and
# WINEDEBUG come from the environment (tests/windows/run.sh sets them).
find_program(HVRPC_WINE NAMES wine wine64)
if(HVRPC_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${HVRPC_WINE})
endif()
