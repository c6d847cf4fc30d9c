"""A small HTTP server (standard library only) behind the draw-a-digit page.

GET / serves the static page; GET /api/models lists the models; POST /api/predict takes the raw
bytes of one image (the canvas as PNG, or an uploaded photo) and answers with the prepared
28x28 image and every model's prediction, scores and latency. Preparation and inference are
digitedge.prepare and digitedge.predict, the same code `digitedge predict` runs.
A bad request gets a 4xx JSON {"error": ...}; nothing a client sends stops the server.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from digitedge.errors import DigitedgeError
from digitedge.predict import classify
from digitedge.prepare import decode_image, png_bytes, prepare_digit

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # a phone photo fits; anything larger is refused unread
READ_TIMEOUT_SECONDS = 30  # a client that stops sending mid-body frees its thread after this


class DigitServer(ThreadingHTTPServer):
    """Holds the loaded classifiers; each request runs on its own (daemon) thread."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], classifiers: dict, title: str = "digitedge", verbose: bool = False):
        super().__init__(address, RequestHandler)
        self.classifiers = classifiers
        self.title = title
        self.verbose = verbose  # log every request to stderr
        self.page = resources.files("digitedge.serve").joinpath("static", "index.html").read_bytes()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class RequestHandler(BaseHTTPRequestHandler):
    server: DigitServer
    timeout = READ_TIMEOUT_SECONDS
    server_version = "digitedge"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
        elif path == "/api/models":
            models = [{"name": name, "runtime": c.runtime} for name, c in self.server.classifiers.items()]
            self._send_json(HTTPStatus.OK, {"title": self.server.title, "models": models})
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] != "/api/predict":
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {self.path}"})
            return
        body = self._read_body()
        if body is None:
            return
        try:
            image = prepare_digit(decode_image(body, "the uploaded image"), "the uploaded image")
            predictions = classify(self.server.classifiers, image)
        except DigitedgeError as exc:
            self._send_json(HTTPStatus.UNPROCESSABLE_ENTITY if "no ink" in str(exc) else HTTPStatus.BAD_REQUEST,
                            {"error": " ".join(str(exc).split())})
            return
        self._send_json(HTTPStatus.OK, {
            "prepared": "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii"),
            "predictions": [p.to_dict() | {"runtime": self.server.classifiers[name].runtime}
                            for name, p in predictions.items()],
        })

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering why it is refused."""
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send_json(HTTPStatus.LENGTH_REQUIRED, {"error": "send the image with a Content-Length, not chunked"})
            return None
        if length is None:
            self._send_json(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length is required"})
            return None
        if not length.strip().isdigit():
            self.close_connection = True
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": f"Content-Length {length!r} is not a byte count"})
            return None
        size = int(length)
        if size == 0:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": "the request has no image (empty body)"})
            return None
        if size > MAX_UPLOAD_BYTES:
            self.close_connection = True  # the body stays unread
            self._send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                            {"error": f"the image is {size:,} bytes; the limit is {MAX_UPLOAD_BYTES:,}"})
            return None
        try:
            body = self.rfile.read(size)
        except OSError:  # the socket timed out or the client went away
            self.close_connection = True
            return None
        if len(body) < size:
            self.close_connection = True
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": f"the body ended after {len(body)} of {size} bytes"})
            return None
        return body

    def _send_json(self, status: HTTPStatus, value: dict) -> None:
        self._send(status, json.dumps(value).encode("utf-8"), "application/json")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client hung up; nothing to answer
            self.close_connection = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        if self.server.verbose:
            sys.stderr.write(f"[serve] {self.address_string()} {format % args}\n")


def make_server(classifiers: dict, host: str = "127.0.0.1", port: int = 8000, title: str = "digitedge",
                verbose: bool = False) -> DigitServer:
    """A server bound to (host, port); port 0 picks a free one (see .url). Call serve_forever()."""
    if not classifiers:
        raise DigitedgeError("no models to serve")
    try:
        return DigitServer((host, port), classifiers, title, verbose)
    except OSError as exc:
        raise DigitedgeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(server: DigitServer, echo=print) -> None:
    """Serve until Ctrl-C, then close the socket."""
    echo(f"[serve] {', '.join(server.classifiers)} on {server.url} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        echo("[serve] stopped")
    finally:
        server.server_close()


def serve_in_thread(server: DigitServer) -> threading.Thread:
    """Run `server` on a daemon thread (tests, notebooks); stop it with server.shutdown()."""
    thread = threading.Thread(target=server.serve_forever, name="digitedge-serve", daemon=True)
    thread.start()
    return thread
