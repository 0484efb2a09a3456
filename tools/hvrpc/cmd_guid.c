/*
 * cmd_guid.c - `hvrpc guid`: vsock port <-> Hyper-V service GUID, and the
 * GUIDs of the well-known VmIds.
 */
#include <stdio.h>
#include <string.h>

#include <hvrpc/guid.h>

#include "cli.h"

/* The names hvrpc_guid_from_name() knows ("zero" is "wildcard" again),
 * used to say what a non-template GUID is. */
static const char *const vm_id_names[] = {
    "wildcard", "children", "loopback", "parent", "broadcast", "silohost",
};

static const char *vm_id_name_of(const hvrpc_guid *g)
{
    for (size_t i = 0; i < sizeof(vm_id_names) / sizeof(vm_id_names[0]); i++) {
        hvrpc_guid known;

        if (hvrpc_guid_from_name(vm_id_names[i], &known) &&
            hvrpc_guid_equal(g, &known))
            return vm_id_names[i];
    }
    return NULL;
}

static int print_guid(const hvrpc_guid *g)
{
    char text[HVRPC_GUID_STRLEN];

    printf("%s\n", hvrpc_guid_format(g, text));
    return 0;
}

/* A GUID that is not a port: print it canonically, but fail, so a script
 * reading a port from stdout cannot mistake it for one. */
static int report_non_template(const hvrpc_guid *g)
{
    char text[HVRPC_GUID_STRLEN];
    const char *name = vm_id_name_of(g);

    hvrpc_guid_format(g, text);
    printf("%s\n", text);
    if (name != NULL)
        fprintf(stderr,
                "hvrpc: guid: %s is not a VSOCK-template GUID (it is the "
                "VmId '%s')\n",
                text, name);
    else
        fprintf(stderr, "hvrpc: guid: %s is not a VSOCK-template GUID\n", text);
    return 1;
}

static int convert(const char *text)
{
    hvrpc_guid g;
    hvrpc_status st;
    uint32_t port;

    if (cli_is_decimal(text)) {
        g = hvrpc_guid_from_vsock_port(
            cli_parse_u32("guid", "PORT", text, 0, UINT32_MAX));
        return print_guid(&g);
    }
    if (hvrpc_guid_from_name(text, &g))
        return print_guid(&g);
    if (hvrpc_guid_parse(text, &g, &st) != HVRPC_OK)
        cli_usage("guid",
                  "'%s' is not a port, a GUID or a VmId name (as a GUID: %s)",
                  text, st.message);
    if (!hvrpc_guid_to_vsock_port(&g, &port))
        return report_non_template(&g);
    printf("%lu\n", (unsigned long)port);
    return 0;
}

static int run_guid(int argc, char **argv)
{
    char *input;

    if (!cli_args_operand(&cli_verb_guid, argc, argv, &input))
        return 0;
    if (input == NULL)
        cli_usage("guid", "missing PORT, GUID or VmId name");
    return convert(input);
}

const cli_verb cli_verb_guid = {
    "guid",
    "convert a vsock port <-> Hyper-V service GUID; name VmIds",
    "Usage: hvrpc guid PORT|GUID|VMID-NAME\n"
    "\n"
    "Converts between vsock ports and the Hyper-V service GUIDs of the VSOCK\n"
    "template, port P <-> PPPPPPPP-facb-11e6-bd58-64006a7986d3 (P as 8 hex\n"
    "digits), which is how a Linux guest's vsock port is reached from a\n"
    "Windows host; and prints the GUIDs of the well-known VmIds.\n"
    "\n"
    "  PORT       decimal, 0-4294967295: prints its service GUID.\n"
    "  GUID       xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, any case, braces\n"
    "             optional: a template GUID prints its port. Any other GUID\n"
    "             prints its canonical form on stdout, says on stderr that it\n"
    "             is not a VSOCK-template GUID (naming the VmId when it is\n"
    "             one) and exits 1.\n"
    "  VMID-NAME  wildcard, zero, children, loopback, parent, broadcast,\n"
    "             silohost (any case): prints that VmId's GUID.\n"
    "\n"
    "Options:\n"
    "  -h, --help   this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc guid 2761\n"
    "      00000ac9-facb-11e6-bd58-64006a7986d3\n"
    "  hvrpc guid '{00000AC9-FACB-11E6-BD58-64006A7986D3}'\n"
    "      2761\n"
    "  hvrpc guid parent\n"
    "      a42e7cda-d03f-480c-9cc2-a4de20abb878\n"
    "\n"
    "Exit statuses:\n"
    "  0    converted; the result is on stdout\n"
    "  1    a GUID outside the VSOCK template (printed canonically)\n"
    "  64   not a port, GUID or VmId name, or bad arguments\n",
    run_guid,
};
