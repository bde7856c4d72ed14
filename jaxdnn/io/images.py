"""Your own images, read for a model trained on images: the course's "test with your own image".

Every image becomes 8-bit RGB before it is resized, whatever its samples: images of more than 8
bits a sample are scaled by their range first (16-bit: 0..65535; 32-bit integers: their type's
range, from the TIFF's tags; floats: intensities in [0, 1]), so that the same grey reads as the
same input however it was saved. A mode whose range is not known, or that Pillow cannot turn
into RGB, is refused by name.
"""

import warnings

import numpy as np

from ..core import limits
from ..errors import DataError, OptionError
from .files import regular_file

_SIXTEEN_BITS = ("I;16", "I;16L", "I;16B", "I;16N")
_BITS_PER_SAMPLE, _SAMPLE_FORMAT = 258, 339  # TIFF tags; sample format 1 unsigned, 2 signed


def load_image(path, num_px):
    """Any image Pillow reads, as RGB resized to ``num_px`` x ``num_px``, flattened the course's
    way: ``(num_px * num_px * 3, 1)`` float64 in [0, 1] (the course's "your own image").
    Samples of more than 8 bits are scaled to 8 by their range (not clipped), so the same grey
    reads as the same image at any depth.

    Raises:
      OptionError: Pillow is not installed (the ``plot`` extra).
      DataError: the file is missing, not a regular file, not a readable image, has more
        than :data:`~jaxdnn.core.limits.MAX_IMAGE_PIXELS` pixels, or samples whose range is
        not known (or outside it, as a negative integer or a float outside [0, 1]).
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
            eight = _eight_bits(image, path)
            try:
                rgb = eight.convert("RGB")
            except ValueError:
                raise DataError(f"{path}: an image of mode {image.mode!r}, which cannot be read "
                                f"as RGB; save it as 8-bit RGB") from None
            pixels = np.asarray(rgb.resize((num_px, num_px)))
    except DataError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    return pixels.reshape(1, -1).T / 255.0


def _eight_bits(image, path):
    """``image`` with samples of more than 8 bits as 8-bit greyscale, scaled by their range (its
    top becomes 255); other images as they are."""
    from PIL import Image

    if image.mode in _SIXTEEN_BITS:
        values, top = np.asarray(image), 65535
    elif image.mode == "I":
        values, top = _integers(image, path)
    elif image.mode == "F":
        values, top = np.asarray(image, np.float64), 1.0
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise DataError(f"{path}: a floating-point image with values "
                            f"{np.nanmin(values):g}..{np.nanmax(values):g}; its intensities "
                            f"must lie in [0, 1]")
    else:
        return image
    return Image.fromarray(np.round(values.astype(np.float64) * (255 / top)).astype(np.uint8))


def _integers(image, path):
    """The samples of a mode ``I`` (32-bit integer) image and the top of their range: a TIFF's
    from its tags (Pillow reads unsigned 32-bit samples as signed: they are read back as
    unsigned), 16 bits for the PNG and PPM files Pillow reads in this mode."""
    values = np.asarray(image)
    if image.format == "TIFF":
        bits, sample_format = (image.tag_v2.get(tag, (default,)) for tag, default in
                               ((_BITS_PER_SAMPLE, 32), (_SAMPLE_FORMAT, 1)))
        bits = bits[0] if isinstance(bits, tuple) else bits
        signed = (sample_format[0] if isinstance(sample_format, tuple) else sample_format) == 2
        if bits == 32 and not signed:
            values = values.view(np.uint32)
        top = 2 ** (bits - signed) - 1
    elif image.format in ("PNG", "PPM"):
        top = 65535
    else:
        raise DataError(f"{path}: a 32-bit integer image (mode 'I') of a {image.format} file, "
                        f"whose range is not known; save it as an 8- or 16-bit PNG")
    if values.min() < 0:
        raise DataError(f"{path}: an integer image with negative values ({values.min()}); its "
                        f"samples must lie in 0..{top}")
    return values, top
