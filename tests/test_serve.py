"""The draw-a-digit server: real answers from a trained run's interpreters, 4xx for bad requests, never down."""

import base64
import http.client
import io
import json
import socket

import numpy as np
import pytest
from PIL import Image

from test_predict import DEPLOYED, tiny_run  # noqa: F401 (the shared trained run fixture)

pytestmark = pytest.mark.mnist


@pytest.fixture(scope="module")
def server(tiny_run):  # noqa: F811
    from digitedge.predict import load_classifiers
    from digitedge.serve import make_server, serve_in_thread

    server = make_server(load_classifiers(tiny_run, all_variants=True), port=0)
    thread = serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def request(server, method, path, body=None, headers=None):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_page_and_models_are_served(server):
    status, page = request(server, "GET", "/")
    assert status == 200 and b"<canvas" in page and b"http" not in page.split(b"<script>")[1]  # no external resources
    status, body = request(server, "GET", "/api/models")
    models = json.loads(body)["models"]
    assert status == 200 and {"name": f"{DEPLOYED} (TFLM)", "runtime": "TFLite Micro"} in models
    assert {"name": "float32", "runtime": "LiteRT"} in models


def test_a_photo_of_a_digit_gets_every_models_answer_from_the_shared_code(server, mnist):
    from digitedge.predict import classify
    from digitedge.prepare import prepare_digit

    digit = mnist.x_test[3]
    photo = 255 - np.asarray(Image.fromarray(digit).resize((150, 150)))  # dark ink on paper
    status, body = request(server, "POST", "/api/predict", png(photo), {"Content-Type": "image/png"})
    assert status == 200, body
    answer = json.loads(body)
    prepared = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["prepared"].split(",", 1)[1]))))
    np.testing.assert_array_equal(prepared, prepare_digit(photo.astype(np.float32) / 255))
    expected = classify(server.classifiers, prepared)
    assert [p["model"] for p in answer["predictions"]] == list(server.classifiers)
    for p in answer["predictions"]:
        assert p["digit"] == expected[p["model"]].digit and len(p["scores"]) == 10 and p["latency_us"] > 0
        np.testing.assert_allclose(p["scores"], expected[p["model"]].scores, atol=1e-6)


@pytest.mark.parametrize("body, headers, status, message", [
    (b"", {}, 400, "empty body"),
    (b"this is not an image", {}, 400, "not a readable"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), {}, 400, "not a readable"),
    (None, {"Content-Length": "1000000000"}, 413, "the limit is"),
    (None, {"Content-Length": "-5"}, 400, "not a byte count"),
    (None, {"Content-Length": "abc"}, 400, "not a byte count"),
])
def test_bad_uploads_get_4xx_with_a_message(server, body, headers, status, message):
    got, data = request(server, "POST", "/api/predict", body, headers)
    assert got == status and message in json.loads(data)["error"]


def test_a_blank_drawing_is_refused_as_no_ink(server):
    status, data = request(server, "POST", "/api/predict", png(np.zeros((280, 280), np.uint8)))
    assert status == 422 and "no ink" in json.loads(data)["error"]


def test_missing_length_unknown_paths_and_a_truncated_body(server, mnist):
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=30) as raw:  # no Content-Length at all
        raw.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.0 411")
    with socket.create_connection((host, port), timeout=30) as raw:  # announces 5000 bytes, sends 10, hangs up
        raw.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + bytes(10))
        raw.shutdown(socket.SHUT_WR)
        assert raw.recv(4096).startswith(b"HTTP/1.0 400")
    assert request(server, "GET", "/etc/passwd")[0] == 404
    assert request(server, "POST", "/upload", b"x")[0] == 404
    assert request(server, "PUT", "/api/predict", b"x")[0] == 501
    # still up and answering after all of that
    status, _ = request(server, "POST", "/api/predict", png(mnist.x_test[0]))
    assert status == 200
