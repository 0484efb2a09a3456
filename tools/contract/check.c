/*
 * check.c - wire-breaking changes between two versions of a service's
 * schema: what an old peer would trip over when it meets the new one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "contract_internal.h"

typedef Google__Protobuf__FieldDescriptorProto__Type ftype;

typedef struct checker {
    const hvrpc_json_pool *old_p, *new_p;
    jbuf out;
    size_t breaking;
    char **seen; /* message types compared already */
    size_t n_seen, cap_seen;
} checker;

#if defined(__GNUC__)
HVRPC_PRINTF(3, 4)
#endif
static void say(checker *k, bool breaking, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    hvrpc_json__printf(&k->out, "%s: %s\n", breaking ? "BREAKING" : "ok", line);
    k->breaking += breaking;
}

/* Which encoding a field type has on the wire: types of one class read
 * each other's bytes (maybe truncated, never misparsed). */
static int wire_class(ftype t)
{
    switch (t) {
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32:
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT64:
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT32:
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_UINT64:
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BOOL:
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM:
        return 1;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT32:
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SINT64:
        return 2;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED32:
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED32:
        return 3;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_FIXED64:
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_SFIXED64:
        return 4;
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING:
    case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES:
        return 5;
    default:
        return 100 + (int)t; /* double, float, message, group: alone */
    }
}

static const char *type_text(const jfield_proto *f)
{
    if (f->type_name != NULL && f->type_name[0] != '\0')
        return f->type_name[0] == '.' ? f->type_name + 1 : f->type_name;
    return hvrpc_json__type_name(f->type);
}

static bool is_repeated(const jfield_proto *f)
{
    return f->label ==
           GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
}

static bool reserved(const jmsg_proto *d, int32_t number)
{
    for (size_t i = 0; i < d->n_reserved_range; i++) {
        const Google__Protobuf__DescriptorProto__ReservedRange *r =
            d->reserved_range[i];

        if (number >= r->start && number < r->end)
            return true;
    }
    return false;
}

static const jfield_proto *field_by_name(const jmsg_proto *d, const char *name)
{
    for (size_t i = 0; i < d->n_field; i++) {
        if (strcmp(d->field[i]->name, name) == 0)
            return d->field[i];
    }
    return NULL;
}

static const jfield_proto *field_by_number(const jmsg_proto *d, int32_t n)
{
    for (size_t i = 0; i < d->n_field; i++) {
        if (d->field[i]->number == n)
            return d->field[i];
    }
    return NULL;
}

/* True the first time a type is met (so recursive types end). */
static bool first_visit(checker *k, const char *name)
{
    for (size_t i = 0; i < k->n_seen; i++) {
        if (strcmp(k->seen[i], name) == 0)
            return false;
    }
    if (k->n_seen == k->cap_seen) {
        size_t cap = k->cap_seen ? 2 * k->cap_seen : 16;
        char **p = realloc(k->seen, cap * sizeof(*p));

        if (p == NULL)
            return false;
        k->seen = p;
        k->cap_seen = cap;
    }
    k->seen[k->n_seen] = strdup(name);
    return k->seen[k->n_seen++] != NULL;
}

static void compare_message(checker *k, const char *name, const char *where);

static void compare_field(checker *k, const char *msg, const jfield_proto *f,
                          const jfield_proto *nf, const char *where)
{
    if (strcmp(f->name, nf->name) != 0)
        say(k, false,
            "%s: field %d renamed %s -> %s (same wire; its JSON name "
            "changes)",
            msg, f->number, f->name, nf->name);
    if (is_repeated(f) != is_repeated(nf)) {
        say(k, true, "%s.%s (%d): cardinality changed %s -> %s%s", msg, f->name,
            f->number, is_repeated(f) ? "repeated" : "singular",
            is_repeated(nf) ? "repeated" : "singular", where);
        return;
    }
    if (wire_class(f->type) != wire_class(nf->type)) {
        say(k, true, "%s.%s (%d): type changed %s -> %s%s", msg, f->name,
            f->number, type_text(f), type_text(nf), where);
        return;
    }
    if (f->type ==
        GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE) {
        if (strcmp(f->type_name, nf->type_name) != 0)
            say(k, true, "%s.%s (%d): type changed %s -> %s%s", msg, f->name,
                f->number, type_text(f), type_text(nf), where);
        else
            compare_message(k, type_text(f), where);
        return;
    }
    if (f->type != nf->type)
        say(k, false,
            "%s.%s (%d): type changed %s -> %s (same wire encoding; values "
            "may be truncated)",
            msg, f->name, f->number, type_text(f), type_text(nf));
}

static void compare_message(checker *k, const char *name, const char *where)
{
    jtype ot, nt;

    if (!first_visit(k, name))
        return;
    if (!hvrpc_json__type(k->old_p, name, &ot))
        return; /* an import the old schema does not carry: nothing to say */
    if (!hvrpc_json__type(k->new_p, name, &nt)) {
        say(k, true, "message %s removed%s", name, where);
        return;
    }
    for (size_t i = 0; i < ot.d->n_field; i++) {
        const jfield_proto *f = ot.d->field[i];
        const jfield_proto *nf = field_by_number(nt.d, f->number);

        if (nf == NULL) {
            const jfield_proto *same = field_by_name(nt.d, f->name);

            if (same != NULL)
                say(k, true, "%s.%s: field number changed %d -> %d%s", name,
                    f->name, f->number, same->number, where);
            else if (reserved(nt.d, f->number))
                say(k, false, "%s.%s (%d) removed, its number reserved", name,
                    f->name, f->number);
            else
                say(k, true,
                    "%s.%s (%d) removed without reserving its number "
                    "(a new field could reuse it)%s",
                    name, f->name, f->number, where);
            continue;
        }
        compare_field(k, name, f, nf, where);
    }
}

