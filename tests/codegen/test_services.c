/*
 * test_services.c - the test implementations: each handler computes its
 * answer from the request so a client can check real values. Nested.Walk
 * answers later, from a scheduled function: the decoded request must still
 * be valid then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_services.h"

static char dir[64];

static const hvrpc_service_info *const routed[] = {
    &plain_info,
    &alpha__beta__gamma__v1__nested_info,
    &my_pkg2__v1_0__http2__service3_d_info,
    &multi__v1__alpha_info,
    &multi__v1__beta_info,
    &multi__v1__gamma_info,
    &multi__v1__delta_info,
    &multi__v1__empty_info,
    &imp__v1__importer_info,
    &zz__things__thing_store_info,
};
#define N_ROUTED (sizeof routed / sizeof routed[0])

const char *test_route_all(void)
{
    snprintf(dir, sizeof dir, "/tmp/hvrpc-codegen-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return NULL;
    }
    for (size_t i = 0; i < N_ROUTED; i++) {
        char uri[128];
        snprintf(uri, sizeof uri, "unix://%s/%zu.sock", dir, i);
        setenv(routed[i]->env_var, uri, 1);
    }
    return dir;
}

void test_unroute_all(void)
{
    for (size_t i = 0; i < N_ROUTED; i++)
        unsetenv(routed[i]->env_var);
    rmdir(dir);
}

/* --- Plain (no package) ------------------------------------------------ */

static void bump(hvrpc_call *call, const Ping *req, void *ud)
{
    Pong r = PONG__INIT;
    r.n = req->n + 1;
    r.text = "bumped";
    plain__bump_reply(call, &r);
}

static void idle(hvrpc_call *call, const Nothing *req, void *ud)
{
    Nothing r = NOTHING__INIT;
    plain__idle_reply(call, &r);
}

/* --- alpha.beta.gamma.v1.Nested --------------------------------------- */

static void wrap(hvrpc_call *call,
                 const Alpha__Beta__Gamma__V1__Outer__Inner__Core *req,
                 void *ud)
{
    Alpha__Beta__Gamma__V1__Outer__Inner__Core core =
        ALPHA__BETA__GAMMA__V1__OUTER__INNER__CORE__INIT;
    Alpha__Beta__Gamma__V1__Outer__Inner inner =
        ALPHA__BETA__GAMMA__V1__OUTER__INNER__INIT;
    Alpha__Beta__Gamma__V1__Outer r = ALPHA__BETA__GAMMA__V1__OUTER__INIT;
    core.tag = req->tag;
    inner.core = &core;
    inner.depth = 3;
    r.inner = &inner;
    alpha__beta__gamma__v1__nested__wrap_reply(call, &r);
}

typedef struct walk {
    hvrpc_call *call;
    const Alpha__Beta__Gamma__V1__Node *req;
} walk;

/* Runs after the handler returned: reads the whole request chain. */
static void walk_later(void *arg)
{
    walk *w = arg;
    Alpha__Beta__Gamma__V1__Node r = ALPHA__BETA__GAMMA__V1__NODE__INIT;
    for (const Alpha__Beta__Gamma__V1__Node *n = w->req; n; n = n->child)
        r.value += n->value;
    alpha__beta__gamma__v1__nested__walk_reply(w->call, &r);
    free(w);
}

static void walk_handler(hvrpc_call *call,
                         const Alpha__Beta__Gamma__V1__Node *req, void *ud)
{
    walk *w = malloc(sizeof *w);
    hvrpc_status st;
    if (!w) {
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED, NULL);
        return;
    }
    w->call = call;
    w->req = req;
    if (hvrpc_server_schedule(hvrpc_call_server(call), 20, walk_later, w,
                              &st) != HVRPC_OK) {
        free(w);
        hvrpc_call_fail(call, st.code, "%s", st.message);
    }
}

/* --- my_pkg2.v1_0.HTTP2_Service3D -------------------------------------- */

static void get_foo(hvrpc_call *call, const MyPkg2__V10__GetValue *req,
                    void *ud)
{
    MyPkg2__V10__GetValue r = MY_PKG2__V1_0__GET__VALUE__INIT;
    r.v = req->v * 2;
    my_pkg2__v1_0__http2__service3_d__get__foo_reply(call, &r);
}

