/*
 * reflection_service.c - hvrpc.reflection.v1.Reflection on the generated
 * layer: symbols are looked up in the recorded FileDescriptorProtos,
 * decoded per request (a handful of small files; nothing is cached, so
 * nothing needs a lock).
 */
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "reflection_service.h"

typedef Google__Protobuf__FileDescriptorProto file_proto;
typedef Google__Protobuf__DescriptorProto msg_proto;
typedef Google__Protobuf__EnumDescriptorProto enum_proto;

static file_proto *unpack_file(const hvrpc_server *srv, size_t i)
{
    size_t len;
    const uint8_t *data = hvrpc_server_file_descriptor_at(srv, i, &len);

    if (!data)
        return NULL;
    return google__protobuf__file_descriptor_proto__unpack(NULL, len, data);
}

/* True when symbol is `scope.name` (scope may be ""); *rest then points
 * past it: "" for the name itself, ".x" for something inside it. */
static bool starts(const char *symbol, const char *scope, const char *name,
                   const char **rest)
{
    size_t s = strlen(scope);
    size_t n = name ? strlen(name) : 0;

    if (!name)
        return false;
    if (s > 0) {
        if (strncmp(symbol, scope, s) != 0 || symbol[s] != '.')
            return false;
        symbol += s + 1;
    }
    if (strncmp(symbol, name, n) != 0 ||
        (symbol[n] != '\0' && symbol[n] != '.'))
        return false;
    *rest = symbol + n;
    return true;
}

static bool in_enum(const char *symbol, const char *scope, const enum_proto *e)
{
    const char *rest;

    if (starts(symbol, scope, e->name, &rest) && rest[0] == '\0')
        return true;
    for (size_t i = 0; i < e->n_value; i++) /* values: siblings of the enum */
        if (starts(symbol, scope, e->value[i]->name, &rest) && !rest[0])
            return true;
    return false;
}

static bool in_message(const char *symbol, const char *scope,
                       const msg_proto *m)
{
    const char *rest;

    if (!starts(symbol, scope, m->name, &rest))
        return false;
    if (rest[0] == '\0')
        return true;
    rest++; /* past the '.' */
    size_t prefix = (size_t)(rest - 1 - symbol);
    char *inner = malloc(prefix + 1);
    bool found = false;
    if (!inner)
        return false;
    memcpy(inner, symbol, prefix);
    inner[prefix] = '\0';
    for (size_t i = 0; !found && i < m->n_field; i++)
        found = strcmp(rest, m->field[i]->name) == 0;
    for (size_t i = 0; !found && i < m->n_nested_type; i++)
        found = in_message(symbol, inner, m->nested_type[i]);
    for (size_t i = 0; !found && i < m->n_enum_type; i++)
        found = in_enum(symbol, inner, m->enum_type[i]);
    free(inner);
    return found;
}

static bool defines(const file_proto *f, const char *symbol)
{
    const char *pkg = f->package ? f->package : "";
    const char *rest;

    for (size_t i = 0; i < f->n_message_type; i++)
        if (in_message(symbol, pkg, f->message_type[i]))
            return true;
    for (size_t i = 0; i < f->n_enum_type; i++)
        if (in_enum(symbol, pkg, f->enum_type[i]))
            return true;
    for (size_t i = 0; i < f->n_service; i++) {
        const Google__Protobuf__ServiceDescriptorProto *s = f->service[i];

        if (!starts(symbol, pkg, s->name, &rest))
            continue;
        if (rest[0] == '\0')
            return true;
        for (size_t j = 0; j < s->n_method; j++)
            if (strcmp(rest + 1, s->method[j]->name) == 0)
                return true;
    }
    return false;
}

/* The index of the recorded file named name, or -1. */
static long find_file(const hvrpc_server *srv, const char *name)
{
    for (size_t i = 0; i < hvrpc_server_file_descriptor_count(srv); i++) {
        file_proto *f = unpack_file(srv, i);
        bool match = f && f->name && strcmp(f->name, name) == 0;

        if (f)
            protobuf_c_message_free_unpacked(&f->base, NULL);
        if (match)
            return (long)i;
    }
    return -1;
}

/* Adds file i and, recursively, the recorded files it imports to list
 * (each index once). */
static void closure(const hvrpc_server *srv, size_t i, size_t *list, size_t *n)
{
    for (size_t k = 0; k < *n; k++)
        if (list[k] == i)
            return;
    list[(*n)++] = i;
    file_proto *f = unpack_file(srv, i);
    if (!f)
        return;
    for (size_t d = 0; d < f->n_dependency; d++) {
        long j = find_file(srv, f->dependency[d]);
        if (j >= 0)
            closure(srv, (size_t)j, list, n);
    }
    protobuf_c_message_free_unpacked(&f->base, NULL);
}

