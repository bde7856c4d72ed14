"""The command's output streams."""

import os


class Quiet:
    """``sys.stdout`` for the command's run: once its reader has gone (a closed pipe, as in
    ``jaxdnn train | head -1``) what is printed is dropped, quietly, and the run goes on to write
    its checkpoint and outputs; a closed stdout never loses work."""

    def __init__(self, stream):
        self.stream, self.gone = stream, False

    def write(self, text):
        if not self.gone:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self):
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._gone()

    def _gone(self):
        self.gone = True
        try:  # what the stream still holds is flushed nowhere at exit, without an error
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.stream.fileno())
            os.close(null)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name):
        return getattr(self.stream, name)
