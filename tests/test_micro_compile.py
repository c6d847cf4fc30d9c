"""The generated C sources compile warning-free as C and C++, hold the .tflite byte for byte, pass
firmware_export/host_check, and the resolver and sketch compile against TFLM's API (stubbed here:
the TFLM C++ library is not on this machine; the stubs copy its signatures from TFLM_API.md)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from digitedge.micro import find_arena_size, header_files, resolver_methods, write_header_files
from digitedge.micro.resolver import RESOLVER_METHODS
from digitedge.tflite_model import read_tflite
from firmware_export import ARDUINO_SKETCH_DIR, HOST_CHECK_DIR
from micro_fixtures import tiny_tflite

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("g++") is None,
                                reason="gcc/g++ not installed")
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
C = ["gcc", "-std=c11", *WARNINGS]
CXX = ["g++", "-std=c++17", *WARNINGS]

DUMP_PROGRAM = """
#include <stdio.h>
#include "model_data.h"
#include "sample_digits.h"
int main(void) {
  fwrite(g_digitedge_model, 1, g_digitedge_model_len, stdout);
  return kNumSampleDigits > 0 && kSampleDigitBytes == kInputHeight * kInputWidth * kInputChannels ? 0 : 1;
}
"""

STUBS = {
    "tensorflow/lite/c/common.h": """
#pragma once
#include <stddef.h>
#include <stdint.h>
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum { kTfLiteNoType = 0, kTfLiteFloat32 = 1, kTfLiteInt8 = 9 } TfLiteType;
typedef struct { float scale; int32_t zero_point; } TfLiteQuantizationParams;
typedef union { int8_t* int8; float* f; } TfLitePtrUnion;
typedef struct { TfLiteType type; TfLitePtrUnion data; TfLiteQuantizationParams params; size_t bytes; } TfLiteTensor;
""",
    "tensorflow/lite/micro/micro_log.h": "#pragma once\nvoid MicroPrintf(const char* format, ...);\n",
    "tensorflow/lite/micro/system_setup.h": "#pragma once\nnamespace tflite { void InitializeTarget(); }\n",
    "tensorflow/lite/schema/schema_generated.h": """
#pragma once
#include <stdint.h>
#define TFLITE_SCHEMA_VERSION (3)
namespace tflite {
struct Model { uint32_t version() const; };
const Model* GetModel(const void* buffer);
}
""",
    "tensorflow/lite/micro/micro_interpreter.h": """
#pragma once
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/schema/schema_generated.h"
namespace tflite {
class MicroOpResolver {};
class MicroResourceVariables;
class MicroProfilerInterface;
class MicroInterpreter {
 public:
  MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver, uint8_t* tensor_arena,
                   size_t tensor_arena_size, MicroResourceVariables* resource_variables = nullptr,
                   MicroProfilerInterface* profiler = nullptr, bool preserve_all_tensors = false);
  TfLiteStatus AllocateTensors();
  TfLiteTensor* input(size_t index);
  TfLiteTensor* output(size_t index);
  TfLiteStatus Invoke();
  size_t arena_used_bytes() const;
};
}
""",
    "TensorFlowLite.h": "#pragma once\n",
    "Arduino.h": """
#pragma once
#include <stddef.h>
#include <stdint.h>
unsigned long millis();
unsigned long micros();
void delay(unsigned long ms);
struct HardwareSerialStub {
  void begin(unsigned long baud);
  explicit operator bool() const;
  size_t print(const char* text);
  size_t print(int value);
  size_t print(unsigned long value);
  size_t print(double value, int digits = 2);
  size_t println(const char* text);
  size_t println(unsigned long value);
};
extern HardwareSerialStub Serial;
""",
}


def _resolver_stub() -> str:
    methods = "\n".join(f'  TfLiteStatus {method}() {{ return digitedge_stub_record("{method}", tOpCount); }}'
                        for method in sorted(set(RESOLVER_METHODS.values())))
    return f"""
