"""Synchronous data-parallel training over MPI: one Allreduce of the flat gradient per step.

Every rank runs the same script (``mpiexec -n N python train.py``) and calls
:func:`fit` with the same ``x`` and ``y``. Each epoch all ranks draw the same
permutation (one seed); global batch ``k`` is ``order[k*B:(k+1)*B]`` and rank
``r`` trains on its positions ``r, r+N, r+2N, ...`` (PyTorch's
``DistributedSampler`` convention), so a batch of ``B`` rows is split about
``B/N`` a rank. The core's loss is a mean over the *local* ``b_r`` rows, so each
rank scales its gradient by ``b_r/B`` before the sum:

    g = sum_r (b_r/B) * (1/b_r) * sum_{i in r} w_i g_i = (1/B) * sum_{i in batch} w_i g_i

which is the gradient one process computes on the whole batch, uneven last
batch and sample weights included (the regularization gradient, added on
every rank, is weighted by ``sum_r b_r/B = 1``). Every rank then applies the
same optimizer step to the same weights, so the ranks never drift apart.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import make_rng
from .callbacks import (
    BackupAndRestore,
    Callback,
    CallbackList,
    History,
    TerminateOnNaN,
    check_callbacks,
    check_monitored,
)
from .errors import ArgumentTypeError, InputError, require
from .training.epoch import print_epoch, run_epoch
from .training.mpi import (
    EpochData,
    GradientAllreduce,
    RankRunner,
    Targets,
    average,  # noqa: F401 - densekit.distributed.average, parameter averaging
    memory_mapped,
    mpi_module,
    read_rows,
)
from .validation import (
    check_batch_size,
    check_bool,
    check_count,
    check_positive_int,
    check_sample_weight,
    check_validation_split,
    check_x,
    check_x_layout,
    validation_split_indices,
)

if TYPE_CHECKING:
    from .model import Sequential


def world(comm: Any = None) -> Any:
    """``comm``, or MPI's COMM_WORLD when it is None."""
    return comm if comm is not None else mpi_module().COMM_WORLD


def is_root(comm: Any = None) -> bool:
    """True on rank 0, the one rank that writes files and logs."""
    return world(comm).Get_rank() == 0


def broadcast_weights(model: Sequential, comm: Any) -> None:
    """Give every rank rank 0's weights (trainable and not)."""
    comm.Bcast(model.params, root=0)
    if model.state.size:
        comm.Bcast(model.state, root=0)


def fit(
    model: Sequential,
    x: Any,
    y: Any,
    comm: Any = None,
    *,
    batch_size: int | None = None,
    epochs: int = 1,
    verbose: int | str = "auto",
    callbacks: list[Callback] | None = None,
    validation_split: float = 0.0,
    validation_data: tuple | None = None,
    shuffle: bool = True,
    class_weight: dict | None = None,
    sample_weight: Any = None,
    initial_epoch: int = 0,
    seed: int | None = None,
    sync_every: int = 1,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    cache_dir: str | os.PathLike | None = None,
) -> History:
    """Train ``model`` on every rank of ``comm`` at once; call it on every rank.

    ``x`` is an array, a memory map (``np.memmap``, ``np.load(path, mmap_mode="r")``
    or a view of one), a ``.npy`` path (memory-mapped) or a Parquet path; ``y`` an
    array, a memory map, a ``.npy`` path (memory-mapped), or the name of a column of
    the Parquet file. A rank reads, and checks, only the rows of a memory map that it
    trains on (every rank reads the ``validation_split`` rows, and every label when
    ``class_weight`` or a stratified split needs them); an array in memory is checked
    whole at the start, as ``model.fit`` checks it.
    ``batch_size`` is the *global* batch. ``sync_every=1`` sums gradients every
    step (exactly the single-process result); ``sync_every=k > 1`` lets each
    rank step on its own rows and averages the parameters every ``k`` steps
    (less traffic, not exact). ``checkpoint`` is written by rank 0 every
    ``checkpoint_every`` epochs; ``resume=True`` continues from it when it
    exists. Returns the same History (global epoch logs) on every rank; batch
    logs given to callbacks are this rank's own, and ``stop_training`` is honoured
    at the end of an epoch (all ranks agree on it there), not mid-epoch. Every
    rank evaluates ``validation_data`` itself (same weights, same result).
    """
    comm = world(comm)
    rank, size = comm.Get_rank(), comm.Get_size()
    try:
        return _fit(
            model,
            x,
            y,
            comm,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            class_weight=class_weight,
            sample_weight=sample_weight,
            initial_epoch=initial_epoch,
            seed=seed,
            sync_every=sync_every,
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every,
            resume=resume,
            cache_dir=cache_dir,
        )
    except Exception as exc:
        if size == 1:
            raise
        # The other ranks wait in a collective that will never complete: end them all.
        print(
            f"densekit.distributed: rank {rank} of {size} failed: {type(exc).__name__}: {exc}; "
            "aborting every rank",
            file=sys.stderr,
            flush=True,
        )
        # the launcher forwards each rank's stderr on its own time, and Abort kills at once:
        # give the message a moment to reach the user's terminal first (seen lost under load)
        time.sleep(0.5)
        comm.Abort(1)
        raise  # pragma: no cover - Abort does not return


