# Per-target settings shared by every target of the project: C11, warnings,
# and (with HVRPC_SANITIZE) ASan+UBSan. No directory-wide flags.
# HVRPC_FUZZ (clang only) adds libFuzzer's coverage instrumentation
# (-fsanitize=fuzzer-no-link) on top of ASan+UBSan; tests/fuzz links the
# fuzz targets themselves with -fsanitize=fuzzer.
if(HVRPC_FUZZ AND NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "HVRPC_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang")
endif()
# HVRPC_SANITIZE_THREAD builds with ThreadSanitizer instead (the
# concurrency tests run under it in CI).
if(HVRPC_SANITIZE_THREAD AND (HVRPC_SANITIZE OR HVRPC_FUZZ))
  message(FATAL_ERROR "HVRPC_SANITIZE_THREAD cannot be combined with HVRPC_SANITIZE or HVRPC_FUZZ")
endif()
set(HVRPC_SANITIZER_FLAGS)
set(HVRPC_SANITIZER_COMPILE_ONLY)
if(HVRPC_SANITIZE OR HVRPC_FUZZ)
  set(HVRPC_SANITIZER_FLAGS -fsanitize=address,undefined)
  set(HVRPC_SANITIZER_COMPILE_ONLY -fno-sanitize-recover=undefined)
elseif(HVRPC_SANITIZE_THREAD)
  set(HVRPC_SANITIZER_FLAGS -fsanitize=thread)
endif()
if(HVRPC_FUZZ)
  list(APPEND HVRPC_SANITIZER_FLAGS -fsanitize=fuzzer-no-link)
endif()

function(hvrpc_target_defaults target)
  set_target_properties(${target} PROPERTIES
    C_STANDARD 11
    C_STANDARD_REQUIRED ON
    C_EXTENSIONS OFF
    C_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON)
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
  if(MINGW)
    # C99 printf (%zu, %lld) and format checking that matches it.
    target_compile_definitions(${target} PRIVATE __USE_MINGW_ANSI_STDIO=1)
    # Self-contained programs: winpthreads and libgcc linked in, so an .exe
    # runs without mingw's DLLs beside it (and under wine as is).
    target_link_options(${target} PRIVATE -static)
  endif()
  if(WIN32)
    # strndup, gmtime_r, (MSVC) asprintf: cmake/windows/include.
    if(MSVC)
      target_compile_options(${target} PRIVATE
        /FI${PROJECT_SOURCE_DIR}/cmake/windows/include/hvrpc_win_compat.h)
    else()
      target_compile_options(${target} PRIVATE
        -include ${PROJECT_SOURCE_DIR}/cmake/windows/include/hvrpc_win_compat.h)
    endif()
  endif()
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wformat=2 -Wno-unused-parameter)
  if(HVRPC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(HVRPC_SANITIZER_FLAGS)
    target_compile_options(${target} PRIVATE ${HVRPC_SANITIZER_FLAGS}
      ${HVRPC_SANITIZER_COMPILE_ONLY} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE ${HVRPC_SANITIZER_FLAGS})
  endif()
endfunction()

# Generated protobuf-c sources get the standard and sanitizers, not our
# warning set (the code is protoc-c's, not ours).
function(hvrpc_generated_defaults target)
  set_target_properties(${target} PROPERTIES C_STANDARD 11 POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET hidden)
  if(HVRPC_SANITIZER_FLAGS)
    target_compile_options(${target} PRIVATE ${HVRPC_SANITIZER_FLAGS} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE ${HVRPC_SANITIZER_FLAGS})
  endif()
endfunction()
