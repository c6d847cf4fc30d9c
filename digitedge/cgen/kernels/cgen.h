/* Common to every digitedge kernel: the compiler's feature macros choose the path, and a few
 * attributes. Kernels are static inline functions taking a layer's constant parameters: the
 * generated model includes the kernels it uses and defines one small function per layer that
 * calls them with its own `static const` parameters, so the compiler specialises each loop to the
 * layer's shapes as if they were written out (the speed of hand-unrolled code, one copy of the C).
 *
 *   CGEN_MVE  Cortex-M55 (Helium, __ARM_FEATURE_MVE integer): 16 int8 lanes per instruction.
 *   CGEN_DSP  Cortex-M4/M7/M33 (__ARM_FEATURE_SIMD32): SMLAD on two halfword pairs.
 *   neither   plain C99 (Cortex-M0/M3, any host): the readable reference.
 */
#ifndef DIGITEDGE_CGEN_H
#define DIGITEDGE_CGEN_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define CGEN_MVE 1
#include <arm_mve.h>
#elif defined(__GNUC__) && defined(__ARM_FEATURE_SIMD32)
#define CGEN_DSP 1
#include <arm_acle.h>
#endif
#ifndef CGEN_MVE
#define CGEN_MVE 0
#endif
#ifndef CGEN_DSP
#define CGEN_DSP 0
#endif

#if defined(__GNUC__)
/* One register allocation per layer: inlining all layers into one function spills the inner loops. */
#define NOINLINE __attribute__((noinline))
#define MAYBE_UNUSED __attribute__((unused))
/* Kernel bodies: always inlined into their layer's function, where the parameters are constants. */
#define CGEN_KERNEL static inline __attribute__((always_inline))
#else
#define NOINLINE
#define MAYBE_UNUSED
#define CGEN_KERNEL static inline
#endif

#define POOL_FIRST 1   /* phase bits of a fused pool: the window's first conv pixel, its last */
#define POOL_LAST 2

#if CGEN_DSP
/* Bytes 1 and 3 sign-extended to two halfwords (SXTB16 with its rotate, which GCC does not fuse). */
static inline uint32_t sxtb16_ror8(uint32_t word)
{
    uint32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(word));
    return result;
}

static inline uint32_t read_u32(const void *bytes)
{
    uint32_t word;
    memcpy(&word, bytes, 4);
    return word;
}
#endif

#endif /* DIGITEDGE_CGEN_H */
