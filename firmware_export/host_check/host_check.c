/* host_check: checks the generated model_data.h/.cc and sample_digits.h on the build machine
 * before they go to a board: the array is the .tflite byte for byte, 16-byte aligned, carries
 * the 'TFL3' identifier, and the self-test digits are present and consistent.
 *
 * Usage: host_check MODEL.tflite        (exit status 0 when every check passes)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_data.h"
#include "sample_digits.h"

static int failures = 0;

static void check(int ok, const char* what) {
  printf("%s  %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) failures++;
}

static unsigned char* read_file(const char* path, long* size) {
  FILE* file = fopen(path, "rb");
  unsigned char* data = NULL;
  if (file == NULL) return NULL;
  if (fseek(file, 0, SEEK_END) == 0 && (*size = ftell(file)) >= 0 && fseek(file, 0, SEEK_SET) == 0) {
    data = (unsigned char*)malloc((size_t)*size + 1);
    if (data != NULL && fread(data, 1, (size_t)*size, file) != (size_t)*size) {
      free(data);
      data = NULL;
    }
  }
  fclose(file);
  return data;
}

int main(int argc, char** argv) {
  long file_size = -1;
  unsigned char* tflite = NULL;
  int labels_in_range = 1;
  int i;

  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL.tflite\n", argv[0]);
    return 2;
  }
  tflite = read_file(argv[1], &file_size);
  if (tflite == NULL) {
    fprintf(stderr, "host_check: cannot read %s\n", argv[1]);
    return 2;
  }
  printf("g_digitedge_model: %u bytes, %s: %ld bytes\n", g_digitedge_model_len, argv[1], file_size);
  check((long)g_digitedge_model_len == file_size, "g_digitedge_model_len equals the .tflite file size");
  check((long)g_digitedge_model_len == file_size && memcmp(g_digitedge_model, tflite, (size_t)file_size) == 0,
        "g_digitedge_model equals the .tflite byte for byte");
  check(((uintptr_t)g_digitedge_model % 16u) == 0, "g_digitedge_model is 16-byte aligned");
  check(g_digitedge_model_len >= 8 && memcmp(g_digitedge_model + 4, "TFL3", 4) == 0,
        "'TFL3' flatbuffer identifier at offset 4");
  check(kTensorArenaSize > 0 && kTensorArenaSize % 16 == 0, "kTensorArenaSize is a positive multiple of 16");
  check(kNumSampleDigits > 0, "sample digits present");
  check(kSampleDigitBytes == kInputHeight * kInputWidth * kInputChannels,
        "each sample digit has kInputHeight x kInputWidth x kInputChannels bytes");
  for (i = 0; i < kNumSampleDigits; i++) {
    if (g_sample_digit_labels[i] >= kNumClasses) labels_in_range = 0;
  }
  check(labels_in_range, "sample labels are class indices");
  printf("%d sample digits, %d classes, arena %d bytes\n", kNumSampleDigits, kNumClasses, kTensorArenaSize);
  free(tflite);
  printf("%s\n", failures == 0 ? "host_check: all checks passed" : "host_check: FAILED");
  return failures == 0 ? 0 : 1;
}
