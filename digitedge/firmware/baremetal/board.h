/* What the self-test needs from the board: a free-running tick counter. */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>

void board_init(void);
uint32_t board_ticks(void);       /* counts up, wraps at 2^32 */
uint32_t stack_used_bytes(void);  /* from startup.c's stack painting */

#endif
