/*
 * test_contract.c - the contract library (tools/contract) in-process:
 * recording a client's calls against the real echo service, verifying
 * that service (passing, and failing with every matcher kind, the diff
 * text asserted), the mock answering guest code written on the generated
 * echo stubs, and an unexpected call's error.
 *
 * Usage: test_contract ECHO_PROTO PROTO_DIR (protoc from HVRPC_PROTOC).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "echo_service.h"
#include "hvrpc_contract.h"

static hvrpc_json_pool *pool;

/* A contract of hvrpc.echo.v1.Echo from its interactions' JSON. */
static hvrpc_contract *make(const char *interactions, bool allow_extra)
{
    char text[8192];
    hvrpc_contract *c = NULL;
    hvrpc_status st;

    snprintf(text, sizeof(text),
             "{\"hvrpcContract\": 1, \"service\": \"hvrpc.echo.v1.Echo\", "
             "\"allowExtraFields\": %s, \"interactions\": [%s]}",
             allow_extra ? "true" : "false", interactions);
    if (hvrpc_contract_parse(text, strlen(text), pool, &c, &st) != HVRPC_OK)
        fprintf(stderr, "parse: %s\n", st.message);
    CHECK(c != NULL);
    return c;
}

/* Verifies c against uri; returns the report (free()). */
static char *verify(const hvrpc_contract *c, const char *uri, hvrpc_code want)
{
    char *report = NULL;
    hvrpc_status st;

    CHECK_INT(hvrpc_contract_verify_uri(c, uri, NULL, &report, &st), want);
    CHECK(report != NULL);
    return report;
}

static void test_record(const char *uri)
{
    hvrpc_contract_recorder *rec;
    hvrpc_client_options o;
    hvrpc_client *client;
    hvrpc_status st;
    char *json = NULL;

    CHECK_INT(
        hvrpc_contract_recorder_create(pool, "hvrpc.echo.v1.Echo", &rec, &st),
        HVRPC_OK);
    hvrpc_client_options_init(&o);
    hvrpc_contract_recorder_attach(rec, &o);
    CHECK_INT(hvrpc_client_connect(uri, &o, &client, &st), HVRPC_OK);

    /* Guest code on the generated stubs, recorded as it runs. */
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    Hvrpc__Echo__V1__EchoResponse *resp = NULL;
    hvrpc_metadata md[] = {{"trace", "42"}};
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    co.metadata = md;
    co.n_metadata = 1;
    req.payload.data = (uint8_t *)"hi";
    req.payload.len = 2;
    CHECK_INT(hvrpc__echo__v1__echo__echo_call(client, &req, &resp, &co, &st),
              HVRPC_OK);
    if (resp != NULL)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    req.fail_code = HVRPC_NOT_FOUND;
    req.fail_message = "no such greeting";
    CHECK_INT(hvrpc__echo__v1__echo__echo_call(client, &req, &resp, NULL, &st),
              HVRPC_NOT_FOUND);
    hvrpc_client_free(client);

    CHECK_INT(hvrpc_contract_recorder_count(rec), 2);
    CHECK_INT(hvrpc_contract_recorder_skipped(rec), 0);
    CHECK_INT(hvrpc_contract_recorder_json(rec, &json, &st), HVRPC_OK);
    CHECK_CONTAINS(json, "\"hvrpcContract\": 1");
    CHECK_CONTAINS(json, "\"vsockPort\": 5000");
    CHECK_CONTAINS(json, "\"trace\": \"42\"");
    CHECK_CONTAINS(json, "\"payload\": \"aGk=\"");
    CHECK_CONTAINS(json, "\"code\": \"NOT_FOUND\"");
    CHECK_CONTAINS(json, "\"message\": \"no such greeting\"");
    CHECK_CONTAINS(json, "\"descriptorSet\"");

    /* The recording reads back (its own embedded schema) and, with the
     * volatile peer made a matcher, verifies against the service. */
    json_t *root = json_loads(json, 0, NULL);
    json_t *resp0 = json_object_get(
        json_array_get(json_object_get(root, "interactions"), 0), "response");
    json_object_set_new(resp0, "peer",
                        json_pack("{s:s}", "$regex", "^unix:uid=[0-9]+"));
    char *edited = json_dumps(root, 0);
    hvrpc_contract *c = NULL;
    CHECK_INT(hvrpc_contract_parse(edited, strlen(edited), NULL, &c, &st),
              HVRPC_OK);
    if (c != NULL) {
        CHECK_INT(hvrpc_contract_interaction_count(c), 2);
        char *report = verify(c, uri, HVRPC_OK);
        CHECK_CONTAINS(report, "ok   1 Echo #1 (Echo)");
        CHECK_CONTAINS(report, "ok   2 Echo #2 (Echo)");
        free(report);
    }
    hvrpc_contract_free(c);
    free(edited);
    json_decref(root);
    free(json);
    hvrpc_contract_recorder_free(rec);
}

