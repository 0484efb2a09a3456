/*
 * test_errors.c - how the generated code fails: a handler table with a
 * hole, a service with no endpoint or only a Windows GUID, a bad address
 * in the environment, a request or a response that does not decode, a
 * request nested deeper than the limit, a missing completion callback.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "test_services.h"

static void test_register(const char *dir)
{
    hvrpc_server *srv;
    hvrpc_endpoint *ep;
    hvrpc_status st;
    char uri[128];
    snprintf(uri, sizeof uri, "unix://%s/register.sock", dir);
    CHECK_INT(hvrpc_server_create(NULL, &srv, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_listen(srv, uri, &ep, &st), HVRPC_OK);

    CHECK_INT(multi__v1__alpha_register(srv, ep, NULL, NULL, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_STR(st.message, "multi.v1.Alpha: no handler table");

    /* Every handler is required: a hole names its method. */
    my_pkg2__v1_0__http2__service3_d_handlers h = {0};
    CHECK_INT(my_pkg2__v1_0__http2__service3_d_register(srv, ep, &h, NULL, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_STR(st.message, "my_pkg2.v1_0.HTTP2_Service3D: no handler for "
                          "Get_Foo");
    hvrpc_server_free(srv);
}

static void test_endpoints(void)
{
    hvrpc_client *c = NULL;
    hvrpc_server *srv;
    hvrpc_endpoint *ep;
    hvrpc_status st;
    CHECK_INT(hvrpc_server_create(NULL, &srv, &st), HVRPC_OK);

    /* No endpoint option: only the environment can say where. */
    unsetenv("HVRPC_MULTI_V1_DELTA_ADDR");
    CHECK_INT(multi__v1__delta_connect_host(NULL, &c, &st),
              HVRPC_FAILED_PRECONDITION);
    CHECK_CONTAINS(st.message, "multi.v1.Delta has no (hvrpc.vsock_port)");
    CHECK_CONTAINS(st.message, "HVRPC_MULTI_V1_DELTA_ADDR");
    CHECK_INT(multi__v1__delta_listen(srv, &ep, &st),
              HVRPC_FAILED_PRECONDITION);

    /* A GUID that names no port is for Windows: Linux says why not. */
    unsetenv("HVRPC_MULTI_V1_GAMMA_ADDR");
    CHECK(multi__v1__gamma_connect_host(NULL, &c, &st) != HVRPC_OK);
    CHECK_CONTAINS(st.message, "multi.v1.Gamma at hvsock://parent/"
                               "6a2ed7b5-5c8e-4b3e-9d1f-0123456789ab: ");
    CHECK(multi__v1__gamma_listen(srv, &ep, &st) != HVRPC_OK);
    CHECK_CONTAINS(st.message, "hvsock://wildcard/6a2ed7b5-");

    /* A bad URI in the environment is named with the variable. */
    setenv("HVRPC_MULTI_V1_DELTA_ADDR", "bogus://nowhere", 1);
    CHECK_INT(multi__v1__delta_connect_host(NULL, &c, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "multi.v1.Delta at bogus://nowhere "
                               "(HVRPC_MULTI_V1_DELTA_ADDR): ");
    unsetenv("HVRPC_MULTI_V1_DELTA_ADDR");
    CHECK(c == NULL);
    hvrpc_server_free(srv);
}

static void test_bad_request(void)
{
    hvrpc_client *c = test_connect(multi__v1__alpha_connect_host);
    CHECK(c != NULL);
    if (!c)
        return;
    hvrpc_status st;
    static const uint8_t junk[] = {0xff, 0xff};
    CHECK_INT(hvrpc_client_call(c, MULTI__V1__ALPHA_NAME, "Add", junk,
                                sizeof junk, NULL, NULL, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_STR(st.message, "request: not a valid multi.v1.Pair message");

    Multi__V1__Pair pair = MULTI__V1__PAIR__INIT;
    CHECK_INT(multi__v1__alpha__add_call_async(c, &pair, NULL, NULL, NULL, &st),
              HVRPC_INVALID_ARGUMENT);
    hvrpc_client_free(c);
}

/* A chain of n nodes, each value 1, in nodes[0..n). */
static void chain(Alpha__Beta__Gamma__V1__Node *nodes, int n)
{
    for (int i = 0; i < n; i++) {
        alpha__beta__gamma__v1__node__init(&nodes[i]);
        nodes[i].value = 1;
        nodes[i].child = i + 1 < n ? &nodes[i + 1] : NULL;
    }
}

static void test_depth(void)
{
    hvrpc_client *c = test_connect(alpha__beta__gamma__v1__nested_connect_host);
    CHECK(c != NULL);
    if (!c)
        return;
    hvrpc_status st;
    Alpha__Beta__Gamma__V1__Node nodes[HVRPC_MAX_MESSAGE_DEPTH + 1];
    Alpha__Beta__Gamma__V1__Node *sum = NULL;

    chain(nodes, HVRPC_MAX_MESSAGE_DEPTH);
    CHECK_INT(
        alpha__beta__gamma__v1__nested__walk_call(c, nodes, &sum, NULL, &st),
        HVRPC_OK);
    CHECK(sum && sum->value == HVRPC_MAX_MESSAGE_DEPTH);
    if (sum)
        protobuf_c_message_free_unpacked(&sum->base, NULL);

    chain(nodes, HVRPC_MAX_MESSAGE_DEPTH + 1);
    sum = NULL;
    CHECK_INT(
        alpha__beta__gamma__v1__nested__walk_call(c, nodes, &sum, NULL, &st),
        HVRPC_INVALID_ARGUMENT);
    CHECK_STR(st.message, "request: alpha.beta.gamma.v1.Node nests messages "
                          "deeper than 100 levels");
    CHECK(sum == NULL);
    hvrpc_client_free(c);
}

/* A hand-written server that answers multi.v1.Beta.Neg with bytes that
 * are no Sum. */
static void junk_reply(hvrpc_call *call, const uint8_t *req, size_t len,
                       void *ud)
{
    static const uint8_t junk[] = {0x08};
    hvrpc_call_reply(call, junk, sizeof junk);
}

static void test_bad_response(const char *dir)
{
    static const hvrpc_method methods[] = {
        {.name = "Neg", .handler = junk_reply}};
    static const hvrpc_service beta = {MULTI__V1__BETA_NAME, methods, 1};
    hvrpc_server *srv;
    hvrpc_endpoint *ep;
    hvrpc_client *c;
    hvrpc_status st;
    char uri[128];
    snprintf(uri, sizeof uri, "unix://%s/junk.sock", dir);
    CHECK_INT(hvrpc_server_create(NULL, &srv, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_listen(srv, uri, &ep, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_register(srv, ep, &beta, NULL, NULL, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_start(srv, &st), HVRPC_OK);
    CHECK_INT(hvrpc_client_connect(uri, NULL, &c, &st), HVRPC_OK);

    Multi__V1__Sum in = MULTI__V1__SUM__INIT, *out = (Multi__V1__Sum *)&in;
    CHECK_INT(multi__v1__beta__neg_call(c, &in, &out, NULL, &st),
              HVRPC_INTERNAL);
    CHECK_STR(st.message, "malformed response: not a valid multi.v1.Sum "
                          "message");
    CHECK(out == NULL);

    test_waiter w;
    test_waiter_init(&w);
    CHECK_INT(
        multi__v1__beta__neg_call_async(c, &in, NULL, test_sum_done, &w, &st),
        HVRPC_OK);
    test_wait(&w);
    CHECK_INT(w.st.code, HVRPC_INTERNAL);
    CHECK_INT(w.value, -1);
    hvrpc_client_free(c);
    hvrpc_server_free(srv);
}

int main(void)
{
    test_endpoints();
    const char *dir = test_route_all();
    CHECK(dir != NULL);
    if (!dir)
        return check_done();
    test_register(dir);
    taken t = {{0}, 0};
    hvrpc_server *srv = test_server_start(&t);
    CHECK(srv != NULL);
    if (srv) {
        test_bad_request();
        test_depth();
        hvrpc_server_free(srv);
    }
    test_bad_response(dir);
    test_unroute_all();
    return check_done();
}
