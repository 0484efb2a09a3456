/*
 * pool.c - the descriptor pool: files, the symbols they define, and the
 * questions the transcoders ask about types and fields.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef _WIN32
#include <spawn.h>
#include <sys/wait.h>
#endif

#include "json_internal.h"

#ifndef _WIN32
extern char **environ;
#endif

typedef Google__Protobuf__FileDescriptorSet jset_proto;

static char *join(const char *scope, const char *name)
{
    size_t a = scope != NULL ? strlen(scope) : 0;
    size_t b = strlen(name);
    char *s = malloc(a + b + 2);

    if (s == NULL)
        return NULL;
    if (a > 0) {
        memcpy(s, scope, a);
        s[a] = '.';
        memcpy(s + a + 1, name, b + 1);
    } else {
        memcpy(s, name, b + 1);
    }
    return s;
}

/* Adds a symbol; takes name. False when out of memory. */
static bool add_sym(hvrpc_json_pool *p, char *name, hvrpc_json_kind kind,
                    size_t file, const void *d, const void *parent)
{
    if (name == NULL)
        return false;
    if (p->n_syms == p->cap_syms) {
        size_t cap = p->cap_syms == 0 ? 64 : p->cap_syms * 2;
        jsym *s = realloc(p->syms, cap * sizeof(*s));

        if (s == NULL) {
            free(name);
            return false;
        }
        p->syms = s;
        p->cap_syms = cap;
    }
    p->syms[p->n_syms++] = (jsym){name, kind, file, d, parent};
    return true;
}

static bool add_enum(hvrpc_json_pool *p, const char *scope,
                     const jenum_proto *e, size_t file)
{
    if (e->name == NULL)
        return true;
    if (!add_sym(p, join(scope, e->name), HVRPC_JSON_ENUM, file, e, NULL))
        return false;
    /* As in C++, enum values are siblings of their enum. */
    for (size_t i = 0; i < e->n_value; i++) {
        if (e->value[i]->name != NULL &&
            !add_sym(p, join(scope, e->value[i]->name), HVRPC_JSON_ENUM_VALUE,
                     file, e->value[i], e))
            return false;
    }
    return true;
}

static bool add_message(hvrpc_json_pool *p, const char *scope,
                        const jmsg_proto *m, size_t file)
{
    char *name;

    if (m->name == NULL)
        return true;
    name = join(scope, m->name);
    if (!add_sym(p, name, HVRPC_JSON_MESSAGE, file, m, NULL))
        return false;
    for (size_t i = 0; i < m->n_field; i++) {
        if (m->field[i]->name != NULL &&
            !add_sym(p, join(name, m->field[i]->name), HVRPC_JSON_FIELD, file,
                     m->field[i], m))
            return false;
    }
    for (size_t i = 0; i < m->n_nested_type; i++) {
        if (!add_message(p, name, m->nested_type[i], file))
            return false;
    }
    for (size_t i = 0; i < m->n_enum_type; i++) {
        if (!add_enum(p, name, m->enum_type[i], file))
            return false;
    }
    return true;
}

static bool index_file(hvrpc_json_pool *p, size_t file)
{
    const jfile_proto *fd = p->files[file].fd;
    const char *pkg =
        fd->package != NULL && fd->package[0] != '\0' ? fd->package : NULL;

    for (size_t i = 0; i < fd->n_message_type; i++) {
        if (!add_message(p, pkg, fd->message_type[i], file))
            return false;
    }
    for (size_t i = 0; i < fd->n_enum_type; i++) {
        if (!add_enum(p, pkg, fd->enum_type[i], file))
            return false;
    }
    for (size_t i = 0; i < fd->n_service; i++) {
        const jservice_proto *s = fd->service[i];
        char *name;

        if (s->name == NULL)
            continue;
        name = join(pkg, s->name);
        if (!add_sym(p, name, HVRPC_JSON_SERVICE, file, s, NULL))
            return false;
        for (size_t j = 0; j < s->n_method; j++) {
            if (s->method[j]->name != NULL &&
                !add_sym(p, join(name, s->method[j]->name), HVRPC_JSON_METHOD,
                         file, s->method[j], s))
                return false;
        }
    }
    return true;
}

