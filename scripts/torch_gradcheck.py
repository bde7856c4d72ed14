"""torch.autograd.gradcheck on a hand-written pair that lives in another process.

Run by scripts/bench_verify.py under a Python that has torch (and numpy, but not jax): each
request on stdin names a point (the inputs' arrays); the pair's forward and backward are
evaluated by the parent (jax), which answers this process's calls on the same pipes. The pair
becomes a ``torch.autograd.Function`` whose forward and backward are those calls, so gradcheck
sees exactly what a user's custom Function would give it. Messages are pickles of plain
tuples (dtype string, shape, bytes), readable whatever numpy each side has.
"""

import argparse
import pickle
import struct
import sys
import warnings

import numpy as np

torch = None  # imported in main: --help runs without torch


def send(message, stream=sys.stdout.buffer):
    data = pickle.dumps(message, protocol=4)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def receive(stream=sys.stdin.buffer):
    size = struct.unpack("<Q", stream.read(8))[0]
    return pickle.loads(stream.read(size))


def encode(arrays):
    return [(a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes()) for a in arrays]


def decode(items):
    return [np.frombuffer(b, np.dtype(t)).reshape(s).copy() for t, s, b in items]


def call(kind, *groups):
    send((kind, *[encode([t.detach().numpy() for t in g]) for g in groups]))
    return [torch.from_numpy(a) for a in decode(receive()[1])]


def pair_function():
    class Pair(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *x):
            ctx.save_for_backward(*x)
            return call("forward", x)[0]

        @staticmethod
        def backward(ctx, d):
            return tuple(call("backward", ctx.saved_tensors, [d]))

    return Pair


def main():
    global torch
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    import torch
    Pair = pair_function()
    warnings.simplefilter("ignore")  # gradcheck warns on float32 inputs: the figure says so
    while True:
        request = receive()
        if request[0] == "quit":
            return
        inputs = [torch.from_numpy(a).requires_grad_(True) for a in decode(request[1])]
        try:
            passed = torch.autograd.gradcheck(Pair.apply, tuple(inputs), raise_exception=False)
            verdict = "pass" if passed else "fail"
        except Exception as e:  # noqa: BLE001 - torch rejects a misshapen gradient by raising
            verdict = f"error: {type(e).__name__}"
        send(("done", verdict))


if __name__ == "__main__":
    main()
