/*
 * match.c - comparing what a service sent with what a contract expects:
 * the matchers ($type, $regex, $ignore, $exact) and the readable diff,
 * one line per mismatch with the field's path.
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract_internal.h"

#define PATH_MAX_LEN 512

void contract__mismatch(cdiff *d, const char *path, const char *expected,
                        const char *got)
{
    hvrpc_json__printf(&d->text, "%s%s%s: expected %s, got %s\n",
                       d->indent ? d->indent : "", d->prefix ? d->prefix : "",
                       path, expected, got);
    d->count++;
}

const char *contract__show(const json_t *v, char *buf, size_t size)
{
    char *text;

    if (v == NULL) {
        snprintf(buf, size, "nothing");
        return buf;
    }
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        snprintf(buf, size, "(unprintable)");
        return buf;
    }
    if (strlen(text) > 120 && size > 124)
        snprintf(buf, size, "%.117s...", text);
    else
        snprintf(buf, size, "%s", text);
    free(text);
    return buf;
}

/* --- matchers ---------------------------------------------------------- */

static const char *const matcher_keys[] = {"$type", "$regex", "$ignore",
                                           "$exact", "$value"};

bool contract__is_matcher(const json_t *v)
{
    const char *key;
    json_t *value;
    bool any = false;

    if (!json_is_object(v) || json_object_size(v) == 0)
        return false;
    json_object_foreach((json_t *)v, key, value)
    {
        bool known = false;

        (void)value;
        for (size_t i = 0; i < sizeof(matcher_keys) / sizeof(matcher_keys[0]);
             i++)
            known |= strcmp(key, matcher_keys[i]) == 0;
        if (!known)
            return false;
        any |= strcmp(key, "$value") != 0;
    }
    return any;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static bool valid_type_name(const char *t)
{
    static const char *const names[] = {"object", "array",   "string",
                                        "number", "boolean", "null"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(t, names[i]) == 0)
            return true;
    }
    return false;
}

hvrpc_code contract__check_matchers(const json_t *v, const char *where,
                                    hvrpc_status *st)
{
    char path[PATH_MAX_LEN];
    const char *key;
    json_t *child;
    size_t i;

    if (contract__is_matcher(v)) {
        json_t *t = json_object_get(v, "$type");
        json_t *re = json_object_get(v, "$regex");
        json_t *ig = json_object_get(v, "$ignore");
        regex_t rx;
        int kinds = (t != NULL) + (re != NULL) + (ig != NULL) +
                    (json_object_get(v, "$exact") != NULL);

        if (kinds != 1)
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "%s: a matcher has exactly one of $type, "
                                    "$regex, $ignore, $exact",
                                    where);
        if (t != NULL &&
            (!json_is_string(t) || !valid_type_name(json_string_value(t))))
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "%s: $type is one of object, array, "
                                    "string, number, boolean, null",
                                    where);
        if (ig != NULL && !json_is_true(ig))
            return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                    "%s: $ignore takes true", where);
        if (re != NULL) {
            if (!json_is_string(re))
                return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                        "%s: $regex takes a string", where);
            if (regcomp(&rx, json_string_value(re), REG_EXTENDED | REG_NOSUB) !=
                0)
                return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                        "%s: $regex /%s/ is not a POSIX "
                                        "extended regular expression",
                                        where, json_string_value(re));
            regfree(&rx);
        }
        return HVRPC_OK;
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child)
        {
            hvrpc_code code;

            snprintf(path, sizeof(path), "%s.%s", where, key);
            code = contract__check_matchers(child, path, st);
            if (code != HVRPC_OK)
                return code;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            hvrpc_code code;

            snprintf(path, sizeof(path), "%s[%zu]", where, i);
            code = contract__check_matchers(child, path, st);
            if (code != HVRPC_OK)
                return code;
        }
    }
    return HVRPC_OK;
}

json_t *contract__concrete(const json_t *v)
{
    const char *key;
    json_t *child;
    size_t i;
    json_t *out;

    if (contract__is_matcher(v)) {
        json_t *value = json_object_get(v, "$value");

        if (value == NULL)
            value = json_object_get(v, "$exact");
        return value != NULL ? json_deep_copy(value) : NULL;
    }
    if (json_is_object(v)) {
        out = json_object();
        json_object_foreach((json_t *)v, key, child)
        {
            json_t *c = contract__concrete(child);

            if (c != NULL && out != NULL)
                json_object_set_new(out, key, c);
            else
                json_decref(c);
        }
        return out;
    }
    if (json_is_array(v)) {
        out = json_array();
        json_array_foreach(v, i, child)
        {
            json_t *c = contract__concrete(child);

            if (c != NULL && out != NULL)
                json_array_append_new(out, c);
            else
                json_decref(c);
        }
        return out;
    }
    return json_deep_copy(v);
}

