/*
 * hvrpc_contract.h - contract tests for hvrpc services (libhvrpc_contract).
 *
 * A contract is a JSON file (docs/CONTRACTS.md has the format) that says
 * what a guest expects of one host service: where the service lives, its
 * schema, and a list of interactions (a method, the request the guest
 * sends, its metadata, the status and response it expects, or for a
 * stream the ordered messages both ways). Expected messages may use
 * matchers ({"$type": "string"}, {"$regex": "..."}, {"$ignore": true},
 * {"$exact": ...}).
 *
 * With a contract, this library
 *   - records one: an observer on a client (hvrpc_client_options.observer)
 *     turns every call the client makes into an interaction;
 *   - verifies a live service against one: every interaction is played
 *     and every difference reported as "PATH: expected X, got Y";
 *   - mocks the service from one, in-process, so guest code is tested
 *     with no host and no VM;
 *   - checks two schemas (descriptor sets, .proto files or contracts) for
 *     changes that break the wire.
 *
 * Not part of libhvrpc: it is built on the JSON transcoder (tools/json,
 * jansson). Errors are status codes with a message, never prints.
 */
#ifndef HVRPC_CONTRACT_H
#define HVRPC_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvrpc/hvrpc.h>

#include "hvrpc_json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The contract format this library writes and the newest it reads (the
 * file's "hvrpcContract" member). */
#define HVRPC_CONTRACT_VERSION 1

typedef struct hvrpc_contract hvrpc_contract;

/* --- loading ----------------------------------------------------------- */

/* Parses a contract from JSON text (len bytes). The schema comes from
 * the contract's embedded descriptor set, or from schema (borrowed: it
 * must outlive the contract) when that is not NULL. INVALID_ARGUMENT
 * naming the place for a malformed contract ("interactions[2].method:
 * ..."); NOT_FOUND when the schema lacks the service or a method;
 * FAILED_PRECONDITION for a newer format version. */
hvrpc_code hvrpc_contract_parse(const char *json, size_t len,
                                const hvrpc_json_pool *schema,
                                hvrpc_contract **out, hvrpc_status *st);

/* Reads and parses the file at path. */
hvrpc_code hvrpc_contract_load(const char *path, const hvrpc_json_pool *schema,
                               hvrpc_contract **out, hvrpc_status *st);

/* c may be NULL. */
void hvrpc_contract_free(hvrpc_contract *c);

/* The service's full name ("demo.v1.Greeter"). */
const char *hvrpc_contract_service(const hvrpc_contract *c);

/* The interactions, in file order: their count, and the i-th one's name
 * (its "name", else "METHOD #i") or NULL when out of range. */
size_t hvrpc_contract_interaction_count(const hvrpc_contract *c);
const char *hvrpc_contract_interaction_name(const hvrpc_contract *c, size_t i);

/* The schema the contract uses (its own or the one given at load). */
const hvrpc_json_pool *hvrpc_contract_schema(const hvrpc_contract *c);

/* The methods of service in schema, in .proto order: their count, and
 * up to max of their names into names (pointers into the schema). */
size_t hvrpc_contract_schema_methods(const hvrpc_json_pool *schema,
                                     const char *service, const char **names,
                                     size_t max);

/* --- verify: a live service against the contract ----------------------- */

/* Plays every interaction against the service through client and
 * compares what comes back. *report (optional; free()) receives the
 * readable result, one line per interaction and one per mismatch:
 *
 *   FAIL 2 greet bob (SayHello)
 *        $.message: expected "Hello, bob", got "Hi, bob"
 *
 * Returns OK when everything matched, FAILED_PRECONDITION ("2 of 5
 * interactions do not match") when something did not; another code when
 * the verification itself could not run (out of memory). A call that
 * fails to connect or times out is a mismatch of its status. */
hvrpc_code hvrpc_contract_verify(const hvrpc_contract *c, hvrpc_client *client,
                                 char **report, hvrpc_status *st);

/* Same, connecting to uri first (opts may be NULL). UNAVAILABLE and no
 * report when the connection fails. */
hvrpc_code hvrpc_contract_verify_uri(const hvrpc_contract *c, const char *uri,
                                     const hvrpc_client_options *opts,
                                     char **report, hvrpc_status *st);

/* --- mock: the service, answered from the contract ----------------------- */

typedef struct hvrpc_contract_mock hvrpc_contract_mock;

/* Starts a server in this process that answers the contract's service
 * from its interactions (and serves hvrpc.reflection.v1.Reflection with
 * the contract's schema). listen_uri NULL: in memory, on a name of its
 * own ("mem://hvrpc-contract-mock-PID-N"): no socket file, reachable by
 * clients of this process only (the guest code under test), released by
 * hvrpc_contract_mock_free(); or any URI (a unix socket, tcp port 0) for
 * clients in other processes. The contract must outlive the mock.
 *
 * A call is answered by the first unused interaction of its method whose
 * request and metadata match (matchers apply), else the last used one
 * that matches (so a contract may answer one request several times, or
 * differently in turn). A call nothing matches fails UNIMPLEMENTED with
 * a message naming the closest interaction and how it differs; the full
 * text is kept (hvrpc_contract_mock_unexpected()). */
hvrpc_code hvrpc_contract_mock_start(const hvrpc_contract *c,
                                     const char *listen_uri,
                                     hvrpc_contract_mock **out,
                                     hvrpc_status *st);

