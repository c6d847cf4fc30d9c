"""MOBILE.md: the input contract and how to load each file, for the developer who drops them into an app."""

from __future__ import annotations


def mobile_guide(facts: dict[str, dict]) -> str:
    """The guide, with each file's size and test accuracy as measured from the file itself."""
    rows = "\n".join(
        f"| `{name}.tflite` | {entry['size_bytes']:,} | {entry['test_accuracy']:.2%} on {entry['test_images']:,} "
        f"| {_kind(name)} |" for name, entry in facts.items())
    return f"""# digitedge mobile models

| file | bytes | MNIST test accuracy | input / output |
|---|---:|---:|---|
{rows}

Both files are image classifiers MediaPipe Tasks' `ImageClassifier`, Android Studio's ML model
binding and LiteRT load as they are: TFLite metadata (name, version, author, license, RGB image
input, normalization for the float file, score range) and `labels.txt` (digits 0-9) packed inside.
`labels.txt` is also here on its own.

## The input contract

- An RGB image of one digit, 28 x 28, **white digit on a black background**, centred the MNIST way:
  the digit scaled to fit a 20 x 20 box and its centre of mass moved to the centre of the 28 x 28
  image. The model averages R, G and B, so a gray image with R = G = B is what it was trained on.
- This is the preparation `digitedge predict` applies to any photo or drawing (either polarity,
  any size); `digitedge predict IMAGE --save-prepared DIR` writes what the model then sees.
  Do the same in the app before classifying (MediaPipe only resizes; it does not centre or invert).
- `mobile_uint8`: pixels 0-255 as they are (input scale 1/255, zero point 0); scores are uint8
  (scale 1/256): the probability is `score / 256`.
- `mobile_float16`: float32 pixels; its metadata asks for normalization mean 0, std 255, which
  MediaPipe applies; with LiteRT directly, pass `pixel / 255`. Weights are float16 (the GPU
  delegate runs it in half precision; on CPU they are expanded to float32 at load).

## Signature

Every file has one signature, `serving_default`, with input `image` (1 x 28 x 28 x 3) and
output `probabilities` (1 x 10), the same in every run.

## Loading

MediaPipe Tasks (Python shown; Android `ImageClassifier.createFromOptions` and iOS
`ImageClassifier(options:)` take the same options):

```python
import mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision

classifier = vision.ImageClassifier.create_from_options(vision.ImageClassifierOptions(
    base_options=BaseOptions(model_asset_path="mobile_uint8.tflite"), max_results=3))
result = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb_28x28_uint8))
print(result.classifications[0].categories[0].category_name)  # "7"
```

LiteRT (Interpreter, or the newer CompiledModel API):

```python
from ai_edge_litert.interpreter import Interpreter

runner = Interpreter(model_path="mobile_uint8.tflite").get_signature_runner("serving_default")
probabilities = runner(image=rgb_28x28_uint8[None])["probabilities"][0] / 256
```

On Android with LiteRT: `interpreter.runSignature(mapOf("image" to input), mapOf("probabilities" to output))`;
add the GPU delegate for `mobile_float16`.
"""


def _kind(name: str) -> str:
    if name == "mobile_uint8":
        return "uint8 RGB in, uint8 scores out (full-integer, from the QAT model)"
    return "float32 RGB in, float32 scores out (float16 weights, from the float model)"
