# hvrpc_protoc_c(OUT_SRCS OUT_HDRS PROTO_ROOT dir FILES a.proto ...)
# Runs protoc-c on each file (paths relative to PROTO_ROOT) and returns the
# generated .pb-c.c / .pb-c.h paths, written under the current binary dir.
find_program(HVRPC_PROTOC protoc REQUIRED)
find_program(HVRPC_PROTOC_C protoc-c REQUIRED)

function(hvrpc_protoc_c out_srcs out_hdrs)
  cmake_parse_arguments(P "" "PROTO_ROOT" "FILES;IMPORT_DIRS" ${ARGN})
  set(srcs)
  set(hdrs)
  set(includes -I${P_PROTO_ROOT})
  foreach(d ${P_IMPORT_DIRS})
    list(APPEND includes -I${d})
  endforeach()
  foreach(f ${P_FILES})
    string(REGEX REPLACE "\\.proto$" "" base ${f})
    set(c ${CMAKE_CURRENT_BINARY_DIR}/${base}.pb-c.c)
    set(h ${CMAKE_CURRENT_BINARY_DIR}/${base}.pb-c.h)
    add_custom_command(OUTPUT ${c} ${h}
      COMMAND ${HVRPC_PROTOC_C} ${includes} --c_out=${CMAKE_CURRENT_BINARY_DIR} ${P_PROTO_ROOT}/${f}
      DEPENDS ${P_PROTO_ROOT}/${f}
      COMMENT "protoc-c ${f}" VERBATIM)
    list(APPEND srcs ${c})
    list(APPEND hdrs ${h})
  endforeach()
  set(${out_srcs} ${srcs} PARENT_SCOPE)
  set(${out_hdrs} ${hdrs} PARENT_SCOPE)
endfunction()
