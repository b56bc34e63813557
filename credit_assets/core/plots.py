"""PNG charts rendered off-screen to bytes; the caller stores them and shows them."""

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.figure import Figure  # noqa: E402


def new_figure(width: float = 6.0, height: float = 4.0, panels: int = 1) -> tuple[Figure, Any]:
    """A figure with one axes, or a row of `panels` axes (one figure rendered instead of one per panel)."""
    figure, axes = plt.subplots(1, panels, figsize=(width, height), dpi=100, squeeze=panels == 1)
    return figure, axes if panels == 1 else list(axes[0])


def png_bytes(figure: Figure, close: bool = True) -> bytes:
    """Render the figure to PNG (no timestamp, so the bytes are reproducible), closing it unless asked not to."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    if close:
        plt.close(figure)
    return buffer.getvalue()
