/*
 * hvrpc/guid.h - GUIDs as Hyper-V uses them: VmIds and service ids.
 *
 * Text form: "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", any case, optionally in
 * braces. The in-memory layout is Windows' GUID (data1..data3 are numbers,
 * data4 raw bytes), so a hvrpc_guid can be copied into a SOCKADDR_HV as is.
 */
#ifndef HVRPC_GUID_H
#define HVRPC_GUID_H

#include <stdbool.h>
#include <stdint.h>

#include "hvrpc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hvrpc_guid {
    uint32_t data1;
    uint16_t data2;
    uint16_t data3;
    uint8_t data4[8];
} hvrpc_guid;

/* Characters of the text form, without braces, plus the NUL. */
#define HVRPC_GUID_STRLEN 37

/* Parses text (36 characters, or 38 with braces) into *out. Anything else,
 * including leading or trailing spaces, is INVALID_ARGUMENT with a message
 * naming the offending position (0-based, counting a '{'); *out is then
 * unchanged. */
HVRPC_API hvrpc_code hvrpc_guid_parse(const char *text, hvrpc_guid *out,
                                      hvrpc_status *st);

/* Writes the lower-case text form without braces into buf, which must hold
 * HVRPC_GUID_STRLEN bytes. Returns buf. */
HVRPC_API char *hvrpc_guid_format(const hvrpc_guid *g,
                                  char buf[HVRPC_GUID_STRLEN]);

HVRPC_API bool hvrpc_guid_equal(const hvrpc_guid *a, const hvrpc_guid *b);

/* The Hyper-V VSOCK template: port P <-> PPPPPPPP-facb-11e6-bd58-64006a7986d3.
 */
HVRPC_API hvrpc_guid hvrpc_guid_from_vsock_port(uint32_t port);

/* True, with *port set, when g follows the VSOCK template. */
HVRPC_API bool hvrpc_guid_to_vsock_port(const hvrpc_guid *g, uint32_t *port);

/* The well-known VmIds of hvsocket.h. */
HVRPC_API extern const hvrpc_guid HVRPC_GUID_ZERO; /* = wildcard */
HVRPC_API extern const hvrpc_guid HVRPC_GUID_BROADCAST;
HVRPC_API extern const hvrpc_guid HVRPC_GUID_CHILDREN;
HVRPC_API extern const hvrpc_guid HVRPC_GUID_LOOPBACK;
HVRPC_API extern const hvrpc_guid HVRPC_GUID_PARENT;
HVRPC_API extern const hvrpc_guid HVRPC_GUID_SILOHOST;

/* Looks up a VmId by name: "wildcard", "zero", "children", "loopback",
 * "parent", "broadcast", "silohost" (any case). False when unknown. */
HVRPC_API bool hvrpc_guid_from_name(const char *name, hvrpc_guid *out);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_GUID_H */
