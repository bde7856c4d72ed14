"""Two installed versions of jaxdnn side by side: whole ``jaxdnn train`` commands, interleaved.

    python scripts/bench_versions.py OLD_JAXDNN NEW_JAXDNN [--data-dir DIR] [--rounds N]

OLD_JAXDNN and NEW_JAXDNN are the ``jaxdnn`` console scripts of two installs (each in its own
virtual environment, e.g. a ``git worktree`` of the older commit with ``pip install -e``). Each
round runs the cat command (when the data is there) and the planar command with each version,
first with an empty compilation-cache folder (cold) and then with the folder that run filled
(cached). Prints the median wall and CPU seconds per version and the median of the per-round
ratios old / new with their range (above 1: the new version is faster).
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time


def timed(command, cache, out):
    """(wall s, CPU s) of one new process."""
    env = dict(os.environ, JAXDNN_CACHE_DIR=cache, JAX_PLATFORMS="cpu")
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([*command, "--out", out], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the older version's jaxdnn script")
    parser.add_argument("new", help="the newer version's jaxdnn script")
    parser.add_argument("--data-dir", default="datasets")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    cases = {"planar": ["train"]}
    if os.path.exists(os.path.join(args.data_dir, "train_catvnoncat.h5")):
        cases["cat"] = ["train", "--dataset", "cat", "--data-dir", args.data_dir]
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for case, argv in cases.items():
                for version in ("old", "new"):
                    command = [getattr(args, version), *argv]
                    cache = os.path.join(tmp, f"{version}-{case}")
                    shutil.rmtree(cache, ignore_errors=True)
                    for state in ("cold", "cached"):
                        times.setdefault((case, state, version), []).append(
                            timed(command, cache, os.path.join(tmp, "out")))
    print(f"{'command':16} {'old wall s':>10} {'CPU s':>6} {'new wall s':>10} {'CPU s':>6} "
          f"{'old / new':>9}  range")
    for case in cases:
        for state in ("cold", "cached"):
            old, new = times[case, state, "old"], times[case, state, "new"]
            ratios = [o / n for (o, _), (n, _) in zip(old, new, strict=True)]
            print(f"{case + ', ' + state:16} {statistics.median(w for w, _ in old):10.2f} "
                  f"{statistics.median(c for _, c in old):6.2f} "
                  f"{statistics.median(w for w, _ in new):10.2f} "
                  f"{statistics.median(c for _, c in new):6.2f} "
                  f"{statistics.median(ratios):9.2f}  {min(ratios):.2f}-{max(ratios):.2f}")


if __name__ == "__main__":
    main()
