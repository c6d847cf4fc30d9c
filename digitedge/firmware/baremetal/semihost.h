/* ARM semihosting (the debugger or QEMU does the I/O): text output and exit with a status. */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stdint.h>

void semihost_write(const char *text);
void semihost_exit(int status) __attribute__((noreturn));

#endif
