"""digitedge: a handwritten-digit CNN from training to a microcontroller."""

__version__ = "0.1.0"