static void get_bar2(hvrpc_call *call, const MyPkg2__V10__HTTP2FrameX3 *req,
                     void *ud)
{
    uint8_t rev[64];
    size_t n = req->data.len < sizeof rev ? req->data.len : sizeof rev;
    for (size_t i = 0; i < n; i++)
        rev[i] = req->data.data[n - 1 - i];
    MyPkg2__V10__HTTP2FrameX3 r = MY_PKG2__V1_0__HTTP2_FRAME_X3__INIT;
    r.data.data = rev;
    r.data.len = n;
    my_pkg2__v1_0__http2__service3_d__get_bar2_reply(call, &r);
}

static void httpget2_x(hvrpc_call *call, const MyPkg2__V10__GetValue *req,
                       void *ud)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%lld", (long long)req->v);
    MyPkg2__V10__HTTP2FrameX3 r = MY_PKG2__V1_0__HTTP2_FRAME_X3__INIT;
    r.data.data = (uint8_t *)text;
    r.data.len = (size_t)n;
    my_pkg2__v1_0__http2__service3_d__httpget2_x_reply(call, &r);
}

static void leading_under(hvrpc_call *call, const MyPkg2__V10__GetValue *req,
                          void *ud)
{
    MyPkg2__V10__GetValue r = MY_PKG2__V1_0__GET__VALUE__INIT;
    r.v = -req->v;
    my_pkg2__v1_0__http2__service3_d___leading__under_reply(call, &r);
}

/* --- multi.v1 ------------------------------------------------------------ */

static void add(hvrpc_call *call, const Multi__V1__Pair *req, void *ud)
{
    Multi__V1__Sum r = MULTI__V1__SUM__INIT;
    r.value = (int64_t)req->a + req->b;
    multi__v1__alpha__add_reply(call, &r);
}

static void neg(hvrpc_call *call, const Multi__V1__Sum *req, void *ud)
{
    Multi__V1__Sum r = MULTI__V1__SUM__INIT;
    r.value = -req->value;
    multi__v1__beta__neg_reply(call, &r);
}

static void gamma_echo(hvrpc_call *call, const Multi__V1__Sum *req, void *ud)
{
    multi__v1__gamma__echo_reply(call, req);
}

static void delta_echo(hvrpc_call *call, const Multi__V1__Sum *req, void *ud)
{
    Multi__V1__Sum r = MULTI__V1__SUM__INIT;
    r.value = req->value + 1000;
    multi__v1__delta__echo_reply(call, &r);
}

/* --- imp.v1.Importer and other.pkg.ThingStore -------------------------- */

static void now(hvrpc_call *call, const Google__Protobuf__Empty *req, void *ud)
{
    Google__Protobuf__Timestamp r = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    r.seconds = 1700000000;
    r.nanos = 42;
    imp__v1__importer__now_reply(call, &r);
}

static void take(hvrpc_call *call, const Zz__Things__Thing *req, void *ud)
{
    taken *t = ud;
    snprintf(t->name, sizeof t->name, "%s", req->name);
    t->n_parts = req->n_parts;
    Google__Protobuf__Empty r = GOOGLE__PROTOBUF__EMPTY__INIT;
    imp__v1__importer__take_reply(call, &r);
}

static void make(hvrpc_call *call, const Google__Protobuf__Empty *req, void *ud)
{
    Zz__Things__Thing__Part r = ZZ__THINGS__THING__PART__INIT;
    r.id = 7;
    imp__v1__importer__make_reply(call, &r);
}

static void count(hvrpc_call *call, const Zz__Things__Thing *req, void *ud)
{
    Zz__Things__Thing__Part r = ZZ__THINGS__THING__PART__INIT;
    r.id = (int32_t)req->n_parts;
    zz__things__thing_store__count_reply(call, &r);
}

/* --- the server ------------------------------------------------------- */

typedef hvrpc_code (*listen_fn)(hvrpc_server *, hvrpc_endpoint **,
                                hvrpc_status *);

static bool fail(const char *what, const hvrpc_status *st)
{
    fprintf(stderr, "%s: %s: %s\n", what, hvrpc_code_name(st->code),
            st->message);
    return false;
}