static void test_verify_matchers(const char *uri)
{
    /* Passing: every matcher kind where it fits. */
    hvrpc_contract *c = make(
        "{\"name\": \"matchers pass\", \"method\": \"Echo\", "
        "\"metadata\": {\"trace\": \"7\"}, "
        "\"request\": {\"payload\": \"aGk=\"}, "
        "\"response\": {\"payload\": {\"$exact\": \"aGk=\"}, "
        "\"metadata\": {\"trace\": {\"$type\": \"string\"}}, "
        "\"peer\": {\"$regex\": \"^unix:\"}}},"
        "{\"name\": \"ignored\", \"method\": \"Echo\", "
        "\"request\": {\"payload\": \"aGk=\"}, "
        "\"response\": {\"payload\": \"aGk=\", \"peer\": {\"$ignore\": true}}},"
        "{\"name\": \"defaults\", \"method\": \"Echo\", \"request\": {}, "
        "\"response\": {\"payload\": \"\", \"peer\": {\"$ignore\": true}}},"
        "{\"name\": \"failure\", \"method\": \"Echo\", "
        "\"request\": {\"failCode\": 5, \"failMessage\": \"gone\"}, "
        "\"status\": {\"code\": \"NOT_FOUND\", \"message\": {\"$regex\": "
        "\"^go\"}}}",
        false);
    char *report = verify(c, uri, HVRPC_OK);
    CHECK_CONTAINS(report, "4 interactions of hvrpc.echo.v1.Echo: 4 ok, 0 "
                           "failed");
    free(report);
    hvrpc_contract_free(c);

    /* Failing: each kind, and the diff says where, what and what came. */
    c = make("{\"name\": \"exact\", \"method\": \"Echo\", "
             "\"request\": {\"payload\": \"aGk=\"}, "
             "\"response\": {\"payload\": \"aG8=\", \"peer\": {\"$ignore\": "
             "true}}},"
             "{\"name\": \"type\", \"method\": \"Echo\", "
             "\"request\": {\"payload\": \"aGk=\"}, "
             "\"response\": {\"payload\": {\"$type\": \"number\"}, "
             "\"peer\": {\"$ignore\": true}}},"
             "{\"name\": \"regex\", \"method\": \"Echo\", "
             "\"request\": {\"payload\": \"aGk=\"}, "
             "\"response\": {\"payload\": \"aGk=\", \"peer\": {\"$regex\": "
             "\"^vsock:\"}}},"
             "{\"name\": \"missing and extra\", \"method\": \"Echo\", "
             "\"request\": {\"payload\": \"aGk=\"}, "
             "\"response\": {\"payload\": \"aGk=\", \"metadata\": {\"a\": "
             "\"b\"}}},"
             "{\"name\": \"status\", \"method\": \"Echo\", "
             "\"request\": {\"failCode\": 9, \"failMessage\": \"not now\"}, "
             "\"response\": {}},"
             "{\"name\": \"status message\", \"method\": \"Echo\", "
             "\"request\": {\"failCode\": 9, \"failMessage\": \"not now\"}, "
             "\"status\": {\"code\": \"FAILED_PRECONDITION\", \"message\": "
             "\"later\"}}",
             false);
    report = verify(c, uri, HVRPC_FAILED_PRECONDITION);
    CHECK_CONTAINS(report, "FAIL 1 exact (Echo)\n"
                           "     $.payload: expected \"aG8=\", got \"aGk=\"\n");
    CHECK_CONTAINS(report, "FAIL 2 type (Echo)\n"
                           "     $.payload: expected any number, got "
                           "\"aGk=\"\n");
    CHECK_CONTAINS(report, "FAIL 3 regex (Echo)\n"
                           "     $.peer: expected a string matching "
                           "/^vsock:/, got \"unix:uid=");
    CHECK_CONTAINS(report, "FAIL 4 missing and extra (Echo)\n"
                           "     $.metadata.a: expected \"b\", got nothing\n");
    CHECK_CONTAINS(report, "     $.peer: expected nothing (the contract has "
                           "no such field), got \"unix:");
    CHECK_CONTAINS(report, "FAIL 5 status (Echo)\n"
                           "     status: expected OK, got "
                           "FAILED_PRECONDITION (not now)\n");
    CHECK_CONTAINS(report, "FAIL 6 status message (Echo)\n"
                           "     status.message: expected \"later\", got "
                           "\"not now\"\n");
    CHECK_CONTAINS(report, "6 interactions of hvrpc.echo.v1.Echo: 0 ok, 6 "
                           "failed");
    free(report);
    hvrpc_contract_free(c);

    /* allowExtraFields: fields the contract leaves out are fine. */
    c = make("{\"method\": \"Echo\", \"request\": {\"payload\": \"aGk=\"}, "
             "\"response\": {\"payload\": \"aGk=\"}}",
             true);
    report = verify(c, uri, HVRPC_OK);
    free(report);
    hvrpc_contract_free(c);

    /* Malformed contracts say where. */
    hvrpc_contract *bad = NULL;
    hvrpc_status st;
    const char *text =
        "{\"hvrpcContract\": 1, \"service\": \"hvrpc.echo.v1.Echo\", "
        "\"interactions\": [{\"method\": \"Nope\"}]}";
    CHECK_INT(hvrpc_contract_parse(text, strlen(text), pool, &bad, &st),
              HVRPC_NOT_FOUND);
    CHECK_CONTAINS(st.message, "interactions[0]");
    text = "{\"hvrpcContract\": 1, \"service\": \"hvrpc.echo.v1.Echo\", "
           "\"interactions\": [{\"method\": \"Echo\", \"response\": "
           "{\"peer\": {\"$regex\": \"(\"}}}]}";
    CHECK_INT(hvrpc_contract_parse(text, strlen(text), pool, &bad, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "response.peer: $regex /(/");
    text = "{\"hvrpcContract\": 2, \"service\": \"x\", \"interactions\": []}";
    CHECK_INT(hvrpc_contract_parse(text, strlen(text), pool, &bad, &st),
              HVRPC_FAILED_PRECONDITION);
}

static void test_mock(void)
{
    hvrpc_contract *c =
        make("{\"name\": \"greet\", \"method\": \"Echo\", "
             "\"metadata\": {\"trace\": \"42\"}, "
             "\"request\": {\"payload\": \"aGk=\"}, "
             "\"response\": {\"payload\": \"aGVsbG8=\", \"peer\": \"host\"}},"
             "{\"name\": \"refuse\", \"method\": \"Echo\", "
             "\"request\": {\"payload\": \"Ynll\"}, "
             "\"status\": {\"code\": \"PERMISSION_DENIED\", \"message\": "
             "\"not you\"}}",
             false);
    hvrpc_contract_mock *m = NULL;
    hvrpc_status st;

    CHECK_INT(hvrpc_contract_mock_start(c, NULL, &m, &st), HVRPC_OK);
    if (m == NULL) {
        hvrpc_contract_free(c);
        return;
    }
    /* In memory by default: no socket file, only this process. */
    CHECK(strncmp(hvrpc_contract_mock_uri(m), "mem://hvrpc-contract-mock-",
                  26) == 0);
    CHECK_INT(hvrpc_contract_mock_setenv(m, &st), HVRPC_OK);
    CHECK_STR(getenv("HVRPC_HVRPC_ECHO_V1_ECHO_ADDR"),
              hvrpc_contract_mock_uri(m));

    /* Guest code, unchanged: it connects to "its host" and calls. */
    hvrpc_client *client = NULL;
    CHECK_INT(hvrpc__echo__v1__echo_connect_host(NULL, &client, &st), HVRPC_OK);
    Hvrpc__Echo__V1__EchoRequest req = HVRPC__ECHO__V1__ECHO_REQUEST__INIT;
    Hvrpc__Echo__V1__EchoResponse *resp = NULL;
    hvrpc_metadata md[] = {{"trace", "42"}};
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    co.metadata = md;
    co.n_metadata = 1;
    req.payload.data = (uint8_t *)"hi";
    req.payload.len = 2;
    CHECK_INT(hvrpc__echo__v1__echo__echo_call(client, &req, &resp, &co, &st),
              HVRPC_OK);
    if (resp != NULL) {
        CHECK_INT(resp->payload.len, 5);
        CHECK(memcmp(resp->payload.data, "hello", 5) == 0);
        CHECK_STR(resp->peer, "host");
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    /* Answered again (the last matching interaction). */
    CHECK_INT(hvrpc__echo__v1__echo__echo_call(client, &req, &resp, &co, &st),
              HVRPC_OK);
    if (resp != NULL)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    req.payload.data = (uint8_t *)"bye";
    req.payload.len = 3;
    CHECK_INT(hvrpc__echo__v1__echo__echo_call(client, &req, &resp, NULL, &st),
              HVRPC_PERMISSION_DENIED);
    CHECK_STR(st.message, "not you");

    /* Unexpected: the error names the closest interaction and the diff. */
    req.payload.data = (uint8_t *)"hj";
    req.payload.len = 2;
    CHECK_INT(hvrpc__echo__v1__echo__echo_call(client, &req, &resp, &co, &st),
              HVRPC_UNIMPLEMENTED);
    CHECK_CONTAINS(st.message,
                   "contract: unexpected call hvrpc.echo.v1.Echo/Echo with "
                   "{\"payload\":\"aGo=\"}: no interaction matches; closest "
                   "is 1 \"greet\", which differs: $.payload: expected "
                   "\"aGk=\", got \"aGo=\"");
    CHECK_INT(hvrpc_contract_mock_unexpected_count(m), 1);
    char *full = hvrpc_contract_mock_unexpected(m, 0);
    CHECK_CONTAINS(full, "which differs:\n  $.payload: expected \"aGk=\", got "
                         "\"aGo=\"");
    free(full);
    /* A method the contract has no interaction of: named by the closest
     * method (the raw client reaches a name the service lacks). */
    CHECK_INT(hvrpc_client_call(client, "hvrpc.echo.v1.Echo", "Ecko", "", 0,
                                NULL, NULL, &st),
              HVRPC_UNIMPLEMENTED);
    CHECK_INT(hvrpc_contract_mock_hits(m, 0), 2);
    CHECK_INT(hvrpc_contract_mock_hits(m, 1), 1);
    hvrpc_client_free(client);
    hvrpc_contract_mock_free(m);
    hvrpc_contract_free(c);
}

int main(int argc, char **argv)
{
    hvrpc_server *srv;
    hvrpc_endpoint *ep;
    hvrpc_status st;
    char dir[] = "/tmp/hvrpc-contract-test.XXXXXX";
    char uri[128];
    const char *dirs[1];

    if (argc != 3) {
        fprintf(stderr, "usage: %s ECHO_PROTO PROTO_DIR\n", argv[0]);
        return 2;
    }
    dirs[0] = argv[2];
    CHECK_INT(hvrpc_json_pool_create(&pool, &st), HVRPC_OK);
    if (hvrpc_json_pool_add_proto(pool, argv[1], dirs, 1, &st) != HVRPC_OK) {
        fprintf(stderr, "protoc: %s\n", st.message);
        return 1;
    }
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(uri, sizeof(uri), "unix://%s/echo.sock", dir);

    /* The real service, in this process. */
    CHECK_INT(hvrpc_server_create(NULL, &srv, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_listen(srv, uri, &ep, &st), HVRPC_OK);
    CHECK_INT(hvrpc_echo_service_register(srv, ep, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_start(srv, &st), HVRPC_OK);

    test_record(uri);
    test_verify_matchers(uri);
    test_mock();

    hvrpc_server_free(srv);
    rmdir(dir);
    hvrpc_json_pool_free(pool);
    return check_done();
}
