/*
 * cli.h - what the verbs of the `hvrpc` tool share: the verb table entry,
 * exit statuses and the argument helpers (args.c).
 *
 * Exit statuses are chosen so that they never collide with the gRPC status
 * codes 0-16 that `hvrpc call` and `hvrpc serve` exit with.
 */
#ifndef HVRPC_CLI_H
#define HVRPC_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <hvrpc/version.h>

#define CLI_EXIT_USAGE 64 /* EX_USAGE: bad arguments */
#define CLI_EXIT_IOERR 74 /* EX_IOERR: reading stdin or writing stdout */

typedef struct cli_verb {
    const char *name;
    const char *summary; /* one line for `hvrpc help` */
    const char *help;    /* the full text for `hvrpc help VERB` */
    /* argv[0] is the verb itself. Returns the exit status. */
    int (*run)(int argc, char **argv);
} cli_verb;

extern const cli_verb cli_verb_serve;
extern const cli_verb cli_verb_call;
extern const cli_verb cli_verb_guid;
extern const cli_verb cli_verb_list;
extern const cli_verb cli_verb_describe;
extern const cli_verb cli_verb_health;
extern const cli_verb cli_verb_register;
extern const cli_verb cli_verb_pub;
extern const cli_verb cli_verb_sub;
extern const cli_verb cli_verb_contract; /* HVRPC_CLI_CONTRACT builds */

/* Prints a verb's help on stdout; returns exit status 0. */
int cli_print_help(const cli_verb *v);

/* Prints "hvrpc: VERB: message" (one line, on stderr) and returns
 * CLI_EXIT_USAGE. verb may be NULL. */
int cli_usage_error(const char *verb, const char *fmt, ...)
#if defined(__GNUC__)
    HVRPC_PRINTF(2, 3)
#endif
        ;

/* Same, then exits with CLI_EXIT_USAGE. Used only while arguments are
 * parsed: nothing is held yet that exit() would not release. */
_Noreturn void cli_usage(const char *verb, const char *fmt, ...)
#if defined(__GNUC__)
    HVRPC_PRINTF(2, 3)
#endif
        ;

/* Says "hvrpc: VERB: out of memory" and returns the exit status for it,
 * RESOURCE_EXHAUSTED (8). */
int cli_out_of_memory(const char *verb);

/* A cursor over a verb's arguments: options in any order between the
 * positional arguments, "--opt VALUE" or "--opt=VALUE", "-H VALUE" or
 * "-HVALUE", and "--" ending the options. */
typedef struct cli_args {
    const char *verb;
    int argc;
    char **argv;
    int next;          /* index of the next argument */
    bool options_done; /* "--" was seen */
} cli_args;

/* Starts after argv[0], the verb. */
void cli_args_init(cli_args *a, const char *verb, int argc, char **argv);

/* The next argument, or NULL at the end. *is_option says whether it is an
 * option (starts with '-', is not "-" alone, and comes before "--").
 * Arguments and values point into argv, whose strings a verb may modify. */
char *cli_args_next(cli_args *a, bool *is_option);

/* True when option arg is `name` ("--listen" or "-H"): *value then receives
 * its value, taken from the same argument or the next one. A missing value
 * is a usage error. */
bool cli_args_value(cli_args *a, char *arg, const char *name, char **value);

/* True when option arg is the flag `name`; "--flag=x" is a usage error. */
bool cli_args_flag(const cli_args *a, char *arg, const char *name);

/* True for "-h" and "--help". */
bool cli_args_is_help(const cli_args *a, char *arg);

/* Reports an option no branch recognised (usage error). */
_Noreturn void cli_args_unknown(const cli_args *a, const char *arg);

/* The whole parse for a verb whose only option is --help and which takes
 * at most one argument. Returns false when it showed v's help instead;
 * otherwise *operand is the argument, or NULL when there is none. */
bool cli_args_operand(const cli_verb *v, int argc, char **argv, char **operand);

/* Parses a decimal number in [min, max]; anything else (sign, spaces,
 * hex, junk, out of range) is a usage error naming `what`. */
uint32_t cli_parse_u32(const char *verb, const char *what, const char *text,
                       uint32_t min, uint32_t max);

/* Returns uri when hvrpc_address_parse() accepts it; otherwise a usage
 * error with the parser's message, so a bad address is reported before
 * anything is set up. */
const char *cli_check_address(const char *verb, const char *uri);

/* True when text is one or more decimal digits and nothing else. */
bool cli_is_decimal(const char *text);

#endif /* HVRPC_CLI_H */
