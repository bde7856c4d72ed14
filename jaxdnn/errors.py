"""The errors jaxdnn raises for bad input.

Every error is a :class:`JaxdnnError`, and also the built-in type callers already catch:
shape and value problems are ``ValueError``; an argument of the wrong type or dtype is a
``TypeError``; unknown names and missing parameter entries are ``KeyError``; numbers that left
the finite range are ``FloatingPointError``; a function under check that raised is a
``RuntimeError``. Messages name the argument, the layer and the shapes.
"""


class JaxdnnError(Exception):
    """Base class of every error jaxdnn raises on purpose."""


class ShapeError(JaxdnnError, ValueError):
    """An array has the wrong shape or rank, or layer sizes are invalid."""


class NameLookupError(JaxdnnError, KeyError):
    """An unknown name (activation, scheme) or a missing/extra parameter entry."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class InputTypeError(JaxdnnError, TypeError):
    """An argument of the wrong type or dtype (a list for an array, text for a number)."""


class OptionError(JaxdnnError, ValueError):
    """An option is out of range or inconsistent with the others (a rate, a count, a dtype)."""


class SaturationError(JaxdnnError, FloatingPointError):
    """The course's literal output chain met a probability of exactly 0 or 1 (a saturated sigmoid),
    where its cost and gradient are not finite; the stable path has no such limit."""


class NumericalOverflow(JaxdnnError, FloatingPointError):
    """Finite inputs gave values that are not finite (called eagerly): the message names the step
    (the forward pass, the backward pass or the update) and the layer where they stopped being
    finite (``where``), then what to do about it."""

    def __init__(self, where, advice=""):
        super().__init__(where + advice)
        self.where = where


class TrainingDiverged(JaxdnnError, FloatingPointError):
    """Training produced a non-finite cost or parameters and stopped.

    Attributes:
      iteration: the first iteration whose cost or update was not finite.
      parameters: the last finite parameters (those that iteration started from).
      costs: the recorded costs up to and including that iteration.
      where: where that iteration's step stopped being finite (the step and the layer), or
        None where it could not be run again.
    """

    def __init__(self, iteration, parameters, costs, where=None, initial=False):
        """``initial``: ``where`` is in the forward or backward pass of a fresh run's first
        iteration, which no learning rate causes."""
        at = f" ({where})" if where else ""
        super().__init__(
            f"the initial parameters already overflow{at}: the learning rate is not the "
            f"cause; scale the initialisation down (init 'he' or 'scaled'), use fewer layers, or "
            f"scale the inputs to about [-1, 1]" if initial else
            f"training diverged at iteration {iteration} (cost {costs[-1]:g}){at}: the last "
            f"finite parameters are kept; try a smaller learning rate"
        )
        self.iteration, self.parameters, self.costs, self.where = (iteration, parameters, costs,
                                                                   where)


class DataError(JaxdnnError, ValueError):
    """Unusable data: NaN or infinite values, labels other than 0 and 1, or a data or parameter
    file that is missing, unreadable, or not in the expected layout."""


class FunctionError(JaxdnnError, RuntimeError):
    """A function under check (a layer's forward or backward) raised: the message names the
    function, its error and the inputs it was given; the original error is the ``__cause__``."""
