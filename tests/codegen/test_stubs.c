/*
 * test_stubs.c - the generated code of tests/codegen/protos, compiled and
 * run: every method of every service called through its generated stub
 * (blocking, and asynchronously for some), the server side served through
 * the generated handler tables and listen helpers; the constants checked
 * against the .proto options and against protoc-c's own names.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "test_services.h"

static void free_msg(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* Our prefixes are protoc-c's: its service descriptors (named with the
 * same prefix, else this does not compile) carry the same full names. */
static void test_constants(void)
{
    CHECK_STR(plain__descriptor.name, PLAIN_NAME);
    CHECK_STR(PLAIN_NAME, "Plain");
    CHECK_INT(PLAIN_VSOCK_PORT, 40001);
    CHECK_STR(PLAIN_SERVICE_GUID, "00009c41-facb-11e6-bd58-64006a7986d3");
    CHECK_STR(PLAIN_FRIENDLY_NAME, "Plain");
    CHECK_STR(plain_info.env_var, "HVRPC_PLAIN_ADDR");

    CHECK_STR(alpha__beta__gamma__v1__nested__descriptor.name,
              ALPHA__BETA__GAMMA__V1__NESTED_NAME);
    /* A template GUID written with braces in upper case: normalized, and
     * its port derived. */
    CHECK_INT(ALPHA__BETA__GAMMA__V1__NESTED_VSOCK_PORT, 0xa001);
    CHECK_STR(ALPHA__BETA__GAMMA__V1__NESTED_SERVICE_GUID,
              "0000a001-facb-11e6-bd58-64006a7986d3");

    CHECK_STR(my_pkg2__v1_0__http2__service3_d__descriptor.name,
              "my_pkg2.v1_0.HTTP2_Service3D");
    CHECK_STR(MY_PKG2__V1_0__HTTP2__SERVICE3_D_FRIENDLY_NAME,
              "tricky \"names\" \?\?= \\ service");
    CHECK_STR(my_pkg2__v1_0__http2__service3_d_info.env_var,
              "HVRPC_MY_PKG2_V1_0_HTTP2__SERVICE3_D_ADDR");

    CHECK_STR(multi__v1__alpha_info.friendly_name, "multi alpha");
    CHECK_INT(multi__v1__beta_info.vsock_port, 40011);
    CHECK_STR(multi__v1__beta_info.service_guid,
              "00009c4b-facb-11e6-bd58-64006a7986d3");
    CHECK_INT(MULTI__V1__GAMMA_VSOCK_PORT, 0);
    CHECK_STR(multi__v1__gamma_info.service_guid,
              "6a2ed7b5-5c8e-4b3e-9d1f-0123456789ab");
    CHECK(multi__v1__delta_info.service_guid == NULL);
    CHECK_STR(MULTI__V1__DELTA_SERVICE_GUID, "");
    CHECK_INT(multi__v1__empty_info.vsock_port, 40012);
    CHECK_INT(multi__v1__empty_info.size, sizeof(hvrpc_service_info));

    /* c_package renames the C side only: the wire name is the proto's. */
    CHECK_STR(zz__things__thing_store__descriptor.name,
              ZZ__THINGS__THING_STORE_NAME);
    CHECK_STR(ZZ__THINGS__THING_STORE_NAME, "other.pkg.ThingStore");
    CHECK_STR(zz__things__thing_store_info.env_var,
              "HVRPC_OTHER_PKG_THING_STORE_ADDR");
}

/* The embedded FileDescriptorProto: the file as protoc saw it, options
 * included, source info left out. */
static void test_file_descriptor(void)
{
    Google__Protobuf__FileDescriptorProto *fd =
        google__protobuf__file_descriptor_proto__unpack(
            NULL, deep__nest__nested_proto_file_descriptor_len,
            deep__nest__nested_proto_file_descriptor);
    CHECK(fd != NULL);
    if (!fd)
        return;
    CHECK_STR(fd->name, "deep/nest/nested.proto");
    CHECK_STR(fd->package, "alpha.beta.gamma.v1");
    CHECK(fd->source_code_info == NULL);
    CHECK_INT(fd->n_service, 1);
    CHECK_STR(fd->service[0]->name, "Nested");
    CHECK(fd->service[0]->options &&
          fd->service[0]->options->base.n_unknown_fields == 1);
    CHECK_INT(fd->n_message_type, 2);
    google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
}

