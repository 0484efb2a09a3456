/*
 * print.c - JSON text from a jansson tree: two-space indentation (or
 * compact), numbers formatted as protobuf formats them, optional ANSI
 * colours.
 */
#include <stdio.h>
#include <string.h>

#include "json_internal.h"
#include "print.h"

#define C_KEY    "\033[1;34m"
#define C_STRING "\033[32m"
#define C_NUMBER "\033[36m"
#define C_WORD   "\033[35m"
#define C_RESET  "\033[0m"

static void colour(jbuf *b, unsigned flags, const char *c)
{
    if (flags & HVRPC_JSON_COLOR)
        hvrpc_json__puts(b, c);
}

static void put_string(jbuf *b, const char *s, size_t len)
{
    hvrpc_json__put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        switch (ch) {
        case '"':
            hvrpc_json__puts(b, "\\\"");
            break;
        case '\\':
            hvrpc_json__puts(b, "\\\\");
            break;
        case '\n':
            hvrpc_json__puts(b, "\\n");
            break;
        case '\r':
            hvrpc_json__puts(b, "\\r");
            break;
        case '\t':
            hvrpc_json__puts(b, "\\t");
            break;
        case '\b':
            hvrpc_json__puts(b, "\\b");
            break;
        case '\f':
            hvrpc_json__puts(b, "\\f");
            break;
        default:
            if (ch < 0x20 || ch == 0x7f)
                hvrpc_json__printf(b, "\\u%04x", ch);
            else
                hvrpc_json__put(b, &s[i], 1);
        }
    }
    hvrpc_json__put(b, "\"", 1);
}

static void newline(jbuf *b, unsigned flags, int indent)
{
    if (flags & HVRPC_JSON_COMPACT)
        return;
    hvrpc_json__put(b, "\n", 1);
    for (int i = 0; i < indent; i++)
        hvrpc_json__put(b, "  ", 2);
}

static void print_value(jbuf *b, const json_t *j, unsigned flags, int indent)
{
    char num[40];

    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *v;
        bool first = true;

        if (json_object_size(j) == 0) {
            hvrpc_json__puts(b, "{}");
            return;
        }
        hvrpc_json__put(b, "{", 1);
        json_object_foreach((json_t *)j, key, v)
        {
            if (!first)
                hvrpc_json__put(b, ",", 1);
            first = false;
            newline(b, flags, indent + 1);
            colour(b, flags, C_KEY);
            put_string(b, key, strlen(key));
            colour(b, flags, C_RESET);
            hvrpc_json__puts(b, flags & HVRPC_JSON_COMPACT ? ":" : ": ");
            print_value(b, v, flags, indent + 1);
        }
        newline(b, flags, indent);
        hvrpc_json__put(b, "}", 1);
        return;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;

        if (json_array_size(j) == 0) {
            hvrpc_json__puts(b, "[]");
            return;
        }
        hvrpc_json__put(b, "[", 1);
        json_array_foreach(j, i, v)
        {
            if (i > 0)
                hvrpc_json__put(b, ",", 1);
            newline(b, flags, indent + 1);
            print_value(b, v, flags, indent + 1);
        }
        newline(b, flags, indent);
        hvrpc_json__put(b, "]", 1);
        return;
    }
    case JSON_STRING:
        colour(b, flags, C_STRING);
        put_string(b, json_string_value(j), json_string_length(j));
        colour(b, flags, C_RESET);
        return;
    case JSON_INTEGER:
        colour(b, flags, C_NUMBER);
        hvrpc_json__printf(b, "%lld", (long long)json_integer_value(j));
        colour(b, flags, C_RESET);
        return;
    case JSON_REAL:
        colour(b, flags, C_NUMBER);
        hvrpc_json__format_double(json_real_value(j), num);
        hvrpc_json__puts(b, num);
        colour(b, flags, C_RESET);
        return;
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        colour(b, flags, C_WORD);
        hvrpc_json__puts(b, json_is_true(j)    ? "true"
                            : json_is_false(j) ? "false"
                                               : "null");
        colour(b, flags, C_RESET);
        return;
    }
}

char *hvrpc_json__print(const json_t *j, unsigned flags)
{
    jbuf b = {0};

    print_value(&b, j, flags, 0);
    if (!(flags & HVRPC_JSON_COMPACT))
        hvrpc_json__put(&b, "\n", 1);
    return hvrpc_json__take_text(&b);
}

bool hvrpc_json__print_special(const char *type)
{
    static const char *const special[] = {
        "Timestamp",   "Duration",   "FieldMask",   "Struct",
        "Value",       "ListValue",  "Any",         "DoubleValue",
        "FloatValue",  "Int64Value", "UInt64Value", "Int32Value",
        "UInt32Value", "BoolValue",  "StringValue", "BytesValue",
    };

    if (strncmp(type, "google.protobuf.", 16) != 0)
        return false;
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        if (strcmp(type + 16, special[i]) == 0)
            return true;
    }
    return false;
}
