/* Self-test: stream test digits from the host (semihosting file reads, so the image holds only what a
 * product would flash), run the generated model on each, compare every int8 output with what TFLite
 * Micro computed on the host, print one line per image and a summary, and exit with status 0 only if
 * every output matched bit for bit (1: a mismatch, 2: the digits file is missing or malformed).
 *
 * The digits file (TEST_DIGITS_FILE, relative to QEMU's working folder), little-endian:
 *   "DGT1", uint32 count, uint32 input size, uint32 output size, then per image:
 *   int8 input[input size], uint8 label, int8 TFLite Micro's output[output size]
 *
 * Line format (parsed by digitedge.cgen.qemu):
 *   image <i> label <l> predicted <p> match <0|1> ticks <t>
 *   calibration instructions <n> ticks <t>
 *   summary images <n> matches <m> correct <c> ticks <t> stack_used <bytes>
 * stack_used: the deepest any inference reached, counted from the stack's top (start-up and main's
 * frames included, as in a product).
 */
#include <stdint.h>

#include "board.h"
#include "digitedge_model.h"
#include "semihost.h"

#ifndef TEST_DIGITS_FILE
#define TEST_DIGITS_FILE "digits.bin"
#endif
#define RECORD_BYTES (DIGITEDGE_INPUT_SIZE + 1 + DIGITEDGE_OUTPUT_SIZE)
#define CALIBRATION_LOOPS 2000000UL  /* 2 instructions per loop: SUBS + BNE */

static char *append_text(char *out, const char *text)
{
    while (*text) {
        *out++ = *text++;
    }
    return out;
}

static char *append_unsigned(char *out, uint64_t value)
{
    char digits[20];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10U);
        value /= 10U;
    } while (value);
    while (count) {
        *out++ = digits[--count];
    }
    return out;
}

static void print_fields(const char *const names[], const uint64_t values[], int count)
{
    char line[160];
    char *out = line;
    int i;
    for (i = 0; i < count; ++i) {
        out = append_text(out, names[i]);
        *out++ = ' ';
        out = append_unsigned(out, values[i]);
        *out++ = i + 1 < count ? ' ' : '\n';
    }
    *out = '\0';
    semihost_write(line);
}

static uint32_t calibration_ticks(void)
{
    uint32_t loops = CALIBRATION_LOOPS;
    const uint32_t start = board_ticks();
    /* GCC hands Thumb-1 (M0) inline assembly to the assembler in divided syntax */
#if defined(__thumb2__)
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(loops) : : "cc");
#else
    __asm__ volatile(".syntax unified\n1: subs %0, %0, #1\n\tbne 1b\n\t.syntax divided" : "+r"(loops) : : "cc");
#endif
    return (board_ticks() - start) & BOARD_TICK_MASK;
}

static uint32_t read_word(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
}

/* Opens the digits file and returns its image count; exits with status 2 if it does not fit the model. */
static uint32_t open_digits(int *handle)
{
    uint8_t header[16];
    *handle = semihost_open_read(TEST_DIGITS_FILE);
    if (*handle < 0 || semihost_read(*handle, header, sizeof header) != sizeof header ||
        header[0] != 'D' || header[1] != 'G' || header[2] != 'T' || header[3] != '1' ||
        read_word(header + 8) != DIGITEDGE_INPUT_SIZE || read_word(header + 12) != DIGITEDGE_OUTPUT_SIZE) {
        semihost_write("error: " TEST_DIGITS_FILE " is missing or does not match the model's input/output sizes\n");
        semihost_exit(2);
    }
    return read_word(header + 4);
}

static int argmax(const int8_t *values, int count)
{
    int best = 0, i;
    for (i = 1; i < count; ++i) {
        if (values[i] > values[best]) {
            best = i;
        }
    }
    return best;
}

int main(void)
{
    static const char *const image_names[] = {"image", "label", "predicted", "match", "ticks"};
    static const char *const calibration_names[] = {"calibration instructions", "ticks"};
    static const char *const summary_names[] = {"summary images", "matches", "correct", "ticks", "stack_used"};
    static int8_t record[RECORD_BYTES] __attribute__((aligned(4))); /* input, label, expected output */
    const int8_t *const input = record, *const expected = record + DIGITEDGE_INPUT_SIZE + 1;
    int8_t output[DIGITEDGE_OUTPUT_SIZE];
    uint64_t total_ticks = 0;
    uint32_t matches = 0, correct = 0, stack_used = 0, count, index;
    int digits;

    board_init();
    {
        const uint64_t calibration[2] = {2 * CALIBRATION_LOOPS, calibration_ticks()};
        print_fields(calibration_names, calibration, 2);
    }
    count = open_digits(&digits);
    for (index = 0; index < count; ++index) {
        uint32_t start, ticks;
        int match = 1, predicted, i;
        uint8_t label;
        if (semihost_read(digits, record, RECORD_BYTES) != RECORD_BYTES) {
            semihost_write("error: " TEST_DIGITS_FILE " ends early\n");
            semihost_exit(2);
        }
        label = (uint8_t)record[DIGITEDGE_INPUT_SIZE];
        stack_paint(); /* the high-water mark of the inferences alone, not of the printing in between */
        start = board_ticks();
        digitedge_infer(input, output);
        ticks = (board_ticks() - start) & BOARD_TICK_MASK;
        if (stack_used_bytes() > stack_used) {
            stack_used = stack_used_bytes();
        }
        for (i = 0; i < DIGITEDGE_OUTPUT_SIZE; ++i) {
            match &= output[i] == expected[i];
        }
        predicted = argmax(output, DIGITEDGE_OUTPUT_SIZE);
        matches += (uint32_t)match;
        correct += predicted == label;
        total_ticks += ticks;
        {
            const uint64_t fields[5] = {index, label, (uint64_t)predicted, (uint64_t)match, ticks};
            print_fields(image_names, fields, 5);
        }
    }
    semihost_close(digits);
    {
        const uint64_t summary[5] = {count, matches, correct, total_ticks, stack_used};
        print_fields(summary_names, summary, 5);
    }
    return matches == count ? 0 : 1;
}