static void test_plain(void)
{
    hvrpc_client *c = test_connect(plain_connect_host);
    CHECK(c != NULL);
    if (!c)
        return;
    hvrpc_status st;
    Ping ping = PING__INIT;
    ping.n = 41;
    Pong *pong = NULL;
    CHECK_INT(plain__bump_call(c, &ping, &pong, NULL, &st), HVRPC_OK);
    CHECK(pong && pong->n == 42);
    CHECK_STR(pong ? pong->text : NULL, "bumped");
    free_msg(pong);

    Nothing nothing = NOTHING__INIT, *back = NULL;
    CHECK_INT(plain__idle_call(c, &nothing, &back, NULL, &st), HVRPC_OK);
    CHECK(back != NULL);
    free_msg(back);
    hvrpc_client_free(c);
}

static void test_nested(void)
{
    hvrpc_client *c = test_connect(alpha__beta__gamma__v1__nested_connect_host);
    CHECK(c != NULL);
    if (!c)
        return;
    hvrpc_status st;
    Alpha__Beta__Gamma__V1__Outer__Inner__Core core =
        ALPHA__BETA__GAMMA__V1__OUTER__INNER__CORE__INIT;
    core.tag = "deep";
    Alpha__Beta__Gamma__V1__Outer *outer = NULL;
    CHECK_INT(
        alpha__beta__gamma__v1__nested__wrap_call(c, &core, &outer, NULL, &st),
        HVRPC_OK);
    CHECK(outer && outer->inner && outer->inner->core);
    if (outer && outer->inner && outer->inner->core) {
        CHECK_STR(outer->inner->core->tag, "deep");
        CHECK_INT(outer->inner->depth, 3);
    }
    free_msg(outer);

    /* Walk answers from a scheduled function, after its handler returned. */
    Alpha__Beta__Gamma__V1__Node n[3];
    for (int i = 0; i < 3; i++) {
        alpha__beta__gamma__v1__node__init(&n[i]);
        n[i].value = 10 * (i + 1);
        n[i].child = i < 2 ? &n[i + 1] : NULL;
    }
    Alpha__Beta__Gamma__V1__Node *sum = NULL;
    CHECK_INT(
        alpha__beta__gamma__v1__nested__walk_call(c, &n[0], &sum, NULL, &st),
        HVRPC_OK);
    CHECK(sum && sum->value == 60);
    free_msg(sum);
    hvrpc_client_free(c);
}

static void test_names(void)
{
    hvrpc_client *c =
        test_connect(my_pkg2__v1_0__http2__service3_d_connect_host);
    CHECK(c != NULL);
    if (!c)
        return;
    hvrpc_status st;
    MyPkg2__V10__GetValue v = MY_PKG2__V1_0__GET__VALUE__INIT, *got = NULL;
    v.v = 21;
    CHECK_INT(
        my_pkg2__v1_0__http2__service3_d__get__foo_call(c, &v, &got, NULL, &st),
        HVRPC_OK);
    CHECK(got && got->v == 42);
    free_msg(got);

    got = NULL;
    CHECK_INT(my_pkg2__v1_0__http2__service3_d___leading__under_call(
                  c, &v, &got, NULL, &st),
              HVRPC_OK);
    CHECK(got && got->v == -21);
    free_msg(got);

    MyPkg2__V10__HTTP2FrameX3 f = MY_PKG2__V1_0__HTTP2_FRAME_X3__INIT;
    MyPkg2__V10__HTTP2FrameX3 *frame = NULL;
    f.data.data = (uint8_t *)"abc";
    f.data.len = 3;
    CHECK_INT(my_pkg2__v1_0__http2__service3_d__get_bar2_call(c, &f, &frame,
                                                              NULL, &st),
              HVRPC_OK);
    CHECK(frame && frame->data.len == 3 &&
          memcmp(frame->data.data, "cba", 3) == 0);
    free_msg(frame);

    frame = NULL;
    v.v = -7;
    CHECK_INT(my_pkg2__v1_0__http2__service3_d__httpget2_x_call(c, &v, &frame,
                                                                NULL, &st),
              HVRPC_OK);
    CHECK(frame && frame->data.len == 2 &&
          memcmp(frame->data.data, "-7", 2) == 0);
    free_msg(frame);
    hvrpc_client_free(c);
}

