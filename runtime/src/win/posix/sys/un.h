/* Windows: <sys/un.h> for the runtime's POSIX code (platform_win.h). */
#ifndef HVRPC__WIN_POSIX_SYS_UN_H
#define HVRPC__WIN_POSIX_SYS_UN_H
#include "../../platform_win.h"
#endif
