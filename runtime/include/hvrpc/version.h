/* hvrpc/version.h - version numbers and the export macro. */
#ifndef HVRPC_VERSION_H
#define HVRPC_VERSION_H

#define HVRPC_VERSION_MAJOR  0
#define HVRPC_VERSION_MINOR  1
#define HVRPC_VERSION_PATCH  0
#define HVRPC_VERSION_STRING "0.1.0"

/* Symbols of the public API are exported; everything else is hidden. */
#if defined(_WIN32)
#if defined(HVRPC_BUILDING)
#define HVRPC_API __declspec(dllexport)
#elif defined(HVRPC_STATIC)
#define HVRPC_API
#else
#define HVRPC_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define HVRPC_API __attribute__((visibility("default")))
#else
#define HVRPC_API
#endif

/* printf-style format checking where the compiler has it. mingw-w64's
 * "printf" means Microsoft's format language; the library formats with
 * C99's (hvrpc is built with __USE_MINGW_ANSI_STDIO there). */
#if defined(__MINGW32__)
#define HVRPC_PRINTF(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#elif defined(__GNUC__)
#define HVRPC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define HVRPC_PRINTF(fmt, args)
#endif

#endif /* HVRPC_VERSION_H */
