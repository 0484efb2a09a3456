/*
 * server.c - the host side of the greeter example: listens on
 * demo.v1.Greeter's endpoint (vsock port 2761, or the URI in
 * HVRPC_DEMO_V1_GREETER_ADDR) and answers SayHello until SIGINT or
 * SIGTERM.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#include "demo/v1/greeter.hvrpc.h"

static atomic_uint greetings;

static void say_hello(hvrpc_call *call, const Demo__V1__HelloRequest *req,
                      void *user_data)
{
    (void)user_data;
    char text[128];
    snprintf(text, sizeof text, "Hello, %s!", req->name);
    Demo__V1__HelloReply reply = DEMO__V1__HELLO_REPLY__INIT;
    reply.message = text;
    reply.count = atomic_fetch_add(&greetings, 1) + 1;
    demo__v1__greeter__say_hello_reply(call, &reply);
}

int main(void)
{
    /* Blocked before the server starts its threads, which inherit the
     * mask: only sigwait() below sees these. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    static const demo__v1__greeter_handlers handlers = {.say_hello = say_hello};
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep;
    hvrpc_status st;
    if (hvrpc_server_create(NULL, &srv, &st) != HVRPC_OK ||
        demo__v1__greeter_listen(srv, &ep, &st) != HVRPC_OK ||
        demo__v1__greeter_register(srv, ep, &handlers, NULL, &st) != HVRPC_OK ||
        hvrpc_server_start(srv, &st) != HVRPC_OK) {
        fprintf(stderr, "greeter_server: %s: %s\n", hvrpc_code_name(st.code),
                st.message);
        hvrpc_server_free(srv);
        return 1;
    }
    char where[HVRPC_ADDRESS_STRLEN];
    hvrpc_address_format(hvrpc_endpoint_address(ep), where, sizeof where);
    printf("greeter_server: %s on %s\n", DEMO__V1__GREETER_NAME, where);
    fflush(stdout);

    int sig;
    sigwait(&stop, &sig);
    hvrpc_server_free(srv);
    printf("greeter_server: stopped after %u greetings\n",
           atomic_load(&greetings));
    return 0;
}