def _fit(model, x, y, comm, **kw) -> History:
    """:func:`fit` on this rank: check every argument and the data, then change the model."""
    # What can fail only once training is set up (a checkpoint to resume from, a memory
    # map's held-out rows, a callback's on_train_begin) puts back what was changed, as
    # model.fit does; on several ranks fit then ends every rank anyway.
    from .training.loop import (
        DEFAULT_BATCH_SIZE,
        apply_class_weight,
        check_split,
        check_verbose,
        epoch_log_keys,
        prepare_validation,
        undo_point,
    )

    rank, size = comm.Get_rank(), comm.Get_size()
    model.require_compiled("fit")
    batch_size = check_batch_size(kw["batch_size"], DEFAULT_BATCH_SIZE)
    epochs = check_count("epochs", kw["epochs"])
    initial_epoch = check_count("initial_epoch", kw["initial_epoch"])
    planned_epochs = epochs - initial_epoch  # the caller's, before a resume moves the start
    sync_every = check_positive_int("sync_every", kw["sync_every"])
    checkpoint_every = check_positive_int("checkpoint_every", kw["checkpoint_every"])
    verbose = check_verbose(kw["verbose"])  # on every rank, though only rank 0 prints
    verbose = verbose if rank == 0 else 0
    validation_split = check_validation_split(kw["validation_split"])
    shuffle = check_bool("shuffle", kw["shuffle"])
    resume = check_bool("resume", kw["resume"])
    checkpoint = _check_path("checkpoint", kw["checkpoint"])
    rng = make_rng(kw["seed"]) if kw["seed"] is not None else model.rng
    refuse = {BackupAndRestore: "use distributed.fit(..., checkpoint=PATH, resume=True)"}
    if size > 1:  # a rank that skipped its step would leave the others in the Allreduce
        refuse[TerminateOnNaN] = "on several ranks a non-finite loss raises TrainingError"
    callbacks = check_callbacks(kw["callbacks"], refuse)
    if epochs > initial_epoch:
        keys = epoch_log_keys(model, kw["validation_data"], validation_split)
        check_monitored(callbacks, keys)

    rows, targets = open_rows(x, y, model.dtype, comm, kw["cache_dir"])
    n_features = rows.shape[1]
    if model.built and n_features != model.input_dim:
        raise InputError(
            f"x has {n_features} features, but the model was built for {model.input_dim}"
        )
    # an unbuilt model is sized on copies of its layers: it is built once all is checked
    n_outputs = model.output_dim if model.built else model.planned_output_dim(n_features)
    if len(targets) != len(rows):
        raise InputError(f"x has {len(rows)} samples but y has {len(targets)}; they must match")
    # class weights and a stratified split look at every label: then every rank reads them all
    every_label = kw["class_weight"] is not None or (
        validation_split > 0 and model.loss.fuses_with is not None
    )
    targets = Targets(model, targets, n_outputs, read_whole=every_label)
    weights = check_sample_weight(kw["sample_weight"], len(rows), model.dtype)
    weights = apply_class_weight(model, kw["class_weight"], targets.whole, weights)
    validation = None
    # validation arrays are prepared once, as model.fit prepares them (targets one-hot etc.)
    if kw["validation_data"] is not None:
        validation = prepare_validation(model, kw["validation_data"], n_features, None)
    elif validation_split > 0:
        check_split(model, rows, targets.whole, validation_split)

    undo = undo_point(model, rng)
    weights_before = None  # what resuming overwrites in place, where the model has weights
    try:
        model.build(n_features)
        broadcast_weights(model, comm)
        if kw["seed"] is None and size > 1:
            model.rng.bit_generator.state = comm.bcast(model.rng.bit_generator.state, root=0)
        # One rank uses fit's generator for dropout too (bit-identical); several ranks draw
        # their masks from their own stream so the shared shuffling stream stays in step.
        dropout_rng = rng if size == 1 else _rank_stream(kw["seed"], comm)
        model.share_rng(dropout_rng)

        train_index = np.arange(len(rows))
        if validation is None and validation_split > 0:
            labels = None if targets.whole is None else model.class_labels(targets.whole)
            train_index, held_out = validation_split_indices(
                len(rows), validation_split, rng, labels
            )
            held = None if weights is None else weights[held_out]
            validation = (read_rows(rows, held_out, model.dtype), targets.take(held_out), held)

        if resume and checkpoint is not None:
            weights_before = _copy_weights(model)
            initial_epoch = max(initial_epoch, _resume(model, rng, checkpoint, comm))

        history = History()
        callback_list = CallbackList([history, *callbacks], model)
        model.stop_training = False
        epoch_data = EpochData(rows, targets, weights, train_index, batch_size)
        callback_list.on_train_begin({})
    except BaseException:
        if weights_before is not None:
            _put_weights(model, weights_before)
        undo()
        raise
    # every rank plans the same global steps, so every rank chooses the same kernels
    model.choose_kernels(planned_epochs * -(-len(train_index) // batch_size))
    reducer = GradientAllreduce(comm) if sync_every == 1 else None
    if reducer is not None:
        model.gradient_hooks.insert(0, reducer)
    try:
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch, {})
            started = time.perf_counter()
            order = rng.permutation(len(train_index)) if shuffle else None
            title = f"Epoch {epoch + 1}/{epochs}"
            runner = RankRunner(model, epoch_data, order, comm, reducer, sync_every)
            logs = run_epoch(model, runner, callback_list, verbose, title)
            if validation is not None:
                val_logs = model.evaluate_arrays(*validation, batch_size=None)
                logs.update({f"val_{key}": value for key, value in val_logs.items()})
            if verbose == 2 or (verbose == 1 and validation is not None):  # as model.fit
                print_epoch(epoch, epochs, logs, time.perf_counter() - started)
            callback_list.on_epoch_end(epoch, logs)
            model.stop_training = bool(
                comm.allreduce(bool(model.stop_training), op=mpi_module().LOR)
            )
            done = model.stop_training or epoch == epochs - 1
            if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or done):
                _save_checkpoint(model, rng, checkpoint, epoch + 1, comm)
            if model.stop_training:
                break
    finally:
        if reducer is not None:
            model.gradient_hooks.remove(reducer)
        callback_list.on_train_end({})
    history.allreduce_seconds = reducer.seconds if reducer is not None else 0.0
    return history


