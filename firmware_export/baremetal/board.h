/* What the self-test needs from the board: a free-running tick counter and the stack's high-water mark. */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>

#define BOARD_TICK_MASK 0x00FFFFFFUL /* board_ticks() counts up modulo 2^24: take differences & this mask */

void board_init(void);
uint32_t board_ticks(void);
void stack_paint(void);          /* startup.c: fill the free stack below the caller with a pattern */
uint32_t stack_used_bytes(void); /* bytes from the stack's top to the deepest overwritten word */

#endif
