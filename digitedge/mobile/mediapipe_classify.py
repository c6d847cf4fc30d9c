"""Run inside the MediaPipe environment (phone.py): MediaPipe Tasks' ImageClassifier on a .tflite.

Usage: python mediapipe_classify.py MODEL.tflite IMAGES.npy
IMAGES.npy holds uint8 (N, 28, 28) gray digits; each is given as an SRGB image (R = G = B), as an
app passes a camera frame. Prints one JSON object: every image's categories, best first, with the
names the classifier read from the model's metadata. Imports only mediapipe, numpy and the standard
library: this is the phone, not digitedge.
"""

import json
import sys

import numpy as np


def main(model_path: str, images_path: str) -> None:
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    images = np.load(images_path)
    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=model_path), max_results=10)
    answers = []
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for image in images:
            rgb = np.ascontiguousarray(np.repeat(image[..., None], 3, axis=-1))
            result = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            answers.append([[c.index, c.category_name, float(c.score)] for c in result.classifications[0].categories])
    json.dump({"mediapipe": mp.__version__, "answers": answers}, sys.stdout)


if __name__ == "__main__":
    try:
        main(*sys.argv[1:3])
    except Exception as exc:  # one line for the caller: MediaPipe's errors are long status dumps
        print(f"{type(exc).__name__}: {' '.join(str(exc).split())[:400]}", file=sys.stderr)
        sys.exit(1)