def _copy_weights(model) -> list:
    """Copies of the buffers a checkpoint overwrites: weights, state, optimizer slots."""
    xp = model.backend.xp
    return [
        xp.copy(array) for array in (model.params, model.state, *model.optimizer.state.values())
    ]


def _put_weights(model, copies: list) -> None:
    for array, copy in zip((model.params, model.state, *model.optimizer.state.values()), copies):
        array[...] = copy


def _check_path(name: str, value: Any) -> Path | None:
    """None, or ``value`` (a str or path) as a Path."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ArgumentTypeError(f"{name} must be a file path (str or Path) or None, got {value!r}")
    return Path(value)


def _rank_stream(seed: int | None, comm) -> np.random.Generator:
    """A generator of this rank's own, drawn without touching the shared shuffling stream."""
    entropy = seed if seed is not None else comm.bcast(np.random.SeedSequence().entropy, root=0)
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(comm.Get_rank(),)))


# --- checkpoints -----------------------------------------------------------------------


def _generators(model, rng, comm) -> dict[str, np.random.Generator]:
    """The rank's generators by name: the shared shuffling stream ``"fit"`` and the layers'.

    On several ranks each rank draws dropout from its own, saved under its rank.
    """
    from .serialization.checkpoint import generators

    prefix = f"rank{comm.Get_rank()}/" if comm.Get_size() > 1 else ""
    return generators(model, fit_rng=rng, prefix=prefix)


def _save_checkpoint(model, rng, path: Path, epochs_done: int, comm) -> None:
    """Rank 0 writes the model, optimizer state and every rank's generators (atomically)."""
    from .serialization.checkpoint import save_checkpoint

    states = {name: g.bit_generator.state for name, g in _generators(model, rng, comm).items()}
    if comm.Get_size() > 1:
        gathered = comm.gather(states, root=0)
        if comm.Get_rank() == 0:
            states = {name: s for ranks in gathered for name, s in ranks.items()}
    if comm.Get_rank() == 0:
        save_checkpoint(model, path, epochs_done, rngs=states, extra={"ranks": comm.Get_size()})
    comm.Barrier()


def _resume(model, rng, path: Path, comm) -> int:
    """Load rank 0's checkpoint into ``model`` on every rank; return the epoch to start at.

    Rank 0 reads and checks the file (a mismatch, such as another optimizer, fails
    there and aborts every rank); every rank then applies the same state. Written
    by another number of ranks, only the shared shuffling stream is restored.
    """
    from .serialization.checkpoint import apply_state, read_state

    payload = None
    if comm.Get_rank() == 0 and path.is_file():
        payload = read_state(model, path)
    payload = comm.bcast(payload, root=0)
    if payload is None:
        return 0
    rngs = _generators(model, rng, comm)
    if payload["state"].get("ranks") != comm.Get_size():
        rngs = {name: g for name, g in rngs.items() if name in payload["state"]["rng"]}
    epoch = apply_state(model, payload, rngs)
    if comm.Get_rank() == 0:
        print(f"densekit.distributed: resuming from {path} after epoch {epoch}", flush=True)
    return epoch


