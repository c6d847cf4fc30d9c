/* Self-test: run the generated model on the embedded test digits, compare every int8 output with
 * what TFLite Micro computed on the host, print one line per image and a summary, and exit with
 * status 0 only if every output matched bit for bit.
 *
 * Line format (parsed by digitedge.cgen.qemu):
 *   image <i> label <l> predicted <p> match <0|1> ticks <t>
 *   calibration instructions <n> ticks <t>
 *   summary images <n> matches <m> correct <c> ticks <t> stack_used <bytes>
 */
#include <stdint.h>

#include "board.h"
#include "digitedge_model.h"
#include "semihost.h"
#include "test_digits.h"

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
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(loops) : : "cc");
    return board_ticks() - start;
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
    int8_t output[DIGITEDGE_OUTPUT_SIZE];
    uint64_t total_ticks = 0;
    uint32_t matches = 0, correct = 0, index;

    board_init();
    {
        const uint64_t calibration[2] = {2 * CALIBRATION_LOOPS, calibration_ticks()};
        print_fields(calibration_names, calibration, 2);
    }
    for (index = 0; index < TEST_DIGIT_COUNT; ++index) {
        uint32_t start, ticks;
        int match = 1, predicted, i;
        start = board_ticks();
        digitedge_infer(test_digit_images[index], output);
        ticks = board_ticks() - start;
        for (i = 0; i < DIGITEDGE_OUTPUT_SIZE; ++i) {
            match &= output[i] == test_digit_expected[index][i];
        }
        predicted = argmax(output, DIGITEDGE_OUTPUT_SIZE);
        matches += (uint32_t)match;
        correct += predicted == test_digit_labels[index];
        total_ticks += ticks;
        {
            const uint64_t fields[5] = {index, test_digit_labels[index], (uint64_t)predicted, (uint64_t)match, ticks};
            print_fields(image_names, fields, 5);
        }
    }
    {
        const uint64_t summary[5] = {TEST_DIGIT_COUNT, matches, correct, total_ticks, stack_used_bytes()};
        print_fields(summary_names, summary, 5);
    }
    return matches == TEST_DIGIT_COUNT ? 0 : 1;
}
