# hvrpc_generate(TARGET <target> PROTOS <a.proto>... [IMPORT_DIRS <dir>...]
#                [OUT_DIR <dir>])
#
# For every file in PROTOS runs protoc once with two generators: protoc-c
# (the messages: foo.pb-c.[ch]) and protoc-gen-hvrpc (typed client stubs,
# handler tables and endpoint constants: foo.hvrpc.[ch], docs/CODEGEN.md).
# Adds the .c files to <target> and OUT_DIR to its include directories
# (PUBLIC); link <target> to hvrpc::hvrpc yourself.
#
# A file's name inside OUT_DIR is its path relative to the first of
# IMPORT_DIRS that holds it (else to its own directory), as protoc sees
# it: with IMPORT_DIRS proto, proto/demo/v1/greeter.proto gives
# demo/v1/greeter.hvrpc.h, included as "demo/v1/greeter.hvrpc.h".
# hvrpc/options.proto and google/protobuf/descriptor.proto are always
# importable, and their headers are generated for you; every other .proto
# whose messages you use (google/protobuf/empty.proto, say, with
# IMPORT_DIRS /usr/include) goes in PROTOS, so its code is compiled too.
# OUT_DIR defaults to ${CMAKE_CURRENT_BINARY_DIR}/hvrpc_gen/<target>.
#
# Works in hvrpc's own tree and from the installed package
# (find_package(hvrpc CONFIG) includes this file).
find_program(HVRPC_PROTOC protoc REQUIRED)
find_program(HVRPC_PROTOC_GEN_C protoc-gen-c REQUIRED)
find_path(HVRPC_PROTOBUF_INCLUDE google/protobuf/descriptor.proto
  PATHS /usr/include /usr/local/include REQUIRED)

function(hvrpc_generate)
  cmake_parse_arguments(G "" "TARGET;OUT_DIR" "PROTOS;IMPORT_DIRS" ${ARGN})
  if(NOT G_TARGET OR NOT G_PROTOS)
    message(FATAL_ERROR "hvrpc_generate: TARGET and PROTOS are required")
  endif()
  if(G_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "hvrpc_generate: unknown arguments ${G_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT G_OUT_DIR)
    set(G_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/hvrpc_gen/${G_TARGET})
  endif()
  get_filename_component(out ${G_OUT_DIR} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_BINARY_DIR})
  # hvrpc's own protos: set by hvrpcConfig.cmake when installed, else the
  # source tree's.
  if(HVRPC_PROTO_DIR)
    set(proto_dir ${HVRPC_PROTO_DIR})
  else()
    get_filename_component(proto_dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../proto ABSOLUTE)
  endif()

  set(roots)
  foreach(d ${G_IMPORT_DIRS})
    get_filename_component(d ${d} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND roots ${d})
  endforeach()
  set(includes)
  foreach(d ${roots} ${proto_dir} ${HVRPC_PROTOBUF_INCLUDE})
    list(APPEND includes -I${d})
  endforeach()
  # Cross-compiling (the Windows build on Linux), the plugin built here is
  # a Windows program: protoc runs the build machine's instead.
  if(HVRPC_HOST_PLUGIN)
    set(plugin ${HVRPC_HOST_PLUGIN})
  else()
    set(plugin $<TARGET_FILE:hvrpc::protoc-gen-hvrpc>)
  endif()

  # Each file is generated again when any of them changes: they may
  # import each other.
  set(all)
  foreach(p ${G_PROTOS})
    get_filename_component(abs ${p} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND all ${abs})
  endforeach()

  set(srcs)
  set(names)
  foreach(abs ${all})
    set(rel)
    foreach(r ${roots})
      file(RELATIVE_PATH try ${r} ${abs})
      if(NOT try MATCHES "^\\.\\./")
        set(rel ${try})
        break()
      endif()
    endforeach()
    set(own_root)
    if(NOT rel)
      get_filename_component(own_root ${abs} DIRECTORY)
      get_filename_component(rel ${abs} NAME)
      set(own_root -I${own_root})
    endif()
    list(APPEND names ${rel})
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    set(gen ${out}/${base}.pb-c.c ${out}/${base}.pb-c.h
            ${out}/${base}.hvrpc.c ${out}/${base}.hvrpc.h)
    add_custom_command(OUTPUT ${gen}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
      COMMAND ${HVRPC_PROTOC} ${own_root} ${includes}
        --plugin=protoc-gen-c=${HVRPC_PROTOC_GEN_C} --c_out=${out}
        --plugin=protoc-gen-hvrpc=${plugin} --hvrpc_out=${out} ${abs}
      DEPENDS ${all} ${plugin}
      COMMENT "hvrpc_generate ${rel}" VERBATIM)
    list(APPEND srcs ${out}/${base}.pb-c.c ${out}/${base}.hvrpc.c)
  endforeach()

  # What a .proto setting hvrpc options includes: headers only (nothing
  # links to their code), generated once per OUT_DIR unless listed above.
  set(support)
  set(support_files)
  foreach(s hvrpc/options.proto google/protobuf/descriptor.proto)
    list(FIND names ${s} listed)
    if(listed EQUAL -1)
      list(APPEND support ${s})
    endif()
  endforeach()
  get_property(done GLOBAL PROPERTY HVRPC_GENERATE_SUPPORT)
  if(support AND NOT "${out}" IN_LIST done)
    set_property(GLOBAL APPEND PROPERTY HVRPC_GENERATE_SUPPORT ${out})
    set(hdrs)
    foreach(s ${support})
      string(REGEX REPLACE "\\.proto$" ".pb-c.h" h ${s})
      list(APPEND hdrs ${out}/${h})
      if(s MATCHES "^hvrpc/")
        list(APPEND support_files ${proto_dir}/${s})
      else()
        list(APPEND support_files ${HVRPC_PROTOBUF_INCLUDE}/${s})
      endif()
    endforeach()
    add_custom_command(OUTPUT ${hdrs}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
      COMMAND ${HVRPC_PROTOC} ${includes}
        --plugin=protoc-gen-c=${HVRPC_PROTOC_GEN_C} --c_out=${out} ${support_files}
      DEPENDS ${support_files}
      COMMENT "hvrpc_generate: headers of ${support}" VERBATIM)
    target_sources(${G_TARGET} PRIVATE ${hdrs})
  endif()

  target_sources(${G_TARGET} PRIVATE ${srcs})
  target_include_directories(${G_TARGET} PUBLIC $<BUILD_INTERFACE:${out}>)
endfunction()
