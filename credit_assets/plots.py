"""PNG charts for asset metadata: rendered off-screen, stored as files and shown inline in the Dagster UI."""

import base64
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.figure import Figure  # noqa: E402

from credit_assets.resources.storage import atomic_write  # noqa: E402


def new_figure(width: float = 6.0, height: float = 4.0) -> tuple[Figure, plt.Axes]:
    figure, axes = plt.subplots(figsize=(width, height), dpi=100)
    return figure, axes


def save_png(figure: Figure, path: Path) -> bytes:
    """Render the figure to PNG, write it atomically to `path` and return the bytes."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    png = buffer.getvalue()
    atomic_write(path, lambda tmp: tmp.write_bytes(png))
    return png


def markdown_image(png: bytes, title: str) -> str:
    """Markdown that the Dagster UI renders as the image itself."""
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
