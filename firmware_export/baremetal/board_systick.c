/* Tick source on every Cortex-M core: SysTick, the 24-bit down-counter of the core itself (the
 * optional SysTick of ARMv6-M is present in QEMU's Cortex-M0 too), clocked by the processor clock.
 * QEMU's DWT cycle counter reads 0; under `-icount shift=0` each guest instruction advances virtual
 * time by 1 ns, so SysTick's ticks measure executed instructions (main.c calibrates the ratio per
 * board with a loop of known length). On a real board, return DWT->CYCCNT here instead. */
#include "board.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010UL)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014UL)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018UL)
#define SYST_CSR_ENABLE 1UL
#define SYST_CSR_PROCESSOR_CLOCK 4UL /* no TICKINT: wraps silently, no interrupt */

void board_init(void)
{
    SYST_CSR = 0;
    SYST_RVR = BOARD_TICK_MASK;
    SYST_CVR = 0; /* any write clears it; it reloads on the first tick */
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_PROCESSOR_CLOCK;
}

uint32_t board_ticks(void)
{
    return BOARD_TICK_MASK - (SYST_CVR & BOARD_TICK_MASK);
}