#pragma once
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
TfLiteStatus digitedge_stub_record(const char* method, unsigned int op_count);
namespace tflite {{
template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {{
 public:
{methods}
}};
}}
"""


RESOLVER_MAIN = """
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include "model_ops.h"
TfLiteStatus digitedge_stub_record(const char* method, unsigned int op_count) {
  std::printf("call %s %u\\n", method, op_count);
  return std::strcmp(method, FAIL_METHOD) == 0 ? kTfLiteError : kTfLiteOk;
}
void MicroPrintf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::printf("log ");
  std::vprintf(format, args);
  std::printf("\\n");
  va_end(args);
}
int main() {
  DigitedgeOpResolver resolver;
  std::printf("status %d\\n", static_cast<int>(RegisterDigitedgeOps(resolver)));
  return 0;
}
"""


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(part) for part in command], capture_output=True, **kwargs)
    assert result.returncode == 0, result.stderr.decode(errors="replace") + result.stdout.decode(errors="replace")
    return result


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """Generated sources of the tiny int8 model, its .tflite, and the TFLM/Arduino stubs."""
    root = tmp_path_factory.mktemp("micro")
    tflite = tiny_tflite("int8_ptq")
    samples = np.random.default_rng(5).uniform(0, 1, (2, 28, 28, 1))
    files = header_files(tflite, variant="int8_ptq", accuracy=None, arena_bytes=find_arena_size(tflite).arena_bytes,
                         sample_images=samples, sample_labels=[3, 8], source_name="tiny.tflite")
    write_header_files(files, root / "micro")
    (root / "tiny.tflite").write_bytes(tflite)
    for name, text in {**STUBS, "tensorflow/lite/micro/micro_mutable_op_resolver.h": _resolver_stub()}.items():
        (root / "stubs" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "stubs" / name).write_text(text)
    run(CXX + ["-c", root / "micro" / "model_data.cc", "-o", root / "model_data.o"])
    return root


@pytest.mark.parametrize("language", ["c", "c++"])
def test_dumped_array_equals_the_tflite(generated, language):
    source = generated / f"dump.{'c' if language == 'c' else 'cpp'}"
    source.write_text(DUMP_PROGRAM)
    compiler = C if language == "c" else CXX
    run(compiler + ["-I", generated / "micro", "-c", source, "-o", generated / f"dump_{language}.o"])
    binary = generated / f"dump_{language}"
    run(["g++", generated / f"dump_{language}.o", generated / "model_data.o", "-o", binary])
    assert run([binary]).stdout == (generated / "tiny.tflite").read_bytes()


def test_host_check_passes_on_the_generated_files(generated):
    result = run(["make", "-s", "-C", HOST_CHECK_DIR, "run",
                  f"MODEL_DIR={generated / 'micro'}", f"TFLITE={generated / 'tiny.tflite'}",
                  f"BUILD={generated / 'host_build'}"])
    assert b"host_check: all checks passed" in result.stdout and b"FAIL" not in result.stdout


def test_host_check_fails_on_another_tflite(generated):
    other = generated / "other.tflite"
    other.write_bytes(tiny_tflite("float32"))
    run(["make", "-s", "-C", HOST_CHECK_DIR, f"MODEL_DIR={generated / 'micro'}",
         f"BUILD={generated / 'host_build'}"])
    result = subprocess.run([generated / "host_build" / "host_check", other], capture_output=True)
    assert result.returncode == 1
    assert b"FAIL  g_digitedge_model_len equals the .tflite file size" in result.stdout


@pytest.mark.parametrize("fail_method", ["", "AddMaxPool2D"])
def test_resolver_registers_each_op_and_checks_every_status(generated, fail_method):
    source = generated / "resolver_main.cpp"
    source.write_text(RESOLVER_MAIN)
    binary = generated / f"resolver_{fail_method or 'ok'}"
    run(CXX + [f'-DFAIL_METHOD="{fail_method}"', "-I", generated / "micro", "-I", generated / "stubs",
               source, "-o", binary])
    lines = run([binary]).stdout.decode().splitlines()
    methods = resolver_methods(read_tflite(tiny_tflite("int8_ptq")).op_names)
    assert [line for line in lines if line.startswith("call")] == [f"call {m} {len(methods)}" for m in methods]
    if fail_method:
        assert f"log RegisterDigitedgeOps: {fail_method}() failed (MAX_POOL_2D)" in lines
        assert lines[-1] == "status 1"
    else:
        assert lines[-1] == "status 0"


def test_arduino_sketch_compiles_against_the_api(generated):
    wrapper = generated / "sketch_main.cpp"
    wrapper.write_text('#include <Arduino.h>\n#include "digitedge_mnist.ino"\n')  # what the Arduino builder does
    sketch = ARDUINO_SKETCH_DIR
    run(CXX + ["-fsyntax-only", "-I", generated / "stubs", "-I", generated / "micro", "-I", sketch, wrapper])


def test_firmware_folder_compiles_and_passes_host_check_on_its_own(generated):
    """The folder `export --firmware` writes builds with nothing copied in: the sketch against the TFLM
    API with only that folder on the include path, and host_check on its .cpp and model.tflite."""
    from digitedge.micro.sketch import SKETCH_TFLITE, write_firmware_folder

    tflite = (generated / "tiny.tflite").read_bytes()
    files = {path.name: path.read_text() for path in (generated / "micro").iterdir()}
    sketch = generated / "exported_sketch"
    write_firmware_folder(files, tflite, sketch)
    wrapper = generated / "exported_sketch_main.cpp"
    wrapper.write_text('#include <Arduino.h>\n#include "exported_sketch.ino"\n')
    run(CXX + ["-fsyntax-only", "-I", generated / "stubs", "-I", sketch, wrapper])
    run(CXX + ["-c", sketch / "model_data.cpp", "-o", generated / "sketch_model_data.o"])
    result = run(["make", "-s", "-C", HOST_CHECK_DIR, "run", f"MODEL_DIR={sketch}", f"TFLITE={sketch / SKETCH_TFLITE}",
                  f"BUILD={generated / 'sketch_host_build'}"])
    assert b"host_check: all checks passed" in result.stdout and b"FAIL" not in result.stdout
