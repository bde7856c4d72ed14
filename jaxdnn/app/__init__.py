"""The ``jaxdnn`` command and what a run is: settings, resume and lock, segments and
checkpoints, outputs and figures, the studies, signals and the compilation cache. The top
floor: it may import every other."""
