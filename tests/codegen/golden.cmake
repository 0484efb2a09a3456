# cmake -DPROTOC=... -DPLUGIN=... -DPROTOS=a.proto,b.proto -DROOT=dir
#       -DIMPORTS=dir,dir -DGOLDEN=dir -DOUT=dir [-DUPDATE=ON] -P golden.cmake
#
# Runs protoc-gen-hvrpc on PROTOS (relative to ROOT) and compares every
# foo.hvrpc.[ch] with GOLDEN/foo.hvrpc.[ch].golden, printing a diff for
# each that differs. With UPDATE=ON it writes the golden files instead:
# `cmake --build BUILD --target hvrpc_golden_update`, then review the diff.
string(REPLACE "," ";" protos "${PROTOS}")
string(REPLACE "," ";" imports "${IMPORTS}")
set(includes -I${ROOT})
foreach(d ${imports})
  list(APPEND includes -I${d})
endforeach()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${PROTOC} --plugin=protoc-gen-hvrpc=${PLUGIN}
  --hvrpc_out=${OUT} ${includes} ${protos}
  WORKING_DIRECTORY ${ROOT} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "protoc failed: ${err}")
endif()

set(differ)
foreach(p ${protos})
  string(REGEX REPLACE "\\.proto$" "" base ${p})
  foreach(ext h c)
    set(got ${OUT}/${base}.hvrpc.${ext})
    set(want ${GOLDEN}/${base}.hvrpc.${ext}.golden)
    if(UPDATE)
      configure_file(${got} ${want} COPYONLY)
      continue()
    endif()
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${got} ${want}
      RESULT_VARIABLE same)
    if(same)
      execute_process(COMMAND diff -u ${want} ${got})
      list(APPEND differ ${base}.hvrpc.${ext})
    endif()
  endforeach()
endforeach()
if(differ)
  message(FATAL_ERROR "generated code differs from tests/codegen/golden: "
    "${differ}. If the change is meant, run `cmake --build <build> --target "
    "hvrpc_golden_update` and commit the new golden files with it.")
endif()