# --- reading rows ----------------------------------------------------------------------


def open_rows(
    x: Any,
    y: Any,
    dtype: Any = np.float32,
    comm: Any = None,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[Any, np.ndarray]:
    """Features and targets, each either checked in memory or a memory map read on demand.

    A ``.npy`` path is memory-mapped, as is a Parquet path, decoded once, a row group
    at a time, into a ``.npy`` cache by rank 0 (in ``cache_dir``, default the Parquet
    file's folder); ``y`` may name one of its columns. A memory map's dtype and shape
    are checked here, which reads no row; its rows are checked and converted as a rank
    reads them, so a rank reads only its own rows and never copies the whole file. An
    ``x`` in memory is checked and converted to ``dtype`` at once, as ``model.fit`` does.

    Parameters
    ----------
    x
        An array, a memory map, or a ``.npy`` or Parquet path.
    y
        An array, a memory map, a ``.npy`` path, or a column of the Parquet file.
    dtype
        The dtype rows are converted to.
    comm
        The MPI communicator (None: a single process).
    cache_dir
        Where rank 0 writes the Parquet file's ``.npy`` cache.

    Returns
    -------
    tuple
        ``(rows, targets)``: ``rows`` an array or a memory map.

    Raises
    ------
    InputError
        If a path names no file, or not a ``.npy`` or Parquet one, or ``y`` is None.
    """
    if isinstance(x, (str, os.PathLike)):
        path = Path(x)
        if not path.is_file():
            raise InputError(f"x: no file at {str(path)!r}; expected a .npy or Parquet file")
        if path.suffix == ".npy":
            rows = np.load(path, mmap_mode="r")
        elif path.suffix in (".parquet", ".pq"):
            rows, y = _parquet_rows(path, y, comm, cache_dir)
        else:
            raise InputError(f"x: {str(path)!r} is neither a .npy nor a .parquet file")
    else:
        rows = x
    if memory_mapped(rows):
        check_x_layout(rows)
    else:
        rows = check_x(rows, dtype)
    if isinstance(y, (str, os.PathLike)) and Path(y).suffix == ".npy":
        y = np.load(y, mmap_mode="r")
    if y is None:
        raise InputError("y is None; fit needs targets")
    return rows, y if memory_mapped(y) else np.asarray(y)


def _parquet_rows(path: Path, y: Any, comm: Any, cache_dir) -> tuple[np.ndarray, Any]:
    pq = require("pyarrow.parquet", "parquet", "reading Parquet files")
    schema = pq.read_schema(path)
    target = y if isinstance(y, str) and y in schema.names else None
    features = [name for name in schema.names if name != target]
    folder = Path(cache_dir) if cache_dir is not None else path.parent
    stat = path.stat()
    cache = folder / f".{path.stem}.{stat.st_size}-{int(stat.st_mtime_ns)}.densekit.npy"
    comm = world(comm) if comm is not None else None
    if comm is None or comm.Get_rank() == 0:
        if not cache.exists():
            parquet_to_npy(path, cache, features)
    if comm is not None:
        comm.Barrier()
    rows = np.load(cache, mmap_mode="r")
    if target is not None:
        y = pq.read_table(path, columns=[target]).column(0).to_numpy()
    return rows, y


def parquet_to_npy(path: str | os.PathLike, out: str | os.PathLike, columns: list[str]) -> None:
    """Decode numeric ``columns`` of a Parquet file into a ``.npy``, a row group at a time."""
    pq = require("pyarrow.parquet", "parquet", "reading Parquet files")
    source = pq.ParquetFile(path)
    n = source.metadata.num_rows
    out = Path(out)
    temporary = out.with_name(out.name + f".{os.getpid()}.tmp.npy")
    types = [source.schema_arrow.field(c).type.to_pandas_dtype() for c in columns]
    dtype = np.result_type(np.float32, *types)  # float64 columns stay float64
    array = np.lib.format.open_memmap(temporary, mode="w+", dtype=dtype, shape=(n, len(columns)))
    start = 0
    try:
        for group in range(source.num_row_groups):
            table = source.read_row_group(group, columns=columns)
            block = np.column_stack(
                [table.column(c).to_numpy(zero_copy_only=False) for c in columns]
            )
            if not np.issubdtype(block.dtype, np.number):
                raise InputError(f"{path}: feature columns must be numeric, got {block.dtype}")
            array[start : start + len(block)] = block
            start += len(block)
        array.flush()
        del array
        os.replace(temporary, out)
    except BaseException:
        if temporary.exists():
            temporary.unlink()
        raise