hvrpc_code hvrpc_json_pool_create(hvrpc_json_pool **out, hvrpc_status *st)
{
    hvrpc_json_pool *p = calloc(1, sizeof(*p));
    hvrpc_code code;

    *out = NULL;
    if (p == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a descriptor pool");
    code = hvrpc_json_pool_add_set(p, hvrpc_json__wkt_set,
                                   hvrpc_json__wkt_set_len, st);
    if (code != HVRPC_OK) {
        hvrpc_json_pool_free(p);
        return code;
    }
    *out = p;
    return HVRPC_OK;
}

void hvrpc_json_pool_free(hvrpc_json_pool *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_syms; i++)
        free(p->syms[i].name);
    free(p->syms);
    for (size_t i = 0; i < p->n_strings; i++)
        free(p->strings[i]);
    free(p->strings);
    for (size_t i = 0; i < p->n_files; i++)
        protobuf_c_message_free_unpacked(&p->files[i].fd->base, NULL);
    free(p->files);
    free(p);
}

/* Takes fd (frees it on failure). */
static hvrpc_code add_unpacked(hvrpc_json_pool *p, jfile_proto *fd,
                               hvrpc_status *st)
{
    if (fd->name == NULL || fd->name[0] == '\0') {
        protobuf_c_message_free_unpacked(&fd->base, NULL);
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "a file descriptor without a file name");
    }
    if (hvrpc_json_pool_has_file(p, fd->name)) {
        protobuf_c_message_free_unpacked(&fd->base, NULL);
        return HVRPC_OK;
    }
    if (p->n_files == p->cap_files) {
        size_t cap = p->cap_files == 0 ? 16 : p->cap_files * 2;
        jfile *f = realloc(p->files, cap * sizeof(*f));

        if (f == NULL) {
            protobuf_c_message_free_unpacked(&fd->base, NULL);
            return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "out of memory adding %s", fd->name);
        }
        p->files = f;
        p->cap_files = cap;
    }
    p->files[p->n_files].fd = fd;
    p->files[p->n_files].proto3 =
        fd->syntax != NULL && strcmp(fd->syntax, "proto3") == 0;
    p->n_files++;
    if (!index_file(p, p->n_files - 1))
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory indexing %s", fd->name);
    return HVRPC_OK;
}

hvrpc_code hvrpc_json_pool_add_file(hvrpc_json_pool *p, const uint8_t *data,
                                    size_t len, hvrpc_status *st)
{
    jfile_proto *fd =
        google__protobuf__file_descriptor_proto__unpack(NULL, len, data);

    if (fd == NULL)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%zu bytes that are not a "
                                "google.protobuf.FileDescriptorProto",
                                len);
    return add_unpacked(p, fd, st);
}

hvrpc_code hvrpc_json_pool_add_set(hvrpc_json_pool *p, const uint8_t *data,
                                   size_t len, hvrpc_status *st)
{
    jset_proto *set =
        google__protobuf__file_descriptor_set__unpack(NULL, len, data);
    hvrpc_code code = HVRPC_OK;

    if (set == NULL)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%zu bytes that are not a "
                                "google.protobuf.FileDescriptorSet",
                                len);
    for (size_t i = 0; i < set->n_file && code == HVRPC_OK; i++) {
        /* Move the file out of the set: it is freed with the pool. */
        code = add_unpacked(p, set->file[i], st);
        set->file[i] = NULL;
    }
    for (size_t i = 0; i < set->n_file; i++) {
        if (set->file[i] != NULL)
            protobuf_c_message_free_unpacked(&set->file[i]->base, NULL);
    }
    free(set->file);
    set->file = NULL;
    set->n_file = 0;
    protobuf_c_message_free_unpacked(&set->base, NULL);
    return code;
}