static const char *effective_guid(const hvrpc_json_service_options *o,
                                  char *buf, size_t size)
{
    if (o->service_guid != NULL)
        return o->service_guid;
    if (o->vsock_port == 0)
        return "(none)";
    snprintf(buf, size, "%08x-facb-11e6-bd58-64006a7986d3",
             (unsigned)o->vsock_port);
    return buf;
}

static void compare_service(checker *k, const char *service)
{
    const jservice_proto *os = contract__service(k->old_p, service);
    const jservice_proto *ns = contract__service(k->new_p, service);
    hvrpc_json_service_options oo, no;
    char og[64], ng[64], where[600];

    if (ns == NULL) {
        say(k, true, "service %s removed", service);
        return;
    }
    hvrpc_json_pool_service_options(k->old_p, service, &oo, NULL);
    hvrpc_json_pool_service_options(k->new_p, service, &no, NULL);
    if (oo.vsock_port != no.vsock_port)
        say(k, true, "%s: endpoint changed: vsock_port %u -> %u", service,
            (unsigned)oo.vsock_port, (unsigned)no.vsock_port);
    const char *gold = effective_guid(&oo, og, sizeof(og));
    const char *gnew = effective_guid(&no, ng, sizeof(ng));
    if (strcasecmp(gold, gnew) != 0)
        say(k, true, "%s: endpoint changed: service GUID %s -> %s", service,
            gold, gnew);
    for (size_t i = 0; i < os->n_method; i++) {
        const jmethod_proto *om = os->method[i];
        const jmethod_proto *nm = NULL;

        for (size_t j = 0; j < ns->n_method && nm == NULL; j++) {
            if (strcmp(ns->method[j]->name, om->name) == 0)
                nm = ns->method[j];
        }
        if (nm == NULL) {
            say(k, true, "%s/%s removed", service, om->name);
            continue;
        }
        if (om->client_streaming != nm->client_streaming ||
            om->server_streaming != nm->server_streaming) {
            static const char *const kinds[] = {"unary", "client streaming",
                                                "server streaming", "bidi"};
            say(k, true, "%s/%s: kind changed %s -> %s", service, om->name,
                kinds[(om->client_streaming ? 1 : 0) |
                      (om->server_streaming ? 2 : 0)],
                kinds[(nm->client_streaming ? 1 : 0) |
                      (nm->server_streaming ? 2 : 0)]);
        }
        const char *oi = om->input_type + (om->input_type[0] == '.');
        const char *ni = nm->input_type + (nm->input_type[0] == '.');
        const char *oo_t = om->output_type + (om->output_type[0] == '.');
        const char *no_t = nm->output_type + (nm->output_type[0] == '.');

        if (strcmp(oi, ni) != 0) {
            say(k, true, "%s/%s: request type changed %s -> %s", service,
                om->name, oi, ni);
        } else {
            snprintf(where, sizeof(where), " (in %s/%s's request)", service,
                     om->name);
            compare_message(k, oi, where);
        }
        if (strcmp(oo_t, no_t) != 0) {
            say(k, true, "%s/%s: response type changed %s -> %s", service,
                om->name, oo_t, no_t);
        } else {
            snprintf(where, sizeof(where), " (in %s/%s's response)", service,
                     om->name);
            compare_message(k, oo_t, where);
        }
    }
    for (size_t j = 0; j < ns->n_method; j++) {
        bool found = false;

        for (size_t i = 0; i < os->n_method && !found; i++)
            found = strcmp(ns->method[j]->name, os->method[i]->name) == 0;
        if (!found)
            say(k, false, "%s/%s added", service, ns->method[j]->name);
    }
}

hvrpc_code hvrpc_contract_check(const hvrpc_json_pool *old_schema,
                                const hvrpc_json_pool *new_schema,
                                const char *service, char **report,
                                size_t *n_breaking, hvrpc_status *st)
{
    checker k = {.old_p = old_schema, .new_p = new_schema};
    size_t compared = 0;

    *report = NULL;
    *n_breaking = 0;
    if (service != NULL) {
        if (contract__service(old_schema, service) == NULL)
            return hvrpc_status_set(st, HVRPC_NOT_FOUND,
                                    "the old schema has no service %s",
                                    service);
        compare_service(&k, service);
        compared = 1;
    } else {
        for (size_t i = 0; i < hvrpc_json_pool_service_count(old_schema); i++) {
            compare_service(&k, hvrpc_json_pool_service_name(old_schema, i));
            compared++;
        }
    }
    hvrpc_json__printf(
        &k.out, "%zu service%s compared: %zu breaking change%s\n", compared,
        compared == 1 ? "" : "s", k.breaking, k.breaking == 1 ? "" : "s");
    for (size_t i = 0; i < k.n_seen; i++)
        free(k.seen[i]);
    free(k.seen);
    if (k.out.oom) {
        free(k.out.data);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    }
    *report = hvrpc_json__take_text(&k.out);
    *n_breaking = k.breaking;
    return HVRPC_OK;
}
