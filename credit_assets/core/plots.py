"""PNG charts rendered off-screen to bytes; the caller stores them and shows them."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.figure import Figure  # noqa: E402


def new_figure(width: float = 6.0, height: float = 4.0) -> tuple[Figure, plt.Axes]:
    figure, axes = plt.subplots(figsize=(width, height), dpi=100)
    return figure, axes


def png_bytes(figure: Figure, close: bool = True) -> bytes:
    """Render the figure to PNG (no timestamp, so the bytes are reproducible), closing it unless asked not to."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    if close:
        plt.close(figure)
    return buffer.getvalue()
