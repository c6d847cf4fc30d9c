"""The firmware around digitedge's generated model, installed by the wheel as its own package: the
bare-metal self-test, the Arduino sketch, the host-side header check and the PlatformIO file, found
here from any install (wheel or checkout)."""

from pathlib import Path

FIRMWARE_DIR = Path(__file__).resolve().parent
BAREMETAL_DIR = FIRMWARE_DIR / "baremetal"
ARDUINO_SKETCH_DIR = FIRMWARE_DIR / "arduino" / "digitedge_mnist"
HOST_CHECK_DIR = FIRMWARE_DIR / "host_check"
PLATFORMIO_FILE = FIRMWARE_DIR / "platformio.ini"
