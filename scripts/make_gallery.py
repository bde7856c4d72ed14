"""Regenerate the figures of docs/gallery with the jaxdnn command itself.

    python scripts/make_gallery.py               # the gallery as committed (minutes)
    python scripts/make_gallery.py --quick --out /tmp/g   # small settings, seconds

Each figure is drawn by a command a user can run (printed before it runs); runs write into a
scratch folder and the figures are copied under the gallery's names. The cat figures
(costs.png, mislabeled.png, compare.png) need the course's cat files in --data-dir; without
them they are skipped with a note, and the others are still drawn.
"""

import argparse
import os
import shutil
import sys
import tempfile

FULL = {"planar": 10000, "blobs": 2000, "digits": 200, "cat": 2500, "sweep": 5000, "sweep_seeds": 8,
        "compare_seeds": 32, "compare_iterations": 3000}
QUICK = {"planar": 50, "blobs": 50, "digits": 3, "cat": 5, "sweep": 50, "sweep_seeds": 1,
         "compare_seeds": 1,
         "compare_iterations": 5}


def figures(steps, data_dir):
    """``(command, {gallery name: file the command writes})``, in order; ``OUT`` is the
    command's output folder."""
    cat = os.path.isfile(os.path.join(data_dir, "train_catvnoncat.h5"))
    yield (["train", "--iterations", str(steps["planar"])],
           {"decision_boundary.png": "decision_boundary.png"})
    yield (["train", "--dataset", "blobs", "--output", "softmax", "--iterations",
            str(steps["blobs"])], {"softmax_blobs.png": "decision_boundary.png"})
    yield (["train", "--dataset", "digits", "--layers", "64,32", "--mini-batch-size", "64",
            "--l2", "0.1", "--keep-prob", "0.9", "--optimizer", "adam", "--epochs",
            str(steps["digits"])],
           {"digits_learning_curves.png": "learning_curves.png"})
    yield (["sweep", "--iterations", str(steps["sweep"]), "--seeds", str(steps["sweep_seeds"]),
            "--learning-rates", "1.2,0.5"],
           {"sweep.png": "sweep.png", "sweep_accuracy.png": "sweep_accuracy.png"})
    yield (["plot-activations"], {"activations.png": "activations.png"})
    if not cat:
        print(f"note: no cat files in {data_dir}: costs.png, mislabeled.png and compare.png "
              f"are skipped", file=sys.stderr)
        return
    yield (["train", "--dataset", "cat", "--data-dir", data_dir, "--iterations",
            str(steps["cat"])], {"costs.png": "costs.png", "mislabeled.png": "mislabeled.png"})
    yield (["compare", "--data-dir", data_dir, "--seeds", str(steps["compare_seeds"]),
            "--learning-rates", "0.0075,0.03,0.1", "--iterations",
            str(steps["compare_iterations"])], {"compare.png": "compare.png"})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "gallery"),
                        help="where the figures go (default: docs/gallery)")
    parser.add_argument("--data-dir", default="datasets",
                        help="folder of the cat .h5 files (default: datasets)")
    parser.add_argument("--only", type=lambda text: set(text.split(",")), metavar="NAMES",
                        help="comma-separated figures to draw (default: all), e.g. compare.png")
    parser.add_argument("--quick", action="store_true",
                        help="small settings: every figure drawn in seconds, not the gallery's")
    args = parser.parse_args(argv)
    from jaxdnn.app.cli import main as jaxdnn

    os.makedirs(args.out, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        for k, (command, names) in enumerate(figures(QUICK if args.quick else FULL,
                                                     args.data_dir)):
            if args.only and not args.only & set(names):
                continue
            out = os.path.join(scratch, str(k))
            command = [*command, "--out", out, *(["--quiet"] if command[0] != "plot-activations"
                                                 else [])]
            print("jaxdnn " + " ".join(command[:-3 if command[-1] == "--quiet" else -2]),
                  flush=True)
            code = jaxdnn(command)
            if code != 0:
                print(f"error: jaxdnn {command[0]} exited with {code}", file=sys.stderr)
                return code
            for name, made in names.items():
                shutil.copyfile(os.path.join(out, made), os.path.join(args.out, name))
                written.append(name)
    print(f"Wrote {', '.join(written)} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
