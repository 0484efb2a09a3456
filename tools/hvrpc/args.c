/*
 * args.c - argument parsing shared by every verb of `hvrpc`.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hvrpc/address.h>
#include <hvrpc/status.h>

#include "cli.h"

#if defined(__GNUC__)
HVRPC_PRINTF(2, 0)
#endif
static void print_usage_error(const char *verb, const char *fmt, va_list ap)
{
    fputs("hvrpc: ", stderr);
    if (verb != NULL)
        fprintf(stderr, "%s: ", verb);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_usage_error(verb, fmt, ap);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

void cli_usage(const char *verb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_usage_error(verb, fmt, ap);
    va_end(ap);
    exit(CLI_EXIT_USAGE);
}

int cli_out_of_memory(const char *verb)
{
    fprintf(stderr, "hvrpc: %s: out of memory\n", verb);
    return HVRPC_RESOURCE_EXHAUSTED;
}

void cli_args_init(cli_args *a, const char *verb, int argc, char **argv)
{
    a->verb = verb;
    a->argc = argc;
    a->argv = argv;
    a->next = 1;
    a->options_done = false;
}

char *cli_args_next(cli_args *a, bool *is_option)
{
    while (a->next < a->argc) {
        char *arg = a->argv[a->next++];

        if (!a->options_done && strcmp(arg, "--") == 0) {
            a->options_done = true;
            continue;
        }
        *is_option = !a->options_done && arg[0] == '-' && arg[1] != '\0';
        return arg;
    }
    return NULL;
}

/* Where the value starts when arg spells option `name` with an attached
 * value ("--name=VALUE", "-nVALUE"); "" when arg is exactly `name`; NULL
 * when arg is another option. */
static char *attached_value(char *arg, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '\0')
        return arg + n;
    if (name[1] == '-')
        return arg[n] == '=' ? arg + n + 1 : NULL;
    return arg + n; /* short option: "-Hkey:value" */
}

bool cli_args_value(cli_args *a, char *arg, const char *name, char **value)
{
    char *v = attached_value(arg, name);

    if (v == NULL)
        return false;
    if (strcmp(arg, name) != 0) { /* value attached to the option */
        *value = v;
        return true;
    }
    if (a->next >= a->argc)
        cli_usage(a->verb, "option '%s' needs a value", name);
    *value = a->argv[a->next++];
    return true;
}

bool cli_args_flag(const cli_args *a, char *arg, const char *name)
{
    char *v = attached_value(arg, name);

    if (v == NULL)
        return false;
    if (*v != '\0')
        cli_usage(a->verb, "option '%s' takes no value", name);
    return true;
}

bool cli_args_is_help(const cli_args *a, char *arg)
{
    return cli_args_flag(a, arg, "--help") || strcmp(arg, "-h") == 0;
}

void cli_args_unknown(const cli_args *a, const char *arg)
{
    cli_usage(a->verb, "unknown option '%s' (see 'hvrpc help %s')", arg,
              a->verb);
}

bool cli_args_operand(const cli_verb *v, int argc, char **argv, char **operand)
{
    cli_args a;
    char *arg;
    bool is_option;

    *operand = NULL;
    cli_args_init(&a, v->name, argc, argv);
    while ((arg = cli_args_next(&a, &is_option)) != NULL) {
        if (is_option && cli_args_is_help(&a, arg)) {
            cli_print_help(v);
            return false;
        }
        if (is_option)
            cli_args_unknown(&a, arg);
        if (*operand != NULL)
            cli_usage(v->name, "unexpected argument '%s'", arg);
        *operand = arg;
    }
    return true;
}

const char *cli_check_address(const char *verb, const char *uri)
{
    hvrpc_address addr;
    hvrpc_status st;

    if (hvrpc_address_parse(uri, &addr, &st) != HVRPC_OK)
        cli_usage(verb, "%s", st.message);
    return uri;
}

bool cli_is_decimal(const char *text)
{
    if (*text == '\0')
        return false;
    for (; *text != '\0'; text++) {
        if (*text < '0' || *text > '9')
            return false;
    }
    return true;
}

uint32_t cli_parse_u32(const char *verb, const char *what, const char *text,
                       uint32_t min, uint32_t max)
{
    unsigned long long v;

    /* strtoull alone would accept "-1", " 7" and "0x10". */
    if (!cli_is_decimal(text))
        cli_usage(verb, "%s: '%s' is not a decimal number", what, text);
    errno = 0;
    v = strtoull(text, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        cli_usage(verb, "%s: %s is out of range (%lu-%lu)", what, text,
                  (unsigned long)min, (unsigned long)max);
    return (uint32_t)v;
}
