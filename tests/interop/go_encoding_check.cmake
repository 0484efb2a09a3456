# ctest -P script: the Go peer's hand-written EchoRequest/EchoResponse types
# encode and decode exactly like protoc's own (field numbers, wire types,
# the map field).
#   cmake -DPEER=... -DPROTOC=... -DPROTO_DIR=... -DPROTOBUF_INCLUDE=...
#         -DWORK_DIR=... -P go_encoding_check.cmake
set(proto hvrpc/echo/v1/echo.proto)
set(includes -I${PROTO_DIR} -I${PROTOBUF_INCLUDE})
file(MAKE_DIRECTORY ${WORK_DIR})

# protoc --encode -> ttrpc-peer decode-request
file(WRITE ${WORK_DIR}/request.txtpb
  "payload: \"ab\\000c\"\nresponse_size: 4000000000\ndelay_ms: 7\nfail_code: -3\nfail_message: \"boom\"\n")
execute_process(
  COMMAND ${PROTOC} ${includes} --encode=hvrpc.echo.v1.EchoRequest ${PROTO_DIR}/${proto}
  COMMAND ${PEER} decode-request
  INPUT_FILE ${WORK_DIR}/request.txtpb
  OUTPUT_VARIABLE got RESULTS_VARIABLE rcs)
set(want "payload=\"ab\\x00c\" response_size=4000000000 delay_ms=7 fail_code=-3 fail_message=\"boom\"\n")
if(NOT rcs STREQUAL "0;0" OR NOT got STREQUAL want)
  message(FATAL_ERROR "EchoRequest: protoc --encode | ttrpc-peer decode-request\n"
    "exit codes: ${rcs}\ngot:  ${got}want: ${want}")
endif()
message(STATUS "ok EchoRequest decodes like protoc encodes it")

# ttrpc-peer encode-response -> protoc --decode
execute_process(
  COMMAND ${PEER} encode-response
  COMMAND ${PROTOC} ${includes} --decode=hvrpc.echo.v1.EchoResponse ${PROTO_DIR}/${proto}
  OUTPUT_VARIABLE got RESULTS_VARIABLE rcs)
set(want "payload: \"pay\\000load\"\nmetadata {\n  key: \"alpha\"\n  value: \"1\"\n}\nmetadata {\n  key: \"beta\"\n  value: \"two\"\n}\npeer: \"go-ttrpc\"\n")
if(NOT rcs STREQUAL "0;0" OR NOT got STREQUAL want)
  message(FATAL_ERROR "EchoResponse: ttrpc-peer encode-response | protoc --decode\n"
    "exit codes: ${rcs}\ngot:\n${got}want:\n${want}")
endif()
message(STATUS "ok EchoResponse encodes like protoc decodes it")