static bool listen_on(hvrpc_server *srv, listen_fn fn, hvrpc_endpoint **ep)
{
    hvrpc_status st;
    return fn(srv, ep, &st) == HVRPC_OK || fail("listen", &st);
}

static bool register_all(hvrpc_server *srv, taken *t)
{
    static const plain_handlers plain = {.bump = bump, .idle = idle};
    static const alpha__beta__gamma__v1__nested_handlers nested = {
        .wrap = wrap, .walk = walk_handler};
    static const my_pkg2__v1_0__http2__service3_d_handlers names = {
        .get__foo = get_foo,
        .get_bar2 = get_bar2,
        .httpget2_x = httpget2_x,
        ._leading__under = leading_under};
    static const multi__v1__alpha_handlers alpha = {.add = add};
    static const multi__v1__beta_handlers beta = {.neg = neg};
    static const multi__v1__gamma_handlers gamma = {.echo = gamma_echo};
    static const multi__v1__delta_handlers delta = {.echo = delta_echo};
    static const imp__v1__importer_handlers importer = {
        .now = now, .take = take, .make = make};
    static const zz__things__thing_store_handlers store = {.count = count};
    hvrpc_endpoint *ep[10];
    hvrpc_status st;
    if (!listen_on(srv, plain_listen, &ep[0]) ||
        !listen_on(srv, alpha__beta__gamma__v1__nested_listen, &ep[1]) ||
        !listen_on(srv, my_pkg2__v1_0__http2__service3_d_listen, &ep[2]) ||
        !listen_on(srv, multi__v1__alpha_listen, &ep[3]) ||
        !listen_on(srv, multi__v1__beta_listen, &ep[4]) ||
        !listen_on(srv, multi__v1__gamma_listen, &ep[5]) ||
        !listen_on(srv, multi__v1__delta_listen, &ep[6]) ||
        !listen_on(srv, multi__v1__empty_listen, &ep[7]) ||
        !listen_on(srv, imp__v1__importer_listen, &ep[8]) ||
        !listen_on(srv, zz__things__thing_store_listen, &ep[9]))
        return false;
    if (plain_register(srv, ep[0], &plain, NULL, &st) ||
        alpha__beta__gamma__v1__nested_register(srv, ep[1], &nested, NULL,
                                                &st) ||
        my_pkg2__v1_0__http2__service3_d_register(srv, ep[2], &names, NULL,
                                                  &st) ||
        multi__v1__alpha_register(srv, ep[3], &alpha, NULL, &st) ||
        multi__v1__beta_register(srv, ep[4], &beta, NULL, &st) ||
        multi__v1__gamma_register(srv, ep[5], &gamma, NULL, &st) ||
        multi__v1__delta_register(srv, ep[6], &delta, NULL, &st) ||
        imp__v1__importer_register(srv, ep[8], &importer, t, &st) ||
        zz__things__thing_store_register(srv, ep[9], &store, NULL, &st))
        return fail("register", &st);
    return true;
}

hvrpc_server *test_server_start(taken *t)
{
    hvrpc_server *srv;
    hvrpc_status st;
    if (hvrpc_server_create(NULL, &srv, &st) != HVRPC_OK) {
        fail("hvrpc_server_create", &st);
        return NULL;
    }
    if (!register_all(srv, t)) {
        hvrpc_server_free(srv);
        return NULL;
    }
    if (hvrpc_server_start(srv, &st) != HVRPC_OK) {
        fail("hvrpc_server_start", &st);
        hvrpc_server_free(srv);
        return NULL;
    }
    return srv;
}

hvrpc_client *
test_connect(hvrpc_code (*connect_host)(const hvrpc_client_options *,
                                        hvrpc_client **, hvrpc_status *))
{
    hvrpc_client *c;
    hvrpc_status st;
    if (connect_host(NULL, &c, &st) != HVRPC_OK) {
        fail("connect_host", &st);
        return NULL;
    }
    return c;
}

void test_waiter_init(test_waiter *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

void test_sum_done(const hvrpc_status *st, Multi__V1__Sum *resp, void *arg)
{
    test_waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->st = *st;
    w->value = resp ? resp->value : -1;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (resp)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
}

void test_wait(test_waiter *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}