#ifndef _WIN32
static bool read_file(const char *path, jbuf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[8192];
    size_t n;

    if (f == NULL)
        return false;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        hvrpc_json__put(out, chunk, n);
    fclose(f);
    return !out->oom;
}

#else
/* Running protoc (posix_spawn) is not ported yet: docs/WINDOWS.md. */
hvrpc_code hvrpc_json_pool_add_proto(hvrpc_json_pool *p, const char *proto_file,
                                     const char *const *import_dirs,
                                     size_t n_dirs, hvrpc_status *st)
{
    (void)p, (void)import_dirs, (void)n_dirs;
    return hvrpc_status_set(st, HVRPC_UNIMPLEMENTED,
                            "%s: --proto (running protoc) is not supported "
                            "on Windows yet; use the server's reflection or "
                            "--protoset FILE (protoc --include_imports "
                            "--descriptor_set_out=FILE)",
                            proto_file);
}
#endif

#ifndef _WIN32
/* True when path lies under dir (both made absolute). */
static bool under(const char *path, const char *dir)
{
    char a[PATH_MAX], b[PATH_MAX];
    size_t n;

    if (realpath(path, a) == NULL || realpath(dir, b) == NULL)
        return false;
    n = strlen(b);
    return strncmp(a, b, n) == 0 && (a[n] == '/' || b[n - 1] == '/');
}

hvrpc_code hvrpc_json_pool_add_proto(hvrpc_json_pool *p, const char *proto_file,
                                     const char *const *import_dirs,
                                     size_t n_dirs, hvrpc_status *st)
{
    static const char *const extra_dirs[] = {
#ifdef HVRPC_JSON_PROTO_DIRS
        HVRPC_JSON_PROTO_DIRS
#endif
    };
    const char *protoc = getenv("HVRPC_PROTOC");
    char tmpl[] = "/tmp/hvrpc-protoset.XXXXXX";
    char errtmpl[] = "/tmp/hvrpc-protoc-err.XXXXXX";
    size_t n_extra = sizeof(extra_dirs) / sizeof(extra_dirs[0]);
    char **argv = calloc(2 * (n_dirs + n_extra) + 8, sizeof(char *));
    char **owned = calloc(n_dirs + n_extra + 3, sizeof(char *));
    size_t argc = 0, n_owned = 0;
    hvrpc_code code = HVRPC_OK;
    bool covered = false;
    int fd = -1, errfd = -1, wstatus = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    jbuf set = {0}, err = {0};

    if (argv == NULL || owned == NULL) {
        free(argv);
        free(owned);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    }
    if (protoc == NULL || protoc[0] == '\0')
        protoc = "protoc";
    argv[argc++] = (char *)protoc;
    for (size_t i = 0; i < n_dirs; i++) {
        if (asprintf(&owned[n_owned], "-I%s", import_dirs[i]) < 0)
            goto oom;
        argv[argc++] = owned[n_owned++];
        covered = covered || under(proto_file, import_dirs[i]);
    }
    if (!covered) { /* as hvrpc_generate(): the file's own directory */
        char *dir = strdup(proto_file);
        char *slash;

        if (dir == NULL)
            goto oom;
        slash = strrchr(dir, '/');
        if (slash != NULL)
            *slash = '\0';
        if (asprintf(&owned[n_owned], "-I%s", slash != NULL ? dir : ".") < 0) {
            free(dir);
            goto oom;
        }
        free(dir);
        argv[argc++] = owned[n_owned++];
    }
    for (size_t i = 0; i < n_extra; i++) {
        struct stat sb;

        if (stat(extra_dirs[i], &sb) != 0)
            continue;
        if (asprintf(&owned[n_owned], "-I%s", extra_dirs[i]) < 0)
            goto oom;
        argv[argc++] = owned[n_owned++];
    }
    fd = mkstemp(tmpl);
    errfd = mkstemp(errtmpl);
    if (fd < 0 || errfd < 0) {
        code = hvrpc_status_set(st, HVRPC_INTERNAL,
                                "cannot create a temporary file: %s",
                                strerror(errno));
        goto done;
    }
    if (asprintf(&owned[n_owned], "--descriptor_set_out=%s", tmpl) < 0)
        goto oom;
    argv[argc++] = owned[n_owned++];
    argv[argc++] = "--include_imports";
    argv[argc++] = (char *)proto_file;
    argv[argc] = NULL;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, errfd, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    errno = posix_spawnp(&pid, protoc, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (errno != 0) {
        code = hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "cannot run %s (%s): install protobuf-compiler "
                                "or set HVRPC_PROTOC",
                                protoc, strerror(errno));
        goto done;
    }
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        char *nl;

        read_file(errtmpl, &err);
        hvrpc_json__put(&err, "", 1);
        if (err.oom || err.len <= 1) {
            code = hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "protoc failed on %s", proto_file);
            goto done;
        }
        nl = strchr((char *)err.data, '\n');
        if (nl != NULL)
            *nl = '\0';
        code = hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT, "protoc: %s",
                                (char *)err.data);
        goto done;
    }
    if (!read_file(tmpl, &set)) {
        code = hvrpc_status_set(st, HVRPC_INTERNAL,
                                "cannot read protoc's descriptor set");
        goto done;
    }
    code = hvrpc_json_pool_add_set(p, set.data, set.len, st);
    goto done;
