"""Files and data: atomic writes, model and checkpoint files, the data sets, images and
streamed examples. Imports :mod:`jaxdnn.core` and nothing above it."""
