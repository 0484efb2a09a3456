/* Windows: <sys/epoll.h> for the runtime's POSIX code (platform_win.h). */
#ifndef HVRPC__WIN_POSIX_SYS_EPOLL_H
#define HVRPC__WIN_POSIX_SYS_EPOLL_H
#include "../../platform_win.h"
#endif
