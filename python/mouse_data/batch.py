"""PrefetchBatchifier: [B, S] windows of consecutive steps, prefetched by C++ worker threads."""

from __future__ import annotations

import json
import os
import random
import sys
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import _core
from ._args import Args
from ._output import resolve_format, wrap, wrap_device
from .dataset_store import DatasetStore
from ._preparer import PreparerThread
from .errors import InvalidArgumentError, UsedAfterForkError, WrongTypeError

Sampling = Literal["random", "last", "sequential", "batch"]
Boundaries = Literal["none", "source", "episode"]
WeightMode = Literal["per_store", "per_step"]
Lengths = Literal["fixed", "ragged", "uniform"]
Layout = Literal["padded", "packed"]

_SAMPLINGS = ("random", "last", "sequential", "batch")
_BOUNDARIES = ("none", "source", "episode")
_WEIGHT_MODES = ("per_store", "per_step")
_LENGTHS = ("fixed", "ragged", "uniform")
_LAYOUTS = ("padded", "packed")

# Every batchifier alive in this process, so that a fork can pause their workers and a forked
# child can disown them.
_LIVE: weakref.WeakSet[PrefetchBatchifier] = weakref.WeakSet()
_PAUSED: list[PrefetchBatchifier] = []


def _before_fork() -> None:
    # Stop the workers, so that none holds a lock (of a store, of the allocator) that the child
    # would inherit locked: the child may then use the stores and make its own batchifiers.
    # The batches they had prefetched are made again after the fork.
    for bf in list(_LIVE):
        if bf._pid == os.getpid() and not bf._forked:
            bf._core.pause_workers()
            _PAUSED.append(bf)


def _after_fork_in_parent() -> None:
    for bf in _PAUSED:
        bf._core.resume_workers()
    _PAUSED.clear()


def _after_fork_in_child() -> None:
    # The workers of the parent's batchifiers do not exist in the child: mark the batchifiers
    # as inherited, and never destroy their cores (that would join threads that are gone).
    _PAUSED.clear()
    for bf in list(_LIVE):
        core = bf.__dict__.get("_core")
        if core is not None:
            _core.forget_after_fork(core)
        bf._forked = True
    _LIVE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)


@dataclass
class SampledBatch:
    """A batch with where it came from (``PrefetchBatchifier.next()``)."""

    data: Any
    """The TensorDict [b, S] (or dict of arrays); with ``boundaries="episode"`` or ``lengths``
    other than ``"fixed"`` also ``mask``. ``layout="packed"``: batch size [], columns [N, ...],
    ``sequence_id``, ``position``, ``cu_seqlens``, ``lengths``. With a ``preparer``: its
    output."""
    starts: list[int]
    """First store row of each window, in the order of the windows in the batch."""
    number: int
    """Batch number since construction (or restore), from 0."""
    epoch: int
    """Epoch (``sequential`` / ``batch`` sampling; 0 otherwise)."""
    stores: list[int] = field(default_factory=list)
    """Index (into ``stores``) of the store each window came from; all 0 with one store."""
    lengths: list[int] = field(default_factory=list)
    """Real rows of each window (S unless cut at a boundary, drawn shorter or padded)."""
    efficiency: float = 1.0
    """Real rows / all rows of the batch: sum(lengths) / (b * S) padded, / N packed (1.0
    without ``max_tokens``, since a packed batch holds only real rows)."""


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise InvalidArgumentError(
            f"environment variable {name} must be an integer, got {value!r}") from None