/* Answers with file i and its imports. */
static void reply_files(hvrpc_call *call, size_t i)
{
    const hvrpc_server *srv = hvrpc_call_server(call);
    size_t count = hvrpc_server_file_descriptor_count(srv);
    size_t *list = calloc(count, sizeof *list);
    ProtobufCBinaryData *blobs = calloc(count, sizeof *blobs);
    size_t n = 0;

    if (!list || !blobs) {
        free(list);
        free(blobs);
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    closure(srv, i, list, &n);
    for (size_t k = 0; k < n; k++)
        blobs[k].data = (uint8_t *)hvrpc_server_file_descriptor_at(
            srv, list[k], &blobs[k].len);
    Hvrpc__Reflection__V1__FileDescriptorResponse resp =
        HVRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
    resp.n_file_descriptor_proto = n;
    resp.file_descriptor_proto = blobs;
    hvrpc__reflection__v1__reflection__file_by_filename_reply(call, &resp);
    free(list);
    free(blobs);
}

static void list_services(hvrpc_call *call,
                          const Hvrpc__Reflection__V1__ListServicesRequest *req,
                          void *user_data)
{
    const hvrpc_endpoint *ep = user_data;
    const hvrpc_server *srv = hvrpc_call_server(call);
    size_t n = hvrpc_endpoint_service_count(ep);
    size_t n_files = hvrpc_server_file_descriptor_count(srv);
    Hvrpc__Reflection__V1__ServiceInfo *infos = calloc(n + 1, sizeof *infos);
    Hvrpc__Reflection__V1__ServiceInfo **ptrs = calloc(n + 1, sizeof *ptrs);
    file_proto **files = calloc(n_files + 1, sizeof *files);

    (void)req;
    if (!infos || !ptrs || !files) {
        free(infos);
        free(ptrs);
        free(files);
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n_files; i++)
        files[i] = unpack_file(srv, i);
    for (size_t i = 0; i < n; i++) {
        const char *name = hvrpc_endpoint_service_name(ep, i);

        hvrpc__reflection__v1__service_info__init(&infos[i]);
        infos[i].name = (char *)name;
        infos[i].file = "";
        for (size_t j = 0; j < n_files; j++) {
            if (files[j] && files[j]->name && defines(files[j], name)) {
                infos[i].file = files[j]->name;
                break;
            }
        }
        ptrs[i] = &infos[i];
    }
    Hvrpc__Reflection__V1__ListServicesResponse resp =
        HVRPC__REFLECTION__V1__LIST_SERVICES_RESPONSE__INIT;
    resp.n_services = n;
    resp.services = ptrs;
    hvrpc__reflection__v1__reflection__list_services_reply(call, &resp);
    for (size_t i = 0; i < n_files; i++)
        if (files[i])
            protobuf_c_message_free_unpacked(&files[i]->base, NULL);
    free(files);
    free(infos);
    free(ptrs);
}

static void
file_by_filename(hvrpc_call *call,
                 const Hvrpc__Reflection__V1__FileByFilenameRequest *req,
                 void *user_data)
{
    const char *name = req->filename ? req->filename : "";
    long i = find_file(hvrpc_call_server(call), name);

    (void)user_data;
    if (i < 0) {
        hvrpc_call_fail(call, HVRPC_NOT_FOUND,
                        "this server has no descriptor for file %s", name);
        return;
    }
    reply_files(call, (size_t)i);
}

static void file_containing_symbol(
    hvrpc_call *call,
    const Hvrpc__Reflection__V1__FileContainingSymbolRequest *req,
    void *user_data)
{
    const hvrpc_server *srv = hvrpc_call_server(call);
    const char *symbol = req->symbol ? req->symbol : "";

    (void)user_data;
    if (symbol[0] == '.')
        symbol++;
    for (size_t i = 0; i < hvrpc_server_file_descriptor_count(srv); i++) {
        file_proto *f = unpack_file(srv, i);
        bool found = f && defines(f, symbol);

        if (f)
            protobuf_c_message_free_unpacked(&f->base, NULL);
        if (found) {
            reply_files(call, i);
            return;
        }
    }
    hvrpc_call_fail(call, HVRPC_NOT_FOUND,
                    "no file this server knows defines %s", symbol);
}

hvrpc_code hvrpc_reflection_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                     hvrpc_status *st)
{
    static const hvrpc__reflection__v1__reflection_handlers handlers = {
        .list_services = list_services,
        .file_by_filename = file_by_filename,
        .file_containing_symbol = file_containing_symbol,
    };
    return hvrpc__reflection__v1__reflection_register(srv, ep, &handlers, ep,
                                                      st);
}
