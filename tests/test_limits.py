"""The memory budget: the tightest of MemAvailable, the memory cgroup and the address-space
rlimit, read from the kernel's files (here, fake ones) and, for the rlimit, in a process that
sets one."""

import subprocess
import sys
import textwrap

import pytest

from jaxdnn.core import limits
from jaxdnn.errors import DataError, ShapeError

GiB = 2**30


def _kernel(tmp_path, monkeypatch, cgroup, files, meminfo_kib=64 * 2**20):
    """Fake /proc and /sys/fs/cgroup under ``tmp_path``: ``cgroup`` is /proc/self/cgroup's
    text, ``files`` maps paths under the cgroup root to their contents."""
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal: 1 kB\nMemAvailable: {meminfo_kib} kB\n")
    (proc / "self" / "cgroup").write_text(cgroup)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.setattr(limits, "PROC_ROOT", str(proc))
    monkeypatch.setattr(limits, "CGROUP_ROOT", str(root))
    monkeypatch.setattr(limits, "_address_space", lambda: None)


def test_meminfo_alone(tmp_path, monkeypatch):
    _kernel(tmp_path, monkeypatch, "0::/\n", {}, meminfo_kib=3 * 2**20)
    assert limits.available_memory() == 3 * GiB


def test_cgroup_v2_limit_less_its_usage(tmp_path, monkeypatch):
    _kernel(tmp_path, monkeypatch, "0::/user/job\n", {
        "user/job/memory.max": f"{8 * GiB}\n", "user/job/memory.current": f"{6 * GiB}\n",
        "user/memory.max": "max\n", "memory.max": "max\n"})
    assert limits.available_memory() == 2 * GiB


def test_cgroup_v2_a_parents_limit_counts_too(tmp_path, monkeypatch):
    _kernel(tmp_path, monkeypatch, "0::/user/job\n", {
        "user/job/memory.max": "max\n", "user/job/memory.current": f"{GiB}\n",
        "user/memory.max": f"{5 * GiB}\n", "user/memory.current": f"{4 * GiB}\n"})
    assert limits.available_memory() == GiB


def test_cgroup_v1_limit_in_bytes_less_its_usage(tmp_path, monkeypatch):
    _kernel(tmp_path, monkeypatch, "9:pids:/\n4:memory:/docker/abc\n0::/\n", {
        "memory/docker/abc/memory.limit_in_bytes": f"{4 * GiB}\n",
        "memory/docker/abc/memory.usage_in_bytes": f"{GiB}\n",
        "memory/memory.limit_in_bytes": "9223372036854771712\n",  # the root: no limit
        "memory/memory.usage_in_bytes": f"{40 * GiB}\n"})
    assert limits.available_memory() == 3 * GiB


def test_unreadable_or_garbled_cgroup_files_are_ignored(tmp_path, monkeypatch):
    _kernel(tmp_path, monkeypatch, "garbage\n4:memory\n0::/x\n", {
        "x/memory.max": "lots\n", "memory.max": ""}, meminfo_kib=2**20)
    assert limits.available_memory() == GiB


def test_the_tightest_budget_wins(tmp_path, monkeypatch):
    _kernel(tmp_path, monkeypatch, "0::/\n", {"memory.max": f"{10 * GiB}",
                                              "memory.current": f"{GiB}"}, meminfo_kib=2**20)
    assert limits.available_memory() == GiB
    monkeypatch.setattr(limits, "_address_space", lambda: GiB // 2)
    assert limits.available_memory() == GiB // 2


RLIMIT = """
import resource
from jaxdnn.core import limits
before = limits.available_memory()
status = open("/proc/self/status").read()
vm = int(next(l for l in status.splitlines() if l.startswith("VmSize:")).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 300 * 2**20, resource.RLIM_INFINITY))
print(before, limits.available_memory())
"""


def test_the_address_space_rlimit_is_read_in_a_process_under_one():
    """Under ``setrlimit(RLIMIT_AS)`` 300 MiB above the address space in use, the budget is
    about 300 MiB, however much memory the machine has."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(RLIMIT)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    before, after = map(int, result.stdout.split())
    assert 250 * 2**20 < after <= 300 * 2**20, after
    assert before > after


def test_fits_names_what_the_estimate_and_the_memory(monkeypatch):
    monkeypatch.setattr(limits, "available_memory", lambda: 100 * 2**20)
    limits.fits(100 * 2**20, "anything")
    with pytest.raises(ShapeError, match=r"^loading 10,000 rows takes 200 MiB \(2 copies\), "
                                         r"more than the 100 MiB of memory available$"):
        limits.fits(200 * 2**20, "loading 10,000 rows", detail=" (2 copies)")
    monkeypatch.setattr(limits, "available_memory", lambda: 200_000)
    with pytest.raises(DataError, match="reading the labels takes 0.5 MiB, more than the 0.19 MiB"):
        limits.fits(2**19, "reading the labels", DataError)
    monkeypatch.setattr(limits, "available_memory", lambda: None)
    limits.fits(10**18, "anything")  # nothing known: nothing refused
