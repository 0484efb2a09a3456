/* Windows: <netdb.h> for the runtime's POSIX code (platform_win.h). */
#ifndef HVRPC__WIN_POSIX_NETDB_H
#define HVRPC__WIN_POSIX_NETDB_H
#include "../platform_win.h"
#endif
