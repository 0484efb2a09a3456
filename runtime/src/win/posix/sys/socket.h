/* Windows: <sys/socket.h> for the runtime's POSIX code (platform_win.h). */
#ifndef HVRPC__WIN_POSIX_SYS_SOCKET_H
#define HVRPC__WIN_POSIX_SYS_SOCKET_H
#include "../../platform_win.h"
#endif
