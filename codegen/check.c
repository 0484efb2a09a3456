/*
 * check.c - the checks over a whole file's model: one endpoint per
 * service, no two definitions with one C name, no C keyword as a handler
 * member. Each failure is a protoc error that says what to rename.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* One C name the compiled file would define, and who needs it. */
typedef struct ident {
    const char *name;
    const char *owner;
    size_t order; /* keeps the report stable: the first owner is named first */
} ident;

typedef struct idents {
    cg_pool *pool;
    ident *v;
    size_t n, cap;
} idents;

static void add(idents *ids, const char *name, const char *owner)
{
    if (!name)
        return; /* a name this kind of method does not define */
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 64;
        ident *v = cg_alloc(ids->pool, cap * sizeof *v);
        if (ids->n)
            memcpy(v, ids->v, ids->n * sizeof *v);
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n] = (ident){name, owner, ids->n};
    ids->n++;
}

static int by_name(const void *a, const void *b)
{
    const ident *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Ours, and the ones protoc-c's output for the same service defines in the
 * header we include: a method whose name ends like one of our suffixes
 * would otherwise clash with it there. */
static void add_service(idents *ids, cg_pool *p, const cg_service *s)
{
    const char *who = cg_printf(p, "service %s", s->full);
    const char *theirs =
        cg_printf(p, "protoc-c's code for service %s", s->full);
    const char *ours[] = {s->m_name,       s->m_port,       s->m_guid,
                          s->m_friendly,   s->info,         s->handlers,
                          s->reg,          s->listen,       s->connect_host,
                          s->registration, s->method_table, s->service_table};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        add(ids, ours[i], who);
    add(ids, cg_printf(p, "%s__init", s->lower), theirs);
    add(ids, cg_printf(p, "%s__descriptor", s->lower), theirs);
    add(ids, cg_printf(p, "%s__BASE_INIT", s->upper), theirs);
    add(ids, cg_printf(p, "%s__INIT", s->upper), theirs);
    add(ids, cg_printf(p, "%s_Service", s->c_type), theirs);
    add(ids, cg_printf(p, "%s_ServiceDestroy", s->c_type), theirs);

    for (size_t i = 0; i < s->n_methods; i++) {
        const cg_method *m = &s->methods[i];
        const char *mwho = cg_printf(p, "rpc %s", m->full);
        const char *mours[] = {m->call,       m->call_async,  m->done,
                               m->reply,      m->async,       m->async_done,
                               m->trampoline, m->open,        m->send,
                               m->recv,       m->server_send, m->server_recv};
        for (size_t j = 0; j < sizeof mours / sizeof mours[0]; j++)
            add(ids, mours[j], mwho);
        add(ids, m->protoc_stub,
            cg_printf(p, "protoc-c's stub for rpc %s", m->full));
    }
}

static bool is_c_keyword(const char *s)
{
    /* Lower-case only: member names are lower-case. C11, and C23's new
     * ones, which a newer compiler would reject as member names. */
    static const char *const kw[] = {
        "alignas",       "alignof",  "auto",
        "bool",          "break",    "case",
        "char",          "const",    "constexpr",
        "continue",      "default",  "do",
        "double",        "else",     "enum",
        "extern",        "false",    "float",
        "for",           "goto",     "if",
        "inline",        "int",      "long",
        "nullptr",       "register", "restrict",
        "return",        "short",    "signed",
        "sizeof",        "static",   "static_assert",
        "struct",        "switch",   "thread_local",
        "true",          "typedef",  "typeof",
        "typeof_unqual", "union",    "unsigned",
        "void",          "volatile", "while"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strcmp(s, kw[i]) == 0)
            return true;
    return false;
}

const char *cg_model_check(cg_pool *p, const cg_file *f)
{
    /* One service per endpoint: each one's listen helper binds it, and a
     * Windows host registers one friendly name per GUID. */
    for (size_t i = 0; i < f->n_services; i++)
        for (size_t j = 0; j < i; j++) {
            const cg_service *a = &f->services[j], *b = &f->services[i];
            if (a->guid && b->guid && strcmp(a->guid, b->guid) == 0)
                return cg_printf(
                    p,
                    "%s: services %s and %s have the same endpoint (vsock port "
                    "%u, GUID %s): give each its own, or set none on %s and "
                    "register it on %s's endpoint",
                    f->name, a->full, b->full, a->vsock_port, a->guid, b->full,
                    a->full);
        }

    for (size_t i = 0; i < f->n_services; i++)
        for (size_t j = 0; j < f->services[i].n_methods; j++) {
            const cg_method *m = &f->services[i].methods[j];
            if (is_c_keyword(m->member))
                return cg_printf(p,
                                 "%s: rpc %s: its C name \"%s\" is a C "
                                 "keyword: rename the method",
                                 f->name, m->full, m->member);
        }

    idents ids = {.pool = p};
    const char *file_who = cg_printf(p, "the descriptor of %s", f->name);
    add(&ids, f->fd, file_who);
    add(&ids, f->fd_len, file_who);
    for (size_t i = 0; i < f->n_services; i++)
        add_service(&ids, p, &f->services[i]);
    qsort(ids.v, ids.n, sizeof *ids.v, by_name);
    for (size_t i = 1; i < ids.n; i++)
        if (strcmp(ids.v[i - 1].name, ids.v[i].name) == 0)
            return cg_printf(p,
                             "%s: %s and %s both need the C name %s: "
                             "rename one",
                             f->name, ids.v[i - 1].owner, ids.v[i].owner,
                             ids.v[i].name);
    return NULL;
}