static void test_multi(void)
{
    hvrpc_client *a = test_connect(multi__v1__alpha_connect_host);
    hvrpc_client *b = test_connect(multi__v1__beta_connect_host);
    hvrpc_client *g = test_connect(multi__v1__gamma_connect_host);
    hvrpc_client *d = test_connect(multi__v1__delta_connect_host);
    CHECK(a && b && g && d);
    if (a && b && g && d) {
        hvrpc_status st;
        Multi__V1__Pair pair = MULTI__V1__PAIR__INIT;
        pair.a = 40;
        pair.b = 2;
        Multi__V1__Sum *sum = NULL;
        CHECK_INT(multi__v1__alpha__add_call(a, &pair, &sum, NULL, &st),
                  HVRPC_OK);
        CHECK(sum && sum->value == 42);
        free_msg(sum);

        /* Asynchronously, on Beta and Delta at once. */
        test_waiter wb, wd;
        test_waiter_init(&wb);
        test_waiter_init(&wd);
        Multi__V1__Sum in = MULTI__V1__SUM__INIT;
        in.value = 5;
        CHECK_INT(multi__v1__beta__neg_call_async(b, &in, NULL, test_sum_done,
                                                  &wb, &st),
                  HVRPC_OK);
        CHECK_INT(multi__v1__delta__echo_call_async(d, &in, NULL, test_sum_done,
                                                    &wd, &st),
                  HVRPC_OK);
        test_wait(&wb);
        test_wait(&wd);
        CHECK_INT(wb.st.code, HVRPC_OK);
        CHECK_INT(wb.value, -5);
        CHECK_INT(wd.st.code, HVRPC_OK);
        CHECK_INT(wd.value, 1005);

        sum = NULL;
        CHECK_INT(multi__v1__gamma__echo_call(g, &in, &sum, NULL, &st),
                  HVRPC_OK);
        CHECK(sum && sum->value == 5);
        free_msg(sum);
    }
    hvrpc_client_free(a);
    hvrpc_client_free(b);
    hvrpc_client_free(g);
    hvrpc_client_free(d);

    /* Empty has an endpoint and nothing registered on it. */
    hvrpc_client *e = test_connect(multi__v1__empty_connect_host);
    CHECK(e != NULL);
    if (e) {
        hvrpc_status st;
        CHECK_INT(hvrpc_client_call(e, MULTI__V1__EMPTY_NAME, "Any", NULL, 0,
                                    NULL, NULL, &st),
                  HVRPC_UNIMPLEMENTED);
        hvrpc_client_free(e);
    }
}

static void test_imports(taken *t)
{
    hvrpc_client *c = test_connect(imp__v1__importer_connect_host);
    CHECK(c != NULL);
    if (!c)
        return;
    hvrpc_status st;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    Google__Protobuf__Timestamp *ts = NULL;
    CHECK_INT(imp__v1__importer__now_call(c, &empty, &ts, NULL, &st), HVRPC_OK);
    CHECK(ts && ts->seconds == 1700000000 && ts->nanos == 42);
    free_msg(ts);

    Zz__Things__Thing__Part p1 = ZZ__THINGS__THING__PART__INIT;
    Zz__Things__Thing__Part p2 = ZZ__THINGS__THING__PART__INIT;
    Zz__Things__Thing__Part *parts[] = {&p1, &p2};
    Zz__Things__Thing thing = ZZ__THINGS__THING__INIT;
    thing.name = "widget";
    thing.n_parts = 2;
    thing.parts = parts;
    Google__Protobuf__Empty *none = NULL;
    CHECK_INT(imp__v1__importer__take_call(c, &thing, &none, NULL, &st),
              HVRPC_OK);
    CHECK(none != NULL);
    free_msg(none);
    CHECK_STR(t->name, "widget");
    CHECK_INT(t->n_parts, 2);

    Zz__Things__Thing__Part *part = NULL;
    CHECK_INT(imp__v1__importer__make_call(c, &empty, &part, NULL, &st),
              HVRPC_OK);
    CHECK(part && part->id == 7);
    free_msg(part);
    hvrpc_client_free(c);

    c = test_connect(zz__things__thing_store_connect_host);
    CHECK(c != NULL);
    if (!c)
        return;
    part = NULL;
    CHECK_INT(zz__things__thing_store__count_call(c, &thing, &part, NULL, &st),
              HVRPC_OK);
    CHECK(part && part->id == 2);
    free_msg(part);
    hvrpc_client_free(c);
}

int main(void)
{
    test_constants();
    test_file_descriptor();
    CHECK(test_route_all() != NULL);
    taken t = {{0}, 0};
    hvrpc_server *srv = test_server_start(&t);
    CHECK(srv != NULL);
    if (srv) {
        test_plain();
        test_nested();
        test_names();
        test_multi();
        test_imports(&t);
        hvrpc_server_free(srv);
    }
    test_unroute_all();
    return check_done();
}
