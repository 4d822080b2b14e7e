"""Turn in-memory objects (text, dicts, figures, images) into files ready to upload.

Each writer takes the local path to write; the client creates it in a temporary directory
named like the artifact and uploads it. Figure and image libraries are imported only here,
and only when such an object is logged.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from cairn.exceptions import InvalidParameterValue

if TYPE_CHECKING:
    from pathlib import Path

_YAML_SUFFIXES = (".yaml", ".yml")
_THUMBNAIL_SIZE = 256


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def write_dict(path: Path, dictionary: Any) -> None:
    """YAML for .yaml/.yml files, JSON (indented, as MLflow writes it) for anything else."""
    with path.open("w", encoding="utf-8") as f:
        if path.suffix.lower() in _YAML_SUFFIXES:
            import yaml

            yaml.safe_dump(dictionary, f, default_flow_style=False, sort_keys=False)
        else:
            import json

            json.dump(dictionary, f, indent=2)


def read_dict(path: Path) -> Any:
    """The inverse of `write_dict`."""
    with path.open(encoding="utf-8") as f:
        if path.suffix.lower() in _YAML_SUFFIXES:
            import yaml

            return yaml.safe_load(f)
        import json

        return json.load(f)


def write_figure(path: Path, figure: Any, save_kwargs: dict[str, Any] | None = None) -> None:
    """Save a matplotlib or plotly figure; the artifact's extension picks the format."""
    kwargs = dict(save_kwargs or {})
    module = type(figure).__module__
    if module.startswith("matplotlib"):
        figure.savefig(path, **kwargs)
    elif module.startswith("plotly"):
        if path.suffix.lower() in (".html", ".htm"):
            kwargs.setdefault("include_plotlyjs", "cdn")
            kwargs.setdefault("auto_open", False)
            figure.write_html(str(path), **kwargs)
        else:
            figure.write_image(str(path), **kwargs)  # static formats need plotly's kaleido
    else:
        raise TypeError(
            f"Unsupported figure of type {type(figure).__module__}.{type(figure).__name__}: "
            "expected a matplotlib or plotly figure."
        )


def write_image(path: Path, image: Any) -> None:
    """Save a PIL image or an array-like image; the extension picks the format."""
    to_pil_image(image).save(path)


def write_thumbnail(path: Path, image: Any) -> None:
    """A small WebP preview, written beside full-size step images for fast galleries."""
    preview = to_pil_image(image).copy()
    preview.thumbnail((_THUMBNAIL_SIZE, _THUMBNAIL_SIZE))
    if preview.mode not in ("RGB", "RGBA", "L"):
        preview = preview.convert("RGBA")
    preview.save(path, format="WEBP")


def to_pil_image(image: Any) -> Any:
    """A PIL image from a PIL image or an array of shape (H, W), (H, W, 1|3|4).

    Floats must lie in [0, 1] and integers in [0, 255]; booleans map to black and white.
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    import numpy as np

    try:
        array = np.asarray(image)
    except Exception as exc:
        raise TypeError(
            f"Unsupported image of type {type(image).__name__}: expected a PIL image or an "
            "array-like of shape (H, W) or (H, W, C)."
        ) from exc
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidParameterValue(
            f"Image arrays must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); "
            f"got {array.shape}."
        )
    return Image.fromarray(_to_uint8(array))


def _to_uint8(array: Any) -> Any:
    import numpy as np

    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.size == 0:
        return array.astype(np.uint8)
    low, high = float(array.min()), float(array.max())
    if np.issubdtype(array.dtype, np.floating):
        if low < 0 or high > 1:
            raise InvalidParameterValue(
                f"Float image values must lie in [0, 1]; found values in [{low}, {high}]."
            )
        return (array * 255).round().astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        if low < 0 or high > 255:
            raise InvalidParameterValue(
                f"Integer image values must lie in [0, 255]; found values in [{low}, {high}]."
            )
        return array.astype(np.uint8)
    raise InvalidParameterValue(f"Unsupported image dtype {array.dtype}.")


def step_image_name(key: str, step: int, timestamp: int) -> str:
    """The artifact name (without extension) of a step image, in MLflow's layout.

    `images/<key>%step%<step>%timestamp%<ms>%<uuid>`, with `/` in the key written as `#`,
    so a key's images sort by step and the UI can parse them back.
    """
    import uuid

    safe_key = re.sub(r"/", "#", key)
    return f"images/{safe_key}%step%{step}%timestamp%{timestamp}%{uuid.uuid4()}"
