"""A ``jaxdnn train`` run: trained by the driver in segments that end with a checkpoint and that
a signal can stop, then its outputs written.

A run writes into one folder: ``checkpoint.npz`` every ``checkpoint_every`` epochs (with full
batches an epoch is one iteration), then ``model.npz``, ``metrics.json`` and its figures once
training is complete. The settings are recorded in each checkpoint, with the loop's state
(:class:`~jaxdnn.TrainState`), so a resumed run computes the bits the run would have computed
uninterrupted, however it was cut.
"""

import os
from typing import NamedTuple

import jax
import numpy as np

from ..core.activations import Activation
from ..core.outputs import get_output
from ..course.models import initial_parameters
from ..errors import DataError, OptionError
from ..io import datasets
from ..io.files import check_targets
from ..io.models import checked_metadata, load_model
from ..train import driver
from ..train.batches import epoch_costs
from ..train.loop import initial_opt_state
from ..train.mesh import data_mesh
from ..train.state import TrainState, load_checkpoint, save_checkpoint
from . import folders, outputs, signals
from .folders import exclusive
from .settings import CHECKPOINT, finished, is_user_activation, progress, recorded, resume_command


class Stopped(NamedTuple):
    """A run stopped by a signal after saving its checkpoint."""

    signum: int
    epoch: int


class Finished(NamedTuple):
    """A resumed run that was already complete, whose outputs are there: nothing is
    rewritten."""

    epoch: int
    total: int
    unit: str


def execute(settings, out, *, data_dir="datasets", resume_from=None, on_cost=None, figures=True,
            gram="auto", activation=None, devices=None, overwrite=False):
    """Train ``settings`` into the folder ``out`` (from the checkpoint ``resume_from`` if
    given) and write its outputs. Returns the metrics, or :class:`Stopped` if a signal stopped
    it. ``on_cost(i, cost)`` hears every PRINT_EVERY-th iteration's (epoch's) cost.

    A float64 run needs jax's x64 mode, which the command turns on. ``gram``: as
    :func:`~jaxdnn.fit` (False: the plain loop); the metrics record the path taken. A run
    whose ``hidden_activation`` is a user's ``module:object`` trains with ``activation``, the
    :class:`~jaxdnn.Activation` the caller imported from there: a run never imports code that a
    file names. ``devices``: shard the examples over that many devices (not a setting of the
    run: a run may resume on another count).

    A folder holds one run: a new run into ``out`` that holds another finished run's outputs is
    refused unless ``overwrite`` (then the other run's files are all replaced or removed);
    resuming a complete run whose outputs are there returns :class:`Finished` and rewrites
    nothing unless ``overwrite``.
    """
    if is_user_activation(settings.hidden_activation) != isinstance(activation, Activation):
        raise OptionError(f"activation= is the pair of a run whose hidden activation is a "
                          f"user's module:object, and only then; the run's is "
                          f"{settings.hidden_activation!r}, activation={activation!r}")
    placement = None if devices is None else data_mesh(devices)
    with exclusive(out):
        check_targets(out, (*outputs.FILES, CHECKPOINT), OptionError)  # before any training
        held = folders.finished_outputs(out)
        checkpoint = os.path.join(out, CHECKPOINT)
        if resume_from and os.path.realpath(checkpoint) == os.path.realpath(resume_from):
            done, total, unit, complete = progress(checkpoint)
            if complete and "model.npz" in held and not overwrite:
                return Finished(done, total, unit)
        elif (finished(checkpoint) or held) and not overwrite:  # an unfinished run: refused
            raise OptionError(f"--out {out} holds another finished run "
                              f"({', '.join(held or [CHECKPOINT])}): choose another --out, or "
                              f"add --overwrite to replace it")
        result = _execute(settings, out, data_dir, resume_from, on_cost, figures,
                          settings.config(activation, gram).replace(donate=True), placement)
        written = result["files"] if isinstance(result, dict) else []
        for name in set(held) - set(written):  # the other run's files this run did not write
            os.unlink(os.path.join(out, name))
        return result


def _execute(settings, out, data_dir, resume_from, on_cost, figures, config, placement):
    checkpoint = os.path.join(out, CHECKPOINT)
    same = resume_from and os.path.realpath(checkpoint) == os.path.realpath(resume_from)
    stale = not same and finished(checkpoint)
    split = datasets.load_split(settings.dataset, data_dir, settings.data_seed,
                                multiclass=get_output(settings.output).one_hot)
    train_x, train_y, test_x, test_y, _ = split
    parameters = _initial(settings, resume_from, split)
    curved = settings.unit == "epoch" or config.validates()
    random = settings.unit == "epoch" or config.keep_prob != 1.0  # shuffles or drops units
    key = jax.random.fold_in(jax.random.PRNGKey(settings.seed), 1) if random else None
    run = driver.prepare(train_x, train_y, parameters, config, key=key,
                         monitor=[(test_x, test_y)] if curved else [], placement=placement,
                         reporting=on_cost is not None, every=settings.checkpoint_every,
                         monitor_training=curved)
    state, costs, curves = _start(run, parameters, resume_from)
    checkpoint_kept = (f"; the last checkpoint is kept; continue with: "
                       f"{resume_command(out, settings, data_dir)}")
    # a first signal stops at the next segment's end, and one while the outputs are written
    # waits for them; without checkpoints a signal ends the process at once
    with (signals.deferred(lambda: checkpoint_kept if os.path.exists(checkpoint) else "")
          if settings.checkpoint_every else signals.handled()) as stop:
        return _finish(settings, run, state, costs, curves, out, on_cost, stop, stale, split,
                       figures, resume_from, data_dir)