/* The URI the mock listens on (a real port when listen_uri had port 0,
 * the generated name when it was NULL). */
const char *hvrpc_contract_mock_uri(const hvrpc_contract_mock *m);

/* Points generated code at the mock: sets the service's environment
 * variable (HVRPC_<NAME>_ADDR, e.g. HVRPC_DEMO_V1_GREETER_ADDR, as
 * hvrpc_service_info.env_var) to the mock's URI, so
 * P_connect_host() reaches it. */
hvrpc_code hvrpc_contract_mock_setenv(const hvrpc_contract_mock *m,
                                      hvrpc_status *st);

/* Calls that matched no interaction so far, and the i-th one's full
 * description (a copy; free()), or NULL when out of range. */
size_t hvrpc_contract_mock_unexpected_count(hvrpc_contract_mock *m);
char *hvrpc_contract_mock_unexpected(hvrpc_contract_mock *m, size_t i);

/* How many times interaction i was used to answer a call. */
size_t hvrpc_contract_mock_hits(hvrpc_contract_mock *m, size_t i);

/* Stops the server and frees the mock. m may be NULL. */
void hvrpc_contract_mock_free(hvrpc_contract_mock *m);

/* Serves schema's files through hvrpc.reflection.v1.Reflection on ep
 * (before hvrpc_server_start()), so `hvrpc call -d` and `hvrpc list` work
 * against a mock or a recording proxy. *keep holds the descriptor bytes
 * the server points to: free it with hvrpc_contract_schema_files_free()
 * after hvrpc_server_free() (also when this fails). */
typedef struct hvrpc_contract_schema_files hvrpc_contract_schema_files;
hvrpc_code hvrpc_contract_serve_schema(hvrpc_server *srv, hvrpc_endpoint *ep,
                                       const hvrpc_json_pool *schema,
                                       hvrpc_contract_schema_files **keep,
                                       hvrpc_status *st);
void hvrpc_contract_schema_files_free(hvrpc_contract_schema_files *k);

/* --- record: a contract from what a client really did ------------------ */

typedef struct hvrpc_contract_recorder hvrpc_contract_recorder;

/* A recorder of calls to service (NULL: the service of the first call
 * seen) described by schema (borrowed; it must outlive the recorder).
 * NOT_FOUND when the schema has no such service. */
hvrpc_code hvrpc_contract_recorder_create(const hvrpc_json_pool *schema,
                                          const char *service,
                                          hvrpc_contract_recorder **out,
                                          hvrpc_status *st);

/* Sets o->observer so that a client connected with o records every
 * unary call it makes to the service (calls to other services are
 * skipped). Thread-safe. */
void hvrpc_contract_recorder_attach(hvrpc_contract_recorder *r,
                                    hvrpc_client_options *o);

/* Records one call (what the observer does). */
void hvrpc_contract_recorder_add_call(hvrpc_contract_recorder *r,
                                      const hvrpc_call_record *call);

/* Records a streaming call: its messages in the order they passed
 * (to_server true for the guest's), then its end. Used by the recording
 * proxy (`hvrpc contract record`). Thread-safe. */
typedef struct hvrpc_contract_stream_rec hvrpc_contract_stream_rec;
hvrpc_contract_stream_rec *
hvrpc_contract_recorder_stream_begin(hvrpc_contract_recorder *r,
                                     const char *method,
                                     const hvrpc_metadata *md, size_t n_md);
void hvrpc_contract_recorder_stream_message(hvrpc_contract_stream_rec *s,
                                            bool to_server, const uint8_t *data,
                                            size_t len);
void hvrpc_contract_recorder_stream_end(hvrpc_contract_stream_rec *s,
                                        const hvrpc_status *final);

/* The interactions recorded so far, and calls that could not be (another
 * service, bytes that do not decode, out of memory). */
size_t hvrpc_contract_recorder_count(hvrpc_contract_recorder *r);
size_t hvrpc_contract_recorder_skipped(hvrpc_contract_recorder *r);

/* The contract as JSON text (malloc'd; free()), the schema embedded. */
hvrpc_code hvrpc_contract_recorder_json(hvrpc_contract_recorder *r, char **out,
                                        hvrpc_status *st);

/* Writes the contract to path (replacing it). */
hvrpc_code hvrpc_contract_recorder_write(hvrpc_contract_recorder *r,
                                         const char *path, hvrpc_status *st);

/* r may be NULL. A client that had it attached must be freed first. */
void hvrpc_contract_recorder_free(hvrpc_contract_recorder *r);

/* --- check: wire-breaking changes between two schemas ------------------ */

/* Compares service (NULL: every service of old_schema) in two schemas.
 * *report (free()) receives one line per change, "BREAKING: ..." for
 * those that break existing peers on the wire (a removed service or
 * method, a changed endpoint, a changed streaming kind, request or
 * response type, a field's number, type or cardinality changed, a field
 * removed without reserving its number), "ok: ..." for compatible ones
 * worth knowing (a renamed field: same wire, new JSON name). *n_breaking
 * receives their count. OK when the comparison ran (whatever it found);
 * NOT_FOUND when old_schema has no such service. */
hvrpc_code hvrpc_contract_check(const hvrpc_json_pool *old_schema,
                                const hvrpc_json_pool *new_schema,
                                const char *service, char **report,
                                size_t *n_breaking, hvrpc_status *st);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_CONTRACT_H */
