/*
 * client.c - the guest side of the greeter example: connects to
 * demo.v1.Greeter on this machine's host (vsock://2:2761 in a Linux guest,
 * hvsock://parent/<GUID> in a Windows one, or the URI in
 * HVRPC_DEMO_V1_GREETER_ADDR) and says hello.
 *
 *   greeter_client [NAME]
 */
#include <stdio.h>

#include "demo/v1/greeter.hvrpc.h"

int main(int argc, char **argv)
{
    hvrpc_client *c;
    hvrpc_status st;
    if (demo__v1__greeter_connect_host(NULL, &c, &st) != HVRPC_OK) {
        fprintf(stderr, "greeter_client: %s: %s\n", hvrpc_code_name(st.code),
                st.message);
        return 1;
    }
    Demo__V1__HelloRequest req = DEMO__V1__HELLO_REQUEST__INIT;
    req.name = argc > 1 ? argv[1] : "guest";
    hvrpc_call_options opts = HVRPC_CALL_OPTIONS_INIT;
    opts.timeout_ms = 5000;
    Demo__V1__HelloReply *reply;
    hvrpc_code code =
        demo__v1__greeter__say_hello_call(c, &req, &reply, &opts, &st);
    if (code == HVRPC_OK) {
        printf("%s (greeting %u)\n", reply->message, reply->count);
        protobuf_c_message_free_unpacked(&reply->base, NULL);
    } else {
        fprintf(stderr, "greeter_client: %s: %s\n", hvrpc_code_name(code),
                st.message);
    }
    hvrpc_client_free(c);
    return code == HVRPC_OK ? 0 : 1;
}