oom:
    code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
done:
    if (fd >= 0) {
        close(fd);
        unlink(tmpl);
    }
    if (errfd >= 0) {
        close(errfd);
        unlink(errtmpl);
    }
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(argv);
    free(set.data);
    free(err.data);
    return code;
}

#endif /* !_WIN32 */

bool hvrpc_json_pool_has_file(const hvrpc_json_pool *p, const char *name)
{
    for (size_t i = 0; i < p->n_files; i++) {
        if (strcmp(p->files[i].fd->name, name) == 0)
            return true;
    }
    return false;
}

size_t hvrpc_json_pool_file_count(const hvrpc_json_pool *p)
{
    return p->n_files;
}

const char *hvrpc_json_pool_file_name(const hvrpc_json_pool *p, size_t i)
{
    return i < p->n_files ? p->files[i].fd->name : NULL;
}

const jsym *hvrpc_json__find(const hvrpc_json_pool *p, const char *name,
                             hvrpc_json_kind kind)
{
    if (name == NULL)
        return NULL;
    if (name[0] == '.')
        name++;
    for (size_t i = 0; i < p->n_syms; i++) {
        if ((kind == HVRPC_JSON_NONE || p->syms[i].kind == kind) &&
            strcmp(p->syms[i].name, name) == 0)
            return &p->syms[i];
    }
    return NULL;
}

hvrpc_json_kind hvrpc_json_pool_find(const hvrpc_json_pool *p,
                                     const char *symbol, const char **file)
{
    const jsym *s = hvrpc_json__find(p, symbol, HVRPC_JSON_NONE);

    if (s == NULL)
        return HVRPC_JSON_NONE;
    if (file != NULL)
        *file = p->files[s->file].fd->name;
    return s->kind;
}

size_t hvrpc_json_pool_service_count(const hvrpc_json_pool *p)
{
    size_t n = 0;

    for (size_t i = 0; i < p->n_syms; i++)
        n += p->syms[i].kind == HVRPC_JSON_SERVICE;
    return n;
}

const char *hvrpc_json_pool_service_name(const hvrpc_json_pool *p, size_t i)
{
    for (size_t j = 0; j < p->n_syms; j++) {
        if (p->syms[j].kind == HVRPC_JSON_SERVICE && i-- == 0)
            return p->syms[j].name;
    }
    return NULL;
}

