"""`digitedge serve`: a local page to draw or upload a digit and see every variant's answer."""

from digitedge.serve.server import DigitServer, make_server, serve, serve_in_thread

__all__ = ["DigitServer", "make_server", "serve", "serve_in_thread"]
