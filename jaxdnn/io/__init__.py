"""Files and data: atomic writes, model and checkpoint files, HDF5 data files' storage, the data
sets, images and streamed examples. Imports :mod:`jaxdnn.core` and nothing above it."""