hvrpc_code hvrpc_json_pool_method(const hvrpc_json_pool *p, const char *service,
                                  const char *method, hvrpc_json_method *out,
                                  hvrpc_status *st)
{
    const jsym *s = hvrpc_json__find(p, service, HVRPC_JSON_SERVICE);
    const jservice_proto *sd;
    char names[160] = "";
    size_t used = 0;

    if (s == NULL)
        return hvrpc_status_set(st, HVRPC_NOT_FOUND,
                                "no service %s in the schema", service);
    sd = s->d;
    for (size_t i = 0; i < sd->n_method; i++) {
        const jmethod_proto *m = sd->method[i];

        if (m->name != NULL && strcmp(m->name, method) == 0) {
            out->service = s->name;
            out->name = m->name;
            out->input_type =
                m->input_type[0] == '.' ? m->input_type + 1 : m->input_type;
            out->output_type =
                m->output_type[0] == '.' ? m->output_type + 1 : m->output_type;
            out->client_streaming =
                m->has_client_streaming && m->client_streaming;
            out->server_streaming =
                m->has_server_streaming && m->server_streaming;
            return HVRPC_OK;
        }
        if (m->name != NULL && used < sizeof(names)) {
            int n = snprintf(names + used, sizeof(names) - used, "%s%s",
                             used > 0 ? ", " : "", m->name);
            if (n > 0)
                used += (size_t)n;
        }
    }
    return hvrpc_status_set(st, HVRPC_NOT_FOUND,
                            "service %s has no method %s (it has: %s)", s->name,
                            method, used > 0 ? names : "none");
}

/* A NUL-terminated copy of data that lives as long as the pool. */
static char *keep_string(hvrpc_json_pool *p, const uint8_t *data, size_t len)
{
    char *text;
    char **strings;

    strings = realloc(p->strings, (p->n_strings + 1) * sizeof(*strings));
    if (strings == NULL)
        return NULL;
    p->strings = strings;
    text = malloc(len + 1);
    if (text == NULL)
        return NULL;
    memcpy(text, data, len);
    text[len] = '\0';
    p->strings[p->n_strings++] = text;
    return text;
}

/* Reads a varint from an unknown field's bytes. */
static uint64_t unknown_varint(const ProtobufCMessageUnknownField *u)
{
    size_t pos = 0;
    uint64_t v = 0;

    hvrpc_json__get_varint(u->data, u->len, &pos, &v);
    return v;
}

hvrpc_code hvrpc_json_pool_service_options(const hvrpc_json_pool *p,
                                           const char *service,
                                           hvrpc_json_service_options *out,
                                           hvrpc_status *st)
{
    const jsym *s = hvrpc_json__find(p, service, HVRPC_JSON_SERVICE);
    const jservice_proto *sd;

    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return hvrpc_status_set(st, HVRPC_NOT_FOUND,
                                "no service %s in the schema", service);
    sd = s->d;
    if (sd->options == NULL)
        return HVRPC_OK;
    /* protobuf-c keeps extensions as unknown fields; hvrpc/options.proto
     * numbers them 50000 (port), 50001 (GUID), 50002 (friendly name). */
    for (size_t i = 0; i < sd->options->base.n_unknown_fields; i++) {
        ProtobufCMessageUnknownField *u = &sd->options->base.unknown_fields[i];

        if (u->tag == 50000 && u->wire_type == PROTOBUF_C_WIRE_TYPE_VARINT) {
            out->vsock_port = (uint32_t)unknown_varint(u);
        } else if ((u->tag == 50001 || u->tag == 50002) &&
                   u->wire_type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
            /* protobuf-c keeps the length prefix in data, and no NUL:
             * the pool keeps a copy of the string. */
            size_t pos = 0;
            uint64_t n = 0;
            char *text;

            if (!hvrpc_json__get_varint(u->data, u->len, &pos, &n) ||
                n > u->len - pos)
                continue;
            text = keep_string((hvrpc_json_pool *)p, u->data + pos, (size_t)n);

            if (text == NULL)
                return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
            if (u->tag == 50001)
                out->service_guid = text;
            else
                out->friendly_name = text;
        }
    }
    return HVRPC_OK;
}

bool hvrpc_json__type(const hvrpc_json_pool *p, const char *name, jtype *t)
{
    const jsym *s = hvrpc_json__find(p, name, HVRPC_JSON_MESSAGE);

    if (s == NULL)
        return false;
    t->name = s->name;
    t->d = s->d;
    t->proto3 = p->files[s->file].proto3;
    return true;
}

