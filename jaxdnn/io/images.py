"""Your own images, read for a model trained on images: the course's "test with your own image".
"""

import warnings

import numpy as np

from ..core import limits
from ..errors import DataError, OptionError
from .files import regular_file


def load_image(path, num_px):
    """Any image Pillow reads, as RGB resized to ``num_px`` x ``num_px``, flattened the course's
    way: ``(num_px * num_px * 3, 1)`` float64 in [0, 1] (the course's "your own image").
    16-bit greyscale is scaled to 8 bits (not clipped), so it reads as the same image in 8 bits.

    Raises:
      OptionError: Pillow is not installed (the ``plot`` extra).
      DataError: the file is missing, not a regular file, not a readable image, or has more
        than :data:`~jaxdnn.core.limits.MAX_IMAGE_PIXELS` pixels.
    """
    try:
        from PIL import Image
    except ImportError:
        raise OptionError("reading images needs Pillow: pip install 'jaxdnn[plot]'") from None
    regular_file(path, "image")
    try:
        with warnings.catch_warnings(), Image.open(path) as image:  # reads the header only
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below
            width, height = image.size
            if width * height > limits.MAX_IMAGE_PIXELS:
                raise DataError(f"{path}: {width} x {height} pixels, above the limit of "
                                f"{limits.MAX_IMAGE_PIXELS:,} (MAX_IMAGE_PIXELS)")
            if image.mode.startswith("I;16"):
                image = Image.fromarray(np.round(np.asarray(image) / 257).astype(np.uint8))
            pixels = np.asarray(image.convert("RGB").resize((num_px, num_px)))
    except DataError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    return pixels.reshape(1, -1).T / 255.0