def _finish(settings, run, state, costs, curves, out, on_cost, stop, stale, split, figures,
            resume_from, data_dir):
    """Train the run from ``state`` (:func:`_train`), then write its outputs."""
    checkpoint, config = os.path.join(out, CHECKPOINT), run.config
    outcome, stopped = _train(settings, run, state, costs, curves, out, on_cost, stop)
    if outcome.diverged >= 0:
        raise driver.diverged(run, outcome, fresh=resume_from is None)
    costs = np.concatenate([costs, outcome.costs])
    curves = np.concatenate([curves, _epoch_rows(run, outcome.monitored, state.iteration)])
    if stopped is not None:
        return stopped
    if stale and not settings.checkpoint_every:
        os.unlink(checkpoint)  # another run's: not to be left beside these outputs
    if run.batched:
        costs = epoch_costs(costs, run.m, config.batch_size(run.m))
    early = (outcome.state.loop or {}).get("early")
    report = _early_report(run, outcome, curves) if early else None
    with signals.saving():  # all the outputs, or none
        return outputs.write_run(out, settings,
                                 early["best"] if early else outcome.state.parameters, costs,
                                 curves, split, figures, run.program.body.name,
                                 config.hidden_activation, report,
                                 data_dir if settings.dataset in datasets.IMAGES else None)


def _initial(settings, resume_from, split):
    """The run's initial parameters: its checkpoint's, or the course's draw."""
    train_x, classes = split[0], split[4]
    if resume_from:
        parameters = load_model(resume_from)[0]
        if parameters["W1"].shape[1] != train_x.shape[0]:
            raise DataError(f"{resume_from} was trained on {parameters['W1'].shape[1]} features, "
                            f"but data set {settings.dataset!r} has {train_x.shape[0]}")
        return parameters
    outputs = len(classes) if get_output(settings.output).one_hot else 1
    return initial_parameters([train_x.shape[0], *settings.hidden, outputs], settings.init,
                              settings.seed, settings.course_scheme, settings.dtype)


def _start(run, parameters, resume_from):
    """``(state, costs, curves)`` the run starts from: its checkpoint's, or nothing yet."""
    like = initial_opt_state(parameters, run.config.momentum, run.program.optimizer)
    if not resume_from:
        return (TrainState(parameters, like, 0), np.zeros(0),
                np.zeros((0, run.program.monitors)))
    state, costs, meta = load_checkpoint(resume_from, like)
    monitors = run.program.monitors
    checked_metadata(meta, recorded(monitors), resume_from)
    rows = meta.get("curves", [])
    curves = np.asarray(rows, float).reshape(len(rows), monitors)
    epochs = state.iteration // run.per_epoch
    if state.iteration % run.per_epoch or len(curves) != (epochs if monitors else 0) \
            or meta.get("epoch", epochs) != epochs:
        raise DataError(f"{resume_from}: its iterations, epoch and learning curves do not fit "
                        f"epochs of {run.per_epoch} batches")
    return state, costs, curves


def _train(settings, run, state, costs, curves, out, on_cost, stop):
    """Drive the run, a checkpoint at every ``checkpoint_every`` epochs; a first signal
    (recorded in ``stop``) stops it at the next segment's end, with a checkpoint (or at the
    checkpoint being saved when it came). Returns
    ``(outcome, Stopped or None)``."""
    checkpoint = os.path.join(out, CHECKPOINT)
    every, per_epoch, start = settings.checkpoint_every, run.per_epoch, state.iteration
    stopped = []

    def on_segment(outcome):
        epoch = outcome.state.iteration // per_epoch
        asked = stop.signum is not None and outcome.state.iteration < run.steps
        if every and outcome.diverged < 0 and (epoch % every == 0 or asked or outcome.stopped >= 0
                                               or outcome.state.iteration == run.steps):
            done = np.concatenate([costs, outcome.costs])
            rows = np.concatenate([curves, _epoch_rows(run, outcome.monitored, start)])
            with signals.saving():  # a signal now waits for the checkpoint, then stops here
                save_checkpoint(checkpoint, outcome.state, done,
                                {"run": settings._asdict(), "epoch": epoch,
                                 "curves": rows.tolist(),
                                 "stopped_early": bool(outcome.stopped >= 0)})
            asked = stop.signum is not None and outcome.state.iteration < run.steps
        if asked:
            stopped.append(Stopped(stop.signum, epoch))
        return asked

    outcome = driver.drive(run, driver.start_state(run, state), run.steps - start,
                           on_cost=on_cost, every=every, on_segment=on_segment)
    return outcome, (stopped[0] if stopped else None)


def _epoch_rows(run, monitored, start):
    """The monitored rows at epochs' ends, of a call that started at iteration ``start``."""
    if not run.program.monitors:
        return np.zeros((0, 0))
    first = (run.per_epoch - 1 - start) % run.per_epoch
    return monitored[first::run.per_epoch]


def _early_report(run, outcome, curves):
    """Early stopping's facts for the metrics: the best epoch and the one it stopped after."""
    validation = curves[:, -1]
    best = int(np.argmin(np.where(np.isnan(validation), np.inf, validation)))
    return {"best_epoch": best, "stopped_epoch": (outcome.stopped // run.per_epoch
                                                  if outcome.stopped >= 0 else None),
            "best_validation_cost": float(validation[best])}