const jenum_proto *hvrpc_json__enum(const hvrpc_json_pool *p, const char *name)
{
    const jsym *s = hvrpc_json__find(p, name, HVRPC_JSON_ENUM);

    return s != NULL ? s->d : NULL;
}

const char *hvrpc_json__json_name(const jfield_proto *f, char *buf)
{
    size_t n = 0;
    bool upper = false;

    if (f->json_name != NULL && f->json_name[0] != '\0')
        return f->json_name;
    for (const char *s = f->name; *s != '\0'; s++) {
        if (*s == '_') {
            upper = true;
            continue;
        }
        buf[n++] = upper ? (char)toupper((unsigned char)*s) : *s;
        upper = false;
    }
    buf[n] = '\0';
    return buf;
}

bool hvrpc_json__has_presence(const jtype *t, const jfield_proto *f)
{
    if (f->label ==
        GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED)
        return false;
    if (!t->proto3 || f->has_oneof_index)
        return true;
    return f->type ==
               GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE ||
           f->type ==
               GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP;
}

bool hvrpc_json__is_map(const hvrpc_json_pool *p, const jfield_proto *f,
                        jtype *entry)
{
    if (f->label !=
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED ||
        f->type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE)
        return false;
    if (!hvrpc_json__type(p, f->type_name, entry))
        return false;
    return entry->d->options != NULL && entry->d->options->has_map_entry &&
           entry->d->options->map_entry;
}

bool hvrpc_json__packable(Google__Protobuf__FieldDescriptorProto__Type type)
{
    return type !=
               GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING &&
           type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES &&
           type !=
               GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE &&
           type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP;
}

bool hvrpc_json__packed(const jtype *t, const jfield_proto *f)
{
    if (f->label !=
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED ||
        !hvrpc_json__packable(f->type))
        return false;
    if (f->options != NULL && f->options->has_packed)
        return f->options->packed;
    return t->proto3;
}

const jfield_proto *hvrpc_json__field_by_number(const jtype *t, uint32_t n)
{
    for (size_t i = 0; i < t->d->n_field; i++) {
        if (t->d->field[i]->number == (int32_t)n)
            return t->d->field[i];
    }
    return NULL;
}

const char *
hvrpc_json__type_name(Google__Protobuf__FieldDescriptorProto__Type type)
{
    static const char *const names[] = {
        "?",        "double",   "float",   "int64",  "uint64",
        "int32",    "fixed64",  "fixed32", "bool",   "string",
        "group",    "message",  "bytes",   "uint32", "enum",
        "sfixed32", "sfixed64", "sint32",  "sint64",
    };
    if ((unsigned)type < sizeof(names) / sizeof(names[0]))
        return names[type];
    return "?";
}

/* Appends ", item" (just item first) to the list in out; *used counts what
 * is written, past size when it was cut. */
static void list_add(char *out, size_t size, size_t *used, const char *item)
{
    int n;

    if (*used >= size)
        return;
    n = snprintf(out + *used, size - *used, "%s%s", *used > 0 ? ", " : "",
                 item);
    if (n > 0)
        *used += (size_t)n;
}

void hvrpc_json__field_names(const jtype *t, bool json_names, char *out,
                             size_t size)
{
    size_t used = 0;

    snprintf(out, size, "none");
    for (size_t i = 0; i < t->d->n_field; i++) {
        const jfield_proto *f = t->d->field[i];
        char buf[256];

        list_add(out, size, &used,
                 json_names && strlen(f->name) < sizeof(buf)
                     ? hvrpc_json__json_name(f, buf)
                     : f->name);
    }
    if (used >= size && size > 4)
        strcpy(out + size - 4, "...");
}

void hvrpc_json__enum_names(const jenum_proto *e, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < e->n_value; i++)
        list_add(out, size, &used, e->value[i]->name);
}
