/* Windows: <arpa/inet.h> for the runtime's POSIX code (platform_win.h). */
#ifndef HVRPC__WIN_POSIX_ARPA_INET_H
#define HVRPC__WIN_POSIX_ARPA_INET_H
#include "../../platform_win.h"
#endif
