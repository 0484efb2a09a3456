/* Windows: <netinet/in.h> for the runtime's POSIX code (platform_win.h). */
#ifndef HVRPC__WIN_POSIX_NETINET_IN_H
#define HVRPC__WIN_POSIX_NETINET_IN_H
#include "../../platform_win.h"
#endif
