"""The course's assignments under their own names: the course models (and the table of their
settings), the planar assignment, logistic regression and the numpy warm-up. Imports
:mod:`jaxdnn.core` and :mod:`jaxdnn.train`."""
