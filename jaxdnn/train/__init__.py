"""Training: options, state, the loop bodies, the device mesh and the faces over them (fit,
train_steps, fit_many, fit_stream). Imports :mod:`jaxdnn.core` and :mod:`jaxdnn.io`."""
