/* Start-up for every Cortex-M core (M0 to M55): vector table, reset handler (copy .data, zero .bss,
 * enable the FPU, and with it MVE on the M55, when the build uses them; paint the stack to measure its
 * high-water mark), and fault handlers that report and exit. */
#include <stdint.h>

#include "board.h"
#include "semihost.h"

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __stack_limit__, __stack_top__;

int main(void);

#define STACK_PAINT 0xA5A5A5A5UL
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88UL)

__attribute__((noinline)) void stack_paint(void)
{
    uint32_t *word = &__stack_limit__;
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    while (word < sp - 16) {  /* stay clear of this function's own frame */
        *word++ = STACK_PAINT;
    }
}

uint32_t stack_used_bytes(void)
{
    const uint32_t *word = &__stack_limit__;
    while (word < &__stack_top__ && *word == STACK_PAINT) {
        ++word;
    }
    return (uint32_t)((uintptr_t)&__stack_top__ - (uintptr_t)word);
}

void Reset_Handler(void)
{
    const uint32_t *source = &__data_load__;
    uint32_t *target = &__data_start__;
    while (target < &__data_end__) {
        *target++ = *source++;
    }
    for (target = &__bss_start__; target < &__bss_end__; ++target) {
        *target = 0;
    }
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= 0xFUL << 20;  /* full access to CP10/CP11: the FPU and the M55's MVE */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    stack_paint();
    semihost_exit(main());
}

static void fault(const char *name)
{
    semihost_write(name);
    semihost_write(": fault, stopping\n");
    semihost_exit(3);
}

void NMI_Handler(void) { fault("NMI"); }
void HardFault_Handler(void) { fault("HardFault"); }
void MemManage_Handler(void) { fault("MemManage"); }
void BusFault_Handler(void) { fault("BusFault"); }
void UsageFault_Handler(void) { fault("UsageFault"); }
void Default_Handler(void) { fault("unexpected interrupt"); }

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used)) static const vector_t vector_table[16] = {
    (vector_t)(uintptr_t)&__stack_top__,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    Default_Handler,  /* SVCall */
    Default_Handler,  /* DebugMonitor */
    0,
    Default_Handler,  /* PendSV */
    Default_Handler,  /* SysTick */
};
