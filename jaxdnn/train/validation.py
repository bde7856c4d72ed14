"""Validation sets: held out of the training data (stratified, seeded) or given, for early
stopping and the validation curve."""

import numpy as np

from ..core import checks as check
from ..errors import InputTypeError, OptionError


def held_out(X, Y, config, validation_data, parameters, output, plan):
    """``(X, Y, validation)``: the training examples and the validation set, held out of them
    by ``validation_fraction`` or given."""
    if config.patience is not None and validation_data is None and not config.validates():
        raise OptionError("early stopping (patience) watches a validation set: give "
                          "validation_fraction or validation_data=(X, Y)")
    if validation_data is not None:
        if config.validates():  # (fit_stream's X is None: it never holds examples out)
            raise OptionError("give validation_fraction or validation_data, not both")
        if not (isinstance(validation_data, (list, tuple)) and len(validation_data) == 2):
            raise InputTypeError("validation_data must be a pair (X, Y)")
        Xv, Yv = validation_data
        _, Yv = check.problem(Xv, Yv, parameters, output, "validation_data's Y",
                              "validation_data's X")
        return X, Y, (Xv, Yv)
    if not config.validates():
        return X, Y, None
    if plan is not None:
        raise OptionError("validation_fraction holds examples out of one process's data: with "
                          "mesh=, give validation_data=(X, Y)")
    train, held = stratified_split(np.asarray(Y), config.validation_fraction,
                                   config.validation_seed, output.one_hot)
    X, Y = np.asarray(X), np.asarray(Y)
    return X[:, train], Y[:, train], (X[:, held], Y[:, held])


def stratified_split(Y, fraction, seed, one_hot=False):
    """``(train, held)`` column indices of labels Y (n[L], m): ``fraction`` of each class held
    out (at least one example of a class of two or more), drawn by ``numpy``'s
    ``default_rng(seed)``; both sorted. Labels of several sigmoid outputs split at random."""
    m = Y.shape[1]
    classes = (np.argmax(Y, axis=0) if one_hot else Y[0].astype(np.int64)) if (
        one_hot or Y.shape[0] == 1) else np.zeros(m, np.int64)
    rng, held = np.random.default_rng(seed), []
    for c in np.unique(classes):
        members = np.flatnonzero(classes == c)
        k = int(round(fraction * len(members)))
        k = min(max(k, 1 if len(members) > 1 else 0), len(members) - 1)
        held.extend(rng.permutation(members)[:k].tolist())
    held = np.sort(np.asarray(held, np.int64))
    if len(held) == 0 or len(held) == m:
        raise OptionError(f"validation_fraction {fraction} of {m} examples holds out "
                          f"{len(held)}: both the training and the validation set need one")
    return np.setdiff1d(np.arange(m), held), held


# --- a state for the run ---------------------------------------------------------------------
