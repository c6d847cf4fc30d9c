/* ARM semihosting (the debugger or QEMU does the I/O): text output, reading host files, exit. */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

void semihost_write(const char *text);
int semihost_open_read(const char *path);                     /* a handle, or -1 */
size_t semihost_read(int handle, void *buffer, size_t bytes);  /* bytes read; fewer at the end */
void semihost_close(int handle);
void semihost_exit(int status) __attribute__((noreturn));

#endif
