"""A user's code that the command imports: ``module:object`` from the current folder, an
activation pair or a layer to check. Whatever that code raises is one line of the command."""

import importlib
import os
import sys
import traceback

from ..core.activations import Activation, get_activation
from ..errors import JaxdnnError, OptionError


def activation(spec, option="--activation"):
    """``module:object``, an :class:`~jaxdnn.Activation` importable from the current folder and
    following the contract (:func:`~jaxdnn.get_activation` tries it)."""
    def accept(found, name):
        if not isinstance(found, Activation):
            raise OptionError(f"{option} {spec} is a {type(found).__name__}, not an Activation "
                              f"(build it with jaxdnn.custom_activation)")
        return get_activation(found if found.name else found._replace(name=name))
    return _imported(spec, option, accept)


def layer(spec, option="--layer"):
    """``module:object`` with ``forward``, ``backward`` and ``inputs`` (a tuple of example
    arrays, or a function of no arguments returning one): ``(forward, backward, inputs)``."""
    def accept(found, name):
        missing = [a for a in ("forward", "backward", "inputs") if not hasattr(found, a)]
        if missing:
            raise OptionError(f"{option} {spec} has no {', '.join(missing)}: the object needs "
                              f"forward, backward and inputs (example arrays)")
        inputs = found.inputs() if callable(found.inputs) else found.inputs
        return found.forward, found.backward, tuple(inputs)
    return _imported(spec, option, accept)


def _imported(spec, option, accept):
    """``accept(object, name)`` of ``module:object`` imported from the current folder. Whatever
    the user's code raises or exits with, on import or when tried, is one OptionError quoting
    it; with ``JAXDNN_DEBUG=1`` its traceback is printed first, on stderr."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise OptionError(f"{option} takes module:object; got {spec!r}")
    if module.startswith("."):
        raise OptionError(f"{option} {spec}: a relative module name; name a module of the "
                          f"current folder, as in {module.lstrip('.') or 'myact'}:{name}")
    step = f"importing {module}"
    sys.path.insert(0, os.getcwd())
    try:
        found = importlib.import_module(module)
        step = f"looking up {name} in {module}"
        found = getattr(found, name)
        step = "trying it"
        return accept(found, name)
    except (Exception, SystemExit) as e:  # the user's code: anything, sys.exit included
        debug = os.environ.get("JAXDNN_DEBUG", "") not in ("", "0")
        if debug:
            traceback.print_exception(e.__cause__ or e, file=sys.stderr)
        if isinstance(e, JaxdnnError):
            raise OptionError(str(e) if str(e).startswith(option) else
                              f"{option} {spec}: {e}") from None
        what = (f"called sys.exit({e.code!r})" if isinstance(e, SystemExit) else
                f"raised {type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}")
        hint = "" if debug else " (JAXDNN_DEBUG=1 shows the traceback)"
        raise OptionError(f"{option} {spec}: {step} {what}{hint}") from None
    finally:
        sys.path.pop(0)
