// digitedge_mnist: runs the exported int8 digit classifier with TensorFlow Lite Micro and checks it
// on the self-test digits from sample_digits.h, printing predictions, scores and microseconds.
//
// Reference board: Arduino Nano 33 BLE Sense (Cortex-M4F @ 64 MHz), with the Arduino_TensorFlowLite
// library (see ../../README.md). model_data.h/.cpp, model_ops.h and sample_digits.h are generated
// by `digitedge export`; this sketch does not compile until they are copied here.
#include <TensorFlowLite.h>

#include <string.h>

#include "model_data.h"
#include "model_ops.h"
#include "sample_digits.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {
// kTensorArenaSize is the arena measured on the host plus a margin; TFLM needs it 16-byte aligned.
alignas(16) uint8_t tensor_arena[kTensorArenaSize];
tflite::MicroInterpreter* interpreter = nullptr;
bool ready = false;

int ArgMax(const int8_t* values, int count) {
  int best = 0;
  for (int i = 1; i < count; ++i) {
    if (values[i] > values[best]) best = i;
  }
  return best;
}

bool Setup() {
  tflite::InitializeTarget();
  const tflite::Model* model = tflite::GetModel(g_digitedge_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    MicroPrintf("Model schema version %d, this TFLM supports %d", static_cast<int>(model->version()),
                TFLITE_SCHEMA_VERSION);
    return false;
  }
  static DigitedgeOpResolver resolver;
  if (RegisterDigitedgeOps(resolver) != kTfLiteOk) return false;  // it printed which op failed

  static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena, kTensorArenaSize);
  interpreter = &static_interpreter;
  if (interpreter->AllocateTensors() != kTfLiteOk) {
    MicroPrintf("AllocateTensors() failed: kTensorArenaSize (%d bytes) too small?", kTensorArenaSize);
    return false;
  }
  const TfLiteTensor* input = interpreter->input(0);
  const TfLiteTensor* output = interpreter->output(0);
  if (input->type != kTfLiteInt8 || input->bytes != static_cast<size_t>(kSampleDigitBytes) ||
      output->type != kTfLiteInt8 || output->bytes != static_cast<size_t>(kNumClasses)) {
    MicroPrintf("Model input/output do not match model_data.h: regenerate the headers");
    return false;
  }
  Serial.print("Arena used: ");
  Serial.print(static_cast<unsigned long>(interpreter->arena_used_bytes()));
  Serial.print(" of ");
  Serial.print(kTensorArenaSize);
  Serial.println(" bytes");
  return true;
}
}  // namespace

void setup() {
  Serial.begin(115200);
  while (!Serial && millis() < 5000) {
  }
  ready = Setup();
  Serial.println(ready ? "digitedge: model ready" : "digitedge: setup FAILED");
}

void loop() {
  if (!ready) {
    delay(1000);
    return;
  }
  TfLiteTensor* input = interpreter->input(0);
  const TfLiteTensor* output = interpreter->output(0);
  int correct = 0;
  int same_as_host = 0;
  unsigned long total_us = 0;

  for (int i = 0; i < kNumSampleDigits; ++i) {
    memcpy(input->data.int8, g_sample_digits[i], kSampleDigitBytes);
    const unsigned long start_us = micros();
    const TfLiteStatus status = interpreter->Invoke();
    const unsigned long elapsed_us = micros() - start_us;
    if (status != kTfLiteOk) {
      MicroPrintf("Invoke() failed on sample %d", i);
      return;
    }
    const int predicted = ArgMax(output->data.int8, kNumClasses);
    const float score = (output->data.int8[predicted] - kOutputZeroPoint) * kOutputScale;
    const bool matches_host = memcmp(output->data.int8, g_sample_digit_tflm_outputs[i], kNumClasses) == 0;
    correct += predicted == g_sample_digit_labels[i];
    same_as_host += matches_host;
    total_us += elapsed_us;

    Serial.print("sample ");
    Serial.print(i);
    Serial.print(": label ");
    Serial.print(kClassLabels[g_sample_digit_labels[i]]);
    Serial.print(", predicted ");
    Serial.print(kClassLabels[predicted]);
    Serial.print(" (score ");
    Serial.print(score, 3);
    Serial.print("), ");
    Serial.print(elapsed_us);
    Serial.print(" us, output ");
    Serial.println(matches_host ? "identical to host TFLM" : "DIFFERS from host TFLM");
  }
  Serial.print("correct ");
  Serial.print(correct);
  Serial.print("/");
  Serial.print(kNumSampleDigits);
  Serial.print(", identical to host ");
  Serial.print(same_as_host);
  Serial.print("/");
  Serial.print(kNumSampleDigits);
  Serial.print(", mean ");
  Serial.print(total_us / kNumSampleDigits);
  Serial.println(" us per inference");
  delay(10000);
}
