/* Windows: <sys/uio.h> (struct iovec) for the runtime's POSIX code. */
#ifndef HVRPC__WIN_POSIX_SYS_UIO_H
#define HVRPC__WIN_POSIX_SYS_UIO_H
#include "../../platform_win.h"
#endif