def _distributed() -> Any:
    """torch.distributed when it is imported and initialised (never imports torch itself)."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist
    return None


def resolve_rank(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """(rank, world_size): the given values, else torch.distributed's when it is initialised,
    else the ``RANK`` / ``WORLD_SIZE`` environment variables (as set by ``torchrun``), else a
    single process (0, 1)."""
    a = Args("PrefetchBatchifier", PrefetchBatchifier.__init__)
    rank = a.int("rank", rank, minimum=0, none=True)
    world_size = a.int("world_size", world_size, minimum=1, none=True)
    if rank is not None and world_size is not None:
        return rank, world_size
    dist = _distributed()
    if dist is not None:
        default = (dist.get_rank(), dist.get_world_size())
    elif "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        default = (_env_int("RANK"), _env_int("WORLD_SIZE"))
    else:
        default = None
    if default is None:
        if rank is not None or world_size is not None:
            given = "rank" if rank is not None else "world_size"
            raise InvalidArgumentError(
                f"PrefetchBatchifier: {given} was given without "
                f"{'world_size' if given == 'rank' else 'rank'}, and neither torch.distributed nor "
                "RANK / WORLD_SIZE provide it")
        return 0, 1
    return (int(rank) if rank is not None else default[0],
            int(world_size) if world_size is not None else default[1])


class PrefetchBatchifier:
    """Background-thread batchifier over a DatasetStore (the seed's ``mouse.data.PrefetchBatchifier``).

    Parameters
    ----------
    store : DatasetStore with data loaded; it must outlive the batchifier (kept referenced).
        A list of stores is the same as ``stores=``.
    sequence_length : S, consecutive steps per window (> 0).
    batch_size : B, windows per batch (> 0); None only with ``max_tokens`` (no bound).
    sampling : ``"random"`` (B starts uniform on [0, N-S], with replacement), ``"last"`` (the
        last B non-overlapping windows), ``"sequential"`` (windows 0..W-1 in order, a short last
        batch per epoch, then wrap) or ``"batch"`` (each epoch in a fresh random permutation).
    prefetch : Batches kept ready (>= 1).
    num_workers : C++ worker threads (0 = sample on the calling thread). Order is kept in every
        mode, so ``sequential`` / ``batch`` may use several workers. A ``next_batch`` whose
        batch is not ready yet, with room in the queue, assembles the next one itself (GIL
        released) rather than sleeping.
    pin_memory : Allocate batches in CUDA page-locked memory when a CUDA runtime is present
        (a warning and ordinary memory otherwise).
    device : Where batches are delivered: ``"cpu"`` (default), ``"cuda"``, ``"cuda:N"``, a
        ``torch.device`` or an index. On a GPU, batches are assembled in page-locked memory and
        copied to the device on a side CUDA stream as soon as they are made; ``next_batch``
        returns a TensorDict of device tensors whose copy the current torch stream waits for
        (no host synchronisation), and a batch's device memory is reused only after its
        tensors are gone and that stream has finished the work queued on them. ``"cuda"`` is
        the rank's local GPU (``LOCAL_RANK``, set by ``torchrun``) or GPU 0. Needs torch with
        CUDA and the ``torch`` format; without a CUDA runtime or device: ValueError. This is
        the one way onto the GPU: an augmenter's ``device`` does not move the batchifier's
        batches.
    seed : Makes every mode reproducible, whatever ``num_workers`` is (default: random).
    boundaries : ``"none"``, ``"source"`` (windows stay inside one loaded dataset or the buffer)
        or ``"episode"`` (inside one episode; short episodes are right-padded and a bool
        ``mask`` [B, S] marks real steps; padding has zeros, q_star -inf and time -1).
    augmenter : A TokenAugmenter applied to every batch as it is assembled (batch n gets the
        n-th snapshot and masks, reproducibly).
    format : Output type; defaults to the store's.
    stores : Several DatasetStores to mix (instead of ``store``). They must encode to the same
        columns (same max dims); a window never spans two stores. ``random`` draws each
        window's store by ``weights``; ``sequential`` / ``batch`` visit every store's windows
        once per epoch (store 0's first, then store 1's, ... or all in one permutation).
    weights : One weight >= 0 per store (default: all 1).
    lengths : ``"fixed"`` (S steps; with ``boundaries="episode"`` short episodes are padded),
        ``"ragged"`` (a start on any row; the window is cut, not padded, at the first boundary
        ``boundaries`` names and at the end of the store, so 1 <= length <= S) or
        ``"uniform"`` (a length drawn uniformly in [min_length, S], then cut as ``"ragged"``).
        ``sequential`` / ``batch`` / ``last`` with ``ragged`` / ``uniform`` tile every unit
        between boundaries with consecutive windows of S steps, the last one cut at the unit's
        end (every row once per epoch); the drawn lengths of ``uniform`` apply to ``random``.
        Not available over a remote store.
    min_length : Shortest drawn length with ``lengths="uniform"`` (1 <= min_length <= S).
    layout : ``"padded"`` ([B, S] tensors; ``mask`` whenever windows can be short) or
        ``"packed"``: a TensorDict with batch size [] holding every column flat [N, ...] (the
        windows one after another, in the order of ``starts``), ``sequence_id`` int64 [N],
        ``position`` int64 [N] (step within its window), ``cu_seqlens`` int32 [B+1]
        (FlashAttention's varlen convention) and ``lengths`` int64 [B].
    max_tokens : Token budget T of a packed batch: windows are drawn one after another and
        added while they fit; the one that would pass T is cut to fit (``random`` with
        ``lengths`` other than ``"fixed"``) or ends the batch (otherwise; under ``sequential``
        / ``batch`` it opens the next batch). Every batch has exactly T rows: the padding rows
        at the end have ``sequence_id = position = -1`` and the fill values of padding. Then
        ``batch_size`` bounds the windows per batch (``None``: no bound); with a batch_size B
        ``cu_seqlens`` is always [B+1] and ``lengths`` [B] (unused windows have length 0), so
        shapes are static for ``torch.compile`` / CUDA graphs. Needs ``layout="packed"`` and
        T >= S. ``next().efficiency`` is real rows / T.
    preparer : A callable run on every batch (the TensorDict, packed or padded, after the
        augmenter) on one Python thread fed by the C++ workers; ``next_batch()`` / iteration
        return its result and ``next().data`` holds it. Its exceptions are raised by the
        ``next_batch`` of that batch. It holds the GIL while it runs (see README).
    weight_mode : ``"per_store"`` (store i with probability weight_i / sum) or ``"per_step"``
        (weight_i * len(store_i) / sum: equal weights draw every step equally often). A store
        without a window yet is left out of the draw until it has one.
    rank, world_size : This process among ``world_size`` training processes. Default: from
        ``torch.distributed`` when it is initialised, else the ``RANK`` / ``WORLD_SIZE``
        environment variables (``torchrun``), else one process. ``sequential`` / ``batch``
        deal every epoch's windows round-robin over the ranks (disjoint, together complete);
        ``random`` gives each rank its own stream of (seed, rank). ``state()`` is per rank, and
        restoring it with another rank or world size raises ValueError.
    drop_last : ``sequential`` / ``batch`` over several ranks when the windows do not divide
        evenly: False (default, as ``DistributedSampler``) repeats the epoch's first windows for
        the ranks one short, True drops the extra ones; either way every rank runs the same
        number of batches, so none waits alone in a collective. ``sampling="batch"`` on several
        ranks needs one permutation for all: without a ``seed``, rank 0's random seed is
        broadcast through ``torch.distributed`` (a collective: every rank must construct the
        batchifier), and without torch.distributed a seed is required.

    ``next_batch`` releases the GIL while it waits, so the training step in the main thread
    overlaps with the workers. A worker's exception is re-raised by ``next_batch`` with its type
    and message.

    Iteration: with ``sampling="sequential"`` / ``"batch"``, ``for batch in batchifier`` runs
    one epoch (the rest of the current one when batches were taken already) and stops; the next
    ``iter()`` continues with the next epoch, and ``len(batchifier)`` is the batches per epoch
    (``total_batches``). ``"random"`` / ``"last"`` have no epochs: the iterator never ends and
    ``len()`` raises TypeError. ``state_dict()`` / ``load_state_dict()`` are ``state()`` /
    ``restore()`` under the names checkpoint code expects.

    Processes: the worker threads belong to the process that created the batchifier. In a
    forked child (``os.fork``, multiprocessing's "fork", DataLoader workers) the inherited
    batchifier raises :class:`~mouse_data.errors.UsedAfterForkError` on use (``close()`` does
    nothing there); create one in the child from the store, which a fork shares and "spawn"
    pickles. While a process forks, its batchifiers' workers are paused (so that none holds a
    lock the child would inherit) and then restarted; the batches they had prefetched are made
    again, the same ones.
    """

    def __init__(
        self,
        store: DatasetStore | Sequence[DatasetStore] | None = None,
        sequence_length: int | None = None,
        batch_size: int | None = None,
        sampling: Sampling = "random",
        prefetch: int = 4,
        num_workers: int = 1,
        pin_memory: bool = False,
        *,
        seed: int | None = None,
        boundaries: Boundaries = "none",
        augmenter: Any = None,
        format: Literal["auto", "torch", "numpy"] | None = None,
        stores: Sequence[DatasetStore] | None = None,
        weights: Sequence[float] | None = None,
        weight_mode: WeightMode = "per_store",
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
        lengths: Lengths = "fixed",
        min_length: int = 1,
        layout: Layout = "padded",
        max_tokens: int | None = None,
        preparer: Callable[[Any], Any] | None = None,
        device: Any = None,
    ) -> None:
        a = Args("PrefetchBatchifier", PrefetchBatchifier.__init__)
        if store is not None and stores is not None:
            raise WrongTypeError("PrefetchBatchifier: pass store or stores, not both")
        if stores is None:
            if store is None:
                raise WrongTypeError("PrefetchBatchifier: a store (or stores=[...]) is required")
            if isinstance(store, DatasetStore):
                stores = [store]
            elif isinstance(store, Sequence) and not isinstance(store, (str, bytes)):
                stores = store
            else:
                raise a.type_error("store", "a mouse_data.DatasetStore (or a list of them)", store)
        if isinstance(stores, (str, bytes)) or not isinstance(stores, Sequence):
            raise a.type_error("stores", "a list of mouse_data.DatasetStore", stores)
        stores = list(stores)
        if not stores:
            raise InvalidArgumentError("PrefetchBatchifier: stores is empty")
        for i, st in enumerate(stores):
            if not isinstance(st, DatasetStore):
                raise a.type_error("store" if len(stores) == 1 else f"stores[{i}]",
                                   "a mouse_data.DatasetStore", st)
        max_tokens = a.int("max_tokens", max_tokens, minimum=1, none=True)
        if sequence_length is None or (batch_size is None and max_tokens is None):
            raise WrongTypeError(f"{_args_signature()}: sequence_length and batch_size are "
                                 "required (batch_size may be None only with max_tokens)")
        sequence_length = a.int("sequence_length", sequence_length, minimum=1)
        batch_size = a.int("batch_size", batch_size, minimum=1, none=True)
        lengths = a.choice("lengths", lengths, _LENGTHS)
        min_length = a.int("min_length", min_length)
        layout = a.choice("layout", layout, _LAYOUTS)
        if preparer is not None and not callable(preparer):
            raise a.type_error("preparer", "a callable or None", preparer)
        sampling = a.choice("sampling", sampling, _SAMPLINGS)
        prefetch = a.int("prefetch", prefetch, minimum=1)
        num_workers = a.int("num_workers", num_workers, minimum=0)
        pin_memory = a.bool("pin_memory", pin_memory)
        device_name = _device_name(a, device)
        seed = a.seed("seed", seed)
        boundaries = a.choice("boundaries", boundaries, _BOUNDARIES)
        from .augment import TokenAugmenter

        augmenter = a.instance("augmenter", augmenter, TokenAugmenter, "a TokenAugmenter",
                               none=True)
        format = a.str("format", format, none=True)
        if weights is None:
            weight_list: list[float] = []
        elif isinstance(weights, (str, bytes, Mapping)) or not isinstance(weights, Sequence):
            raise a.type_error("weights", "a list of numbers or None", weights)
        else:
            # values (finite, >= 0) are the core's to check
            weight_list = [a.real(f"weights[{i}]", w) for i, w in enumerate(weights)]
        weight_mode = a.choice("weight_mode", weight_mode, _WEIGHT_MODES)
        drop_last = a.bool("drop_last", drop_last)
        rank, world_size = resolve_rank(rank, world_size)
        if seed is None and sampling == "batch" and world_size > 1:
            dist = _distributed()
            if dist is not None:
                box = [random.SystemRandom().getrandbits(63) if dist.get_rank() == 0 else None]
                dist.broadcast_object_list(box, src=0)
                seed = box[0]
        self._stores = stores
        self._store = stores[0]
        self._format = resolve_format(format) if format is not None else stores[0]._format
        if device_name != "cpu" and self._format != "torch":
            raise InvalidArgumentError(
                f"PrefetchBatchifier: device={device!r} delivers torch tensors in GPU memory, "
                f"which format {self._format!r} cannot hold; use format='torch' (needs torch and "
                "tensordict)")
        self._augmenter = augmenter
        self._sampling = sampling
        self._sequence_length = sequence_length
        self._batch_size = batch_size
        self._pid = os.getpid()
        self._forked = False
        core_aug = augmenter._core if augmenter is not None else None
        options = _core.BatchifierOptions()
        options.sampling = sampling
        options.prefetch = prefetch
        options.num_workers = num_workers
        options.pin_memory = pin_memory
        if seed is not None:
            options.seed = seed
        options.boundaries = boundaries
        options.weights = weight_list
        options.weight_mode = weight_mode
        options.rank = rank
        options.world_size = world_size
        options.drop_last = drop_last
        options.lengths = lengths
        options.min_length = min_length
        options.layout = layout
        options.max_tokens = max_tokens if max_tokens is not None else 0
        options.device = device_name
        self._core = _core.Batchifier([st._core for st in stores], sequence_length,
                                      batch_size if batch_size is not None else 0, options,
                                      core_aug)
        _LIVE.add(self)
        self._layout = layout
        self._max_tokens = max_tokens
        self._preparer = preparer
        self._prefetch = prefetch
        self._prep: PreparerThread | None = None
        # With a preparer: the state after the last batch the consumer took (None: the core's).
        self._prep_state: str | None = None
        self._initial_state = self._core.state()
        self._rank = rank
        self._world_size = world_size
        self._cuda = self._core.cuda_device  # -1: batches stay on the host
        if preparer is not None:
            self._start_preparer()

    def _live_core(self) -> Any:
        """The core, unless this is a forked child's copy of a parent's batchifier."""
        if self._forked or self._pid != os.getpid():
            raise UsedAfterForkError(
                f"PrefetchBatchifier: this batchifier was created in process {self._pid} and "
                f"inherited by the forked process {os.getpid()}, where its worker threads do not "
                "exist; create a new PrefetchBatchifier in the child (or start workers with "
                "multiprocessing's 'spawn')")
        return self._core

    @property
    def rank(self) -> int:
        """This process's rank (0 in a single process)."""
        return self._rank

    @property
    def world_size(self) -> int:
        """Number of ranks sharing the data (1 in a single process)."""
        return self._world_size

    @property
    def stores(self) -> list[DatasetStore]:
        """The stores sampled from."""
        return list(self._stores)

    @property
    def sampling(self) -> Sampling:
        """The sampling mode."""
        return self._sampling

    @property
    def total_batches(self) -> int:
        """Batches per epoch of this rank for the W windows of the stores as they are now:
        ceil(W / B) in one process, ceil(ceil(W / world_size) / B) over ranks (floor with
        ``drop_last``)."""
        return self._live_core().total_batches()

    @property
    def seed(self) -> int:
        """The seed in use (drawn at random when none was given)."""
        return self._core.seed

    @property
    def pinned(self) -> bool:
        """Whether batches are allocated in CUDA page-locked memory."""
        return self._core.pinned

    @property
    def layout(self) -> Layout:
        """``"padded"`` or ``"packed"``."""
        return self._layout

    @property
    def max_tokens(self) -> int | None:
        """The token budget of a packed batch (None: none)."""
        return self._max_tokens

    @property
    def device(self) -> str:
        """Where batches are delivered: ``"cpu"`` or ``"cuda:N"``."""
        return "cpu" if self._cuda < 0 else f"cuda:{self._cuda}"

    def _stream(self) -> int:
        # The consumer's current torch stream on the batch's device (0, the legacy default
        # stream, on the host or where torch has no CUDA).
        if self._cuda < 0:
            return 0
        import torch

        if not torch.cuda.is_available():
            return 0
        return int(torch.cuda.current_stream(self._cuda).cuda_stream)

    def _wrap(self, batch: Any) -> Any:
        if self._cuda >= 0:
            return wrap_device(batch, self._cuda)
        return wrap(batch, self._format)

    def _start_preparer(self) -> None:
        from ._preparer import PreparerThread

        self._prep = PreparerThread(self._core, self._format, lambda r: self._wrap(r[0]),
                                    self._preparer, self._prefetch)

    def _stop_preparer(self, close_core: bool) -> None:
        if self._prep is not None:
            self._prep.stop(close_core)
            self._prep = None

    def _prepared(self) -> tuple[Any, tuple[Any, ...]]:
        self._live_core()
        if self._prep is None:
            raise InvalidArgumentError("PrefetchBatchifier: next_batch after close")
        prepared, record, state = self._prep.get()
        self._prep_state = state
        return prepared, record

    def next_batch(self) -> Any:
        """The next batch, blocking (without the GIL) until it is ready (with a ``preparer``:
        its result for the batch)."""
        if self._preparer is not None:
            return self._prepared()[0]
        return self._wrap(self._live_core().next_batch(self._format, self._stream()))

    def next(self) -> SampledBatch:
        """The next batch with its window starts, lengths, number, epoch and efficiency."""
        if self._preparer is not None:
            data, record = self._prepared()
        else:
            record = self._live_core().next(self._format, self._stream())
            data = self._wrap(record[0])
        _, starts, number, epoch, stores, lengths, efficiency = record
        return SampledBatch(data, starts, number, epoch, stores, lengths, efficiency)

    def state(self) -> dict[str, Any]:
        """Where the batchifier stands (JSON-serialisable), for ``restore``. With a
        ``preparer``, the position after the last batch the caller took (batches the preparer
        thread has prepared ahead are made again after a restore)."""
        core = self._live_core()
        if self._preparer is not None and self._prep_state is not None:
            return json.loads(self._prep_state)
        if self._preparer is not None:
            return json.loads(self._initial_state)
        return json.loads(core.state())

    def restore(self, state: dict[str, Any] | str) -> None:
        """Continue from ``state``: the next batch is the one that followed when it was taken.
        ValueError when it belongs to another configuration (sampling, S, B, rank, world size,
        stores or weights)."""
        if isinstance(state, Mapping):
            text = json.dumps(dict(state))
        elif isinstance(state, str):
            text = state
        else:
            raise Args("PrefetchBatchifier.restore", PrefetchBatchifier.restore).type_error(
                "state", "a dict from state() or its JSON text", state)
        core = self._live_core()
        if self._preparer is not None:
            self._stop_preparer(close_core=False)
            try:
                core.restore(text)
            finally:
                self._prep_state = None
                self._initial_state = core.state()
                if not core.closed:
                    self._start_preparer()
            return
        core.restore(text)

    def state_dict(self) -> dict[str, Any]:
        """``state()``, under the name checkpoint code (``torch.save``, DCP) expects."""
        return self.state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """``restore(state_dict)``, under the name checkpoint code expects."""
        self.restore(state_dict)

    def close(self) -> None:
        """Stop and join the workers and drop prefetched batches (idempotent). Does nothing in a
        forked child, whose copy has no workers to stop."""
        if self._forked or self._pid != os.getpid():
            return
        self._stop_preparer(close_core=True)
        self._core.close()

    @property
    def closed(self) -> bool:
        """Whether ``close`` has run."""
        return self._core.closed

    def __iter__(self) -> Iterator[Any]:
        """One epoch (``sequential`` / ``batch``), else an endless iterator (see the class)."""
        core = self._live_core()
        if self._sampling in ("sequential", "batch"):
            return self._epoch(self._next_epoch() if self._preparer is not None
                               else core.next_epoch)
        return self

    def _next_epoch(self) -> int:
        if self._preparer is not None:
            return int(self.state()["epoch"])
        return int(self._live_core().next_epoch)

    def _epoch(self, epoch: int) -> Iterator[Any]:
        while not self._core.closed and self._next_epoch() == epoch:
            yield self.next_batch()

    def __next__(self) -> Any:
        if self._live_core().closed:
            raise StopIteration
        return self.next_batch()

    def __len__(self) -> int:
        """Batches per epoch (``sequential`` / ``batch``); TypeError for endless modes."""
        if self._sampling not in ("sequential", "batch"):
            raise WrongTypeError(
                f"len() of a PrefetchBatchifier with sampling={self._sampling!r}: it has no "
                "epochs and never ends (use sequential or batch sampling for len())")
        return self.total_batches

    def __enter__(self) -> PrefetchBatchifier:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        core = self.__dict__.get("_core")
        if (core is not None and not self.__dict__.get("_forked")
                and self.__dict__.get("_pid") == os.getpid()):
            prep = self.__dict__.get("_prep")
            if prep is not None:
                prep.stop(close_core=True)
            core.close()

    def __repr__(self) -> str:
        n = sum(len(st) for st in self._stores)
        return (f"PrefetchBatchifier(n={n}, S={self._sequence_length}, B={self._batch_size}, "
                f"sampling={self._sampling!r})")


def _device_name(a: Args, device: Any) -> str:
    """``device`` as the core's name: "cpu", "cuda" or "cuda:N" (a str, a torch.device or an
    index; None is "cpu")."""
    if device is None:
        return "cpu"
    if isinstance(device, bool):
        raise a.type_error("device", "'cpu', 'cuda', 'cuda:N', a torch.device or an index",
                           device)
    if isinstance(device, int):
        if device < 0:
            raise a.value_error("device", "a GPU index >= 0", device)
        return f"cuda:{device}"
    if type(device).__name__ == "device" and hasattr(device, "type"):
        if device.type == "cpu":
            return "cpu"
        if device.type != "cuda":
            raise a.value_error("device", "'cpu' or a CUDA device", device)
        return "cuda" if device.index is None else f"cuda:{device.index}"
    if not isinstance(device, str):
        raise a.type_error("device", "'cpu', 'cuda', 'cuda:N', a torch.device or an index",
                           device)
    return device  # the core checks the name


def _args_signature() -> str:
    from ._args import signature

    return signature("PrefetchBatchifier", PrefetchBatchifier.__init__)
