/* mps2-an386 tick source: CMSDK APB TIMER0, a 32-bit down-counter on the 25 MHz peripheral clock.
 * QEMU's DWT cycle counter reads 0; under `-icount shift=0` each guest instruction advances virtual
 * time by 1 ns, so this timer's ticks measure executed instructions (main.c calibrates the ratio).
 * On a real board, return DWT->CYCCNT here instead (enable TRCENA and CYCCNTENA in board_init). */
#include "board.h"

#define TIMER0_CTRL (*(volatile uint32_t *)0x40000000UL)
#define TIMER0_VALUE (*(volatile uint32_t *)0x40000004UL)
#define TIMER0_RELOAD (*(volatile uint32_t *)0x40000008UL)

void board_init(void)
{
    TIMER0_CTRL = 0;
    TIMER0_RELOAD = 0xFFFFFFFFUL;
    TIMER0_VALUE = 0xFFFFFFFFUL;
    TIMER0_CTRL = 1;  /* enable, no interrupt */
}

uint32_t board_ticks(void)
{
    return 0xFFFFFFFFUL - TIMER0_VALUE;
}