/* --- comparing ----------------------------------------------------------- */

/* Equal scalars: numbers by value (1 and 1.0), and a 64-bit integer
 * written as a string equal to the same number. */
static bool same_value(const json_t *e, const json_t *g)
{
    char buf[32];

    if (json_equal((json_t *)e, (json_t *)g))
        return true;
    if (json_is_number(e) && json_is_number(g))
        return json_number_value(e) == json_number_value(g);
    if (json_is_integer(e) && json_is_string(g)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(e));
        return strcmp(buf, json_string_value(g)) == 0;
    }
    if (json_is_string(e) && json_is_integer(g))
        return same_value(g, e);
    return false;
}

/* A member name as a path step: ".name", or ["odd key"] for map keys
 * that are not identifiers. */
static void push_key(char *path, size_t size, const char *base, const char *key)
{
    bool ident = key[0] != '\0' && !isdigit((unsigned char)key[0]);

    for (const char *k = key; *k != '\0' && ident; k++)
        ident = isalnum((unsigned char)*k) || *k == '_';
    if (ident)
        snprintf(path, size, "%s.%s", base, key);
    else
        snprintf(path, size, "%s[\"%s\"]", base, key);
}

static void match_matcher(const json_t *m, const json_t *g, const char *path,
                          cdiff *d)
{
    char want[200], got[160];
    json_t *t = json_object_get(m, "$type");
    json_t *re = json_object_get(m, "$regex");
    json_t *exact = json_object_get(m, "$exact");

    if (json_object_get(m, "$ignore") != NULL)
        return;
    if (t != NULL) {
        const char *name = json_string_value(t);

        if (g == NULL || name == NULL || strcmp(json_type_name(g), name) != 0) {
            snprintf(want, sizeof(want), "any %s", name ? name : "?");
            contract__mismatch(d, path, want,
                               contract__show(g, got, sizeof(got)));
        }
        return;
    }
    if (re != NULL) {
        regex_t rx;
        bool ok = false;

        if (json_is_string(g) && regcomp(&rx, json_string_value(re),
                                         REG_EXTENDED | REG_NOSUB) == 0) {
            ok = regexec(&rx, json_string_value(g), 0, NULL, 0) == 0;
            regfree(&rx);
        }
        if (!ok) {
            snprintf(want, sizeof(want), "a string matching /%s/",
                     json_string_value(re));
            contract__mismatch(d, path, want,
                               contract__show(g, got, sizeof(got)));
        }
        return;
    }
    if (exact != NULL && (g == NULL || !json_equal(exact, (json_t *)g)) &&
        !(g != NULL && !json_is_object(g) && !json_is_array(g) &&
          same_value(exact, g)))
        contract__mismatch(d, path, contract__show(exact, want, sizeof(want)),
                           contract__show(g, got, sizeof(got)));
}

static void match_at(const json_t *e, const json_t *g, const json_t *gd,
                     bool allow_extra, const char *path, cdiff *d)
{
    char sub[PATH_MAX_LEN], want[160], got[160];
    const char *key;
    json_t *ev, *gv;
    size_t i;

    if (contract__is_matcher(e)) {
        match_matcher(e, g, path, d);
        return;
    }
    if (g == NULL) {
        contract__mismatch(d, path, contract__show(e, want, sizeof(want)),
                           "nothing");
        return;
    }
    if (json_is_object(e)) {
        if (!json_is_object(g)) {
            contract__mismatch(d, path, contract__show(e, want, sizeof(want)),
                               contract__show(g, got, sizeof(got)));
            return;
        }
        json_object_foreach((json_t *)e, key, ev)
        {
            const json_t *gdv =
                json_is_object(gd) ? json_object_get(gd, key) : NULL;

            gv = json_object_get(g, key);
            push_key(sub, sizeof(sub), path, key);
            if (gv == NULL && gdv != NULL)
                match_at(ev, gdv, gdv, allow_extra, sub, d);
            else
                match_at(ev, gv, gdv, allow_extra, sub, d);
        }
        if (allow_extra)
            return;
        json_object_foreach((json_t *)g, key, gv)
        {
            if (json_object_get(e, key) != NULL)
                continue;
            push_key(sub, sizeof(sub), path, key);
            contract__mismatch(d, sub,
                               "nothing (the contract has no such field)",
                               contract__show(gv, got, sizeof(got)));
        }
        return;
    }
    if (json_is_array(e)) {
        size_t ne = json_array_size(e), ng;

        if (!json_is_array(g)) {
            contract__mismatch(d, path, contract__show(e, want, sizeof(want)),
                               contract__show(g, got, sizeof(got)));
            return;
        }
        ng = json_array_size(g);
        if (ne != ng) {
            snprintf(want, sizeof(want), "%zu item%s", ne, ne == 1 ? "" : "s");
            snprintf(got, sizeof(got), "%zu", ng);
            contract__mismatch(d, path, want, got);
        }
        json_array_foreach(e, i, ev)
        {
            if (i >= ng)
                break;
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            match_at(ev, json_array_get(g, i),
                     json_is_array(gd) ? json_array_get(gd, i) : NULL,
                     allow_extra, sub, d);
        }
        return;
    }
    if (json_is_object(g) || json_is_array(g) || !same_value(e, g))
        contract__mismatch(d, path, contract__show(e, want, sizeof(want)),
                           contract__show(g, got, sizeof(got)));
}

