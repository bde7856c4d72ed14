"""The course's chain: layout, checks, activations, outputs, kernels, layers, network, init and
prediction. Imports nothing of jaxdnn but :mod:`jaxdnn.errors`."""
