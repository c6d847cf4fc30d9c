/* Semihosting calls are a BKPT 0xAB with the operation in r0 and its argument block in r1;
 * the host (QEMU with -semihosting-config enable=on,target=native) does the work. */
#include "semihost.h"

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE0 0x04
#define SYS_READ 0x06
#define SYS_EXIT 0x18
#define SYS_EXIT_EXTENDED 0x20
#define OPEN_MODE_READ_BINARY 1 /* "rb" */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static int semihost_call(int operation, const void *argument)
{
    register int r0 __asm__("r0") = operation;
    register const void *r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_write(const char *text)
{
    semihost_call(SYS_WRITE0, text);
}

int semihost_open_read(const char *path)
{
    size_t length = 0;
    while (path[length]) {
        ++length;
    }
    {
        const uint32_t block[3] = {(uint32_t)(uintptr_t)path, OPEN_MODE_READ_BINARY, (uint32_t)length};
        return semihost_call(SYS_OPEN, block);
    }
}

size_t semihost_read(int handle, void *buffer, size_t bytes)
{
    const uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buffer, (uint32_t)bytes};
    const int not_read = semihost_call(SYS_READ, block); /* SYS_READ returns the bytes NOT read */
    return not_read < 0 || (size_t)not_read > bytes ? 0 : bytes - (size_t)not_read;
}

void semihost_close(int handle)
{
    const uint32_t block[1] = {(uint32_t)handle};
    semihost_call(SYS_CLOSE, block);
}

void semihost_exit(int status)
{
    /* SYS_EXIT_EXTENDED carries the status; plain SYS_EXIT on 32-bit ARM can only say "stopped" */
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    semihost_call(SYS_EXIT_EXTENDED, block);
    semihost_call(SYS_EXIT, (const void *)ADP_STOPPED_APPLICATION_EXIT);
    for (;;) {
    }
}
