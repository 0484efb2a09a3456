/*
 * print.h - printing a jansson tree as the transcoder's JSON output.
 */
#ifndef HVRPC_JSON_PRINT_H
#define HVRPC_JSON_PRINT_H

#include <stdbool.h>

#include <jansson.h>

/* The JSON text of j with HVRPC_JSON_* flags (COMPACT, COLOR): numbers as
 * protobuf prints them. malloc'd; NULL when out of memory. */
char *hvrpc_json__print(const json_t *j, unsigned flags);

/* True for the well-known types whose JSON is not an object of their
 * fields (Timestamp, Duration, wrappers, Struct, Value, ...): inside an
 * Any they go under "value". */
bool hvrpc_json__print_special(const char *type);

#endif /* HVRPC_JSON_PRINT_H */
