"""Mobile: .tflite files an Android or iOS developer drops into MediaPipe Tasks, Android Studio or LiteRT.

RGB input (rgb.py), the `serving_default` signature (signature.py), TFLite metadata with packed
labels (metadata.py, written by metadata_writer.py), LiteRT's CompiledModel check (compiled.py),
the guide (guide.py), all put together by build.build_mobile; phone.py runs MediaPipe's
ImageClassifier (mediapipe_classify.py) and mediapipe's metadata schema module (mediapipe_metadata.py)
in their own environment.
"""