void contract__match(const json_t *exp, const json_t *got,
                     const json_t *got_defaults, bool allow_extra,
                     const char *path, cdiff *d)
{
    match_at(exp, got, got_defaults, allow_extra, path, d);
}

void contract__match_metadata(const json_t *exp, const hvrpc_metadata *md,
                              size_t n_md, cdiff *d)
{
    char path[PATH_MAX_LEN];
    const char *key;
    json_t *ev;

    if (!json_is_object(exp))
        return;
    json_object_foreach((json_t *)exp, key, ev)
    {
        json_t *g = NULL;

        for (size_t i = 0; i < n_md && g == NULL; i++) {
            if (strcmp(md[i].key, key) == 0)
                g = json_string(md[i].value);
        }
        snprintf(path, sizeof(path), "metadata[\"%s\"]", key);
        match_at(ev, g, NULL, true, path, d);
        json_decref(g);
    }
}

void contract__match_status(const cinteraction *in, const hvrpc_status *got,
                            cdiff *d)
{
    if (in->code != got->code) {
        char text[HVRPC_STATUS_MESSAGE_MAX + 40];

        if (got->code == HVRPC_OK)
            snprintf(text, sizeof(text), "OK");
        else
            snprintf(text, sizeof(text), "%s (%s)", hvrpc_code_name(got->code),
                     got->message);
        contract__mismatch(d, "status", hvrpc_code_name(in->code), text);
        return;
    }
    if (in->message != NULL) {
        json_t *g = json_string(got->message);

        match_at(in->message, g, NULL, true, "status.message", d);
        json_decref(g);
    }
}

/* --- messages ---------------------------------------------------------- */

hvrpc_code contract__to_tree(const hvrpc_json_pool *p, const char *type,
                             const uint8_t *data, size_t len, json_t **plain,
                             json_t **full, hvrpc_status *st)
{
    char *text = NULL;
    json_error_t err;
    hvrpc_code code;

    *plain = NULL;
    if (full != NULL)
        *full = NULL;
    code = hvrpc_json_from_binary(p, type, data, len, HVRPC_JSON_COMPACT, &text,
                                  st);
    if (code != HVRPC_OK)
        return code;
    *plain = json_loads(text, 0, &err);
    free(text);
    if (*plain == NULL)
        return hvrpc_status_set(st, HVRPC_INTERNAL,
                                "the transcoder's JSON does not parse: %s",
                                err.text);
    if (full == NULL)
        return HVRPC_OK;
    code = hvrpc_json_from_binary(p, type, data, len,
                                  HVRPC_JSON_COMPACT | HVRPC_JSON_EMIT_DEFAULTS,
                                  &text, st);
    if (code != HVRPC_OK)
        return code;
    *full = json_loads(text, 0, &err);
    free(text);
    return HVRPC_OK;
}

hvrpc_code contract__to_bytes(const hvrpc_json_pool *p, const char *type,
                              const json_t *v, hvrpc_buf *out, hvrpc_status *st)
{
    json_t *c = contract__concrete(v);
    char *text = c != NULL ? json_dumps(c, JSON_COMPACT) : strdup("{}");
    hvrpc_code code;

    json_decref(c);
    out->data = NULL;
    out->len = 0;
    if (text == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    code = hvrpc_json_to_binary(p, type, text, strlen(text), out, st);
    free(text);
    return code;
}

hvrpc_code contract__match_bytes(const hvrpc_json_pool *p, const char *type,
                                 const json_t *exp, const uint8_t *data,
                                 size_t len, bool allow_extra, cdiff *d,
                                 hvrpc_status *st)
{
    json_t *plain, *full;
    hvrpc_status why;
    hvrpc_code code =
        contract__to_tree(p, type, data, len, &plain, &full, &why);

    (void)st;
    if (code != HVRPC_OK) {
        char got[HVRPC_STATUS_MESSAGE_MAX + 32];

        snprintf(got, sizeof(got), "bytes that do not decode (%s)",
                 why.message);
        contract__mismatch(d, "$", type, got);
        return HVRPC_OK;
    }
    match_at(exp, plain, full, allow_extra, "$", d);
    json_decref(plain);
    json_decref(full);
    return HVRPC_OK;
}
