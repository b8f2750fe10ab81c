"""Growing datasets for the dump writer: rows buffered and written whole chunks at a time."""

import numpy as np

# Chunks of about this many uncompressed bytes: large enough for gzip to work
# well, small enough that a reader's hyperslab touches little it does not need.
_CHUNK_BYTES = 1 << 17


def _chunk_rows(row_bytes):
    return int(min(1 << 16, max(64, _CHUNK_BYTES // max(1, row_bytes))))


class _Column:
    """A dataset that grows along its first axis.

    Rows are buffered in memory and written a whole number of chunks at a time, so
    each compressed chunk is written once instead of being re-read and re-compressed
    on every small append.
    """

    def __init__(self, parent, name, dtype, row_shape, compression_level):
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(row_shape)
        row_bytes = self.dtype.itemsize * int(np.prod(self.row_shape, dtype=np.int64))
        self.chunk = _chunk_rows(row_bytes)
        self.ds = parent.create_dataset(
            name,
            shape=(0,) + self.row_shape,
            maxshape=(None,) + self.row_shape,
            dtype=self.dtype,
            chunks=(self.chunk,) + self.row_shape,
            compression="gzip",
            compression_opts=compression_level,
            shuffle=True,
        )
        self._pending = []
        self._pending_rows = 0
        self.rows = 0  # rows appended so far, written or buffered

    def append(self, block):
        if block.shape[0] == 0:
            return
        self._pending.append(np.ascontiguousarray(block, dtype=self.dtype))
        self._pending_rows += block.shape[0]
        self.rows += block.shape[0]
        if self._pending_rows >= self.chunk:
            self._write(whole_chunks_only=True)

    def flush(self):
        self._write(whole_chunks_only=False)

    def _write(self, whole_chunks_only):
        if not self._pending_rows:
            return
        data = np.concatenate(self._pending, axis=0) if len(self._pending) > 1 else self._pending[0]
        n = (data.shape[0] // self.chunk) * self.chunk if whole_chunks_only else data.shape[0]
        if n == 0:
            return
        start = self.ds.shape[0]
        self.ds.resize(start + n, axis=0)
        self.ds[start : start + n] = data[:n]
        rest = data[n:]
        self._pending = [rest] if rest.shape[0] else []
        self._pending_rows = rest.shape[0]
