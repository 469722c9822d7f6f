"""Training one learner with mini-batch SGD and early stopping, a snapshot per epoch.

What `train` does, exactly:

- Loss: cross-entropy for classification, mean squared error on standardized targets for
  regression. L1 and L2 add `lambda * sum(|w|)` and `lambda * sum(w ** 2)` over the weight
  matrices (not the biases) to the loss that is minimised; the losses reported in each
  Performance are the data losses alone, so they compare across regularisations.
- Optimiser: `torch.optim.SGD(lr=alpha, momentum=momentum)`; with `lr_step_size > 0` the
  rate is multiplied by `lr_gamma` every `lr_step_size` epochs (StepLR), epochs counted
  from the start of training.
- Batches: each epoch visits the train rows in a permutation drawn from a generator of its
  own; the last batch of an epoch may be smaller.
- Stopping: after `max_epochs` epochs, after `max_updates` updates (which may end an epoch
  early), when the validation loss has not improved for `patience` epochs, or when the
  training or validation loss is not finite (status "failed").
- Metrics: after each epoch the learner is evaluated, without dropout, on every split.
  Regression `mse` and `mae` are on the original scale of the target; `loss` is on the
  standardized scale that training minimises.
- Snapshots: one at the end of every `snapshot_every` epochs and, with
  `snapshot_every_updates`, one inside an epoch after every that many updates (never after
  an epoch's last batch, where the end-of-epoch snapshot follows). A snapshot inside an
  epoch has `batch` (batches of that epoch done) and no performance; its training state
  also holds the generator state the epoch's batch order was drawn from, the position,
  and the running sum of the epoch's batch losses, so training continues with the
  remaining batches in the same order.
- Forks: a learner may start from another learner's snapshot (`start_from`) with other
  hyper-parameters (see `check_fork_overrides`). Weights, optimiser state (momentum
  buffers), generators, batch order and early-stopping history come from the snapshot;
  the learner's own hyper-parameters rule from then on. The schedule's place is kept:
  the learning rate becomes the snapshot's rate times `alpha / alpha of the snapshot's
  learner`, that is the new alpha times the decay applied so far, and later decays follow
  the learner's `lr_step_size` and `lr_gamma`, still counted from epoch 0. Momentum is
  the learner's; early stopping keeps the best loss and epoch and the epochs without
  improvement, under the learner's patience. Epochs and updates keep counting from the
  snapshot, so `max_epochs` and `max_updates` bound the whole lineage.
- Seeds: the learner's seed, of any size, feeds a numpy SeedSequence that yields one seed
  for initialisation and dropout and one for the batch order; torch's, numpy's and
  Python's global generators are seeded too. The same learner and seed give the same
  numbers bit for bit on the same device and torch build.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from ..errors import StateError, ValidationError
from ..model import (
    ConfusionMatrix,
    HyperParameters,
    Indices,
    Layer,
    LayerConfiguration,
    Learner,
    LearnerPerformance,
    Performance,
    Snapshot,
    Tensor,
)
from .datasets import LoadedDataset, Split, Splits
from .learners import build_learner, layer_configurations, layers_of, load_layers, weights
from .state import decode_state, encode_state

logger = logging.getLogger(__name__)

OUTCOME_STATUSES = ("completed", "stopped_early", "failed", "paused")
# Rows evaluated at once; bounds memory for large splits without changing any result.
EVALUATION_CHUNK = 8192
STATE_VERSION = 3
# Training states this version reads: version 2 states are all at the end of an epoch.
READABLE_STATE_VERSIONS = (2, 3)


class EarlyStopping:
    """Stop when the validation loss has not improved for `patience` epochs in a row.

    Only a finite loss strictly below the best so far is an improvement.
    """

    def __init__(self, patience: int) -> None:
        if isinstance(patience, bool) or int(patience) != patience or patience < 1:
            raise ValidationError("patience", patience, "an integer >= 1")
        self.patience = int(patience)
        self.best_epoch: int | None = None
        self.best_loss = math.inf
        self.bad_epochs = 0
        self.improved = False

    def update(self, epoch: int, valid_loss: float) -> bool:
        """Record the validation loss of `epoch`; return True when training should stop."""
        self.improved = math.isfinite(valid_loss) and valid_loss < self.best_loss
        if self.improved:
            self.best_epoch, self.best_loss, self.bad_epochs = epoch, float(valid_loss), 0
        else:
            self.bad_epochs += 1
        return self.should_stop

    @property
    def should_stop(self) -> bool:
        """Return True once `patience` epochs in a row have not improved."""
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict[str, Any]:
        """Return the state to save with a snapshot."""
        return {
            "patience": self.patience,
            "best_epoch": self.best_epoch,
            "best_loss": self.best_loss,
            "bad_epochs": self.bad_epochs,
            "improved": self.improved,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a state `state_dict` returned."""
        self.patience = int(state["patience"])
        self.best_epoch = state["best_epoch"]
        self.best_loss = float(state["best_loss"])
        self.bad_epochs = int(state["bad_epochs"])
        self.improved = bool(state["improved"])


@dataclass
class TrainingOutcome:
    """How a call to `train` ended.

    `epochs` counts every epoch run (including those before a resume), `best_epoch` is the
    zero-based epoch of the lowest validation loss, and `performance` and `layers` are the
    learner's at that epoch; when no epoch had a finite validation loss they are the last
    epoch's and `best_epoch` is None.
    """

    status: str
    reason: str
    epochs: int
    updates: int
    best_epoch: int | None
    performance: LearnerPerformance
    layers: list[Layer]
    elapsed: float


def train(
    learner: Learner,
    data: LoadedDataset,
    indices: Indices,
    *,
    on_snapshot: Callable[[Snapshot], None],
    should_stop: Callable[[], bool] = lambda: False,
    snapshot_every: int = 1,
    snapshot_every_updates: int | None = None,
    device: str | torch.device = "cpu",
    progress: Callable[[int, dict[str, float]], None] | None = None,
    start_from: Snapshot | None = None,
) -> TrainingOutcome:
    """Train `learner` on `data` split by `indices`; return how training ended.

    A snapshot goes to `on_snapshot` after every `snapshot_every` epochs and after the last
    epoch, and with `snapshot_every_updates` also inside an epoch after every that many
    updates counted from the start of training. `should_stop` is asked at each snapshot
    boundary, inside an epoch too; when it answers True that snapshot is written and the
    outcome is "paused". `start_from` continues from a snapshot whose layer tensors and
    training state have values, exactly as if training had never stopped (inside an
    epoch too); when the snapshot is another learner's, `learner` is a fork and its own
    hyper-parameters rule from then on. A snapshot without a training state only gives
    the starting weights (a warm start: fresh optimiser, epoch 0).
    """
    _check_every("snapshot_every", snapshot_every)
    if snapshot_every_updates is not None:
        _check_every("snapshot_every_updates", snapshot_every_updates)
        snapshot_every_updates = int(snapshot_every_updates)
    run = _Run(learner, data, indices, torch.device(device))
    if start_from is not None:
        run.resume(start_from)
    return run.loop(on_snapshot, should_stop, int(snapshot_every), snapshot_every_updates, progress)


def load_module(
    learner: Learner,
    snapshot: Snapshot,
    data_or_widths: LoadedDataset | tuple[int, int] | None = None,
    *,
    device: str | torch.device = "cpu",
) -> tuple[torch.nn.Module, torch.optim.SGD]:
    """Return `learner`'s module with `snapshot`'s weights, in eval mode, and its optimiser.

    The widths come from `data_or_widths` (a dataset or `(n_inputs, n_outputs)`) or, when
    None, from the snapshot's layers, so no dataset is needed. The weights are the
    snapshot's bit for bit. The SGD optimiser carries the snapshot's optimiser state
    (momentum buffers, learning rate) when the snapshot has a training state with values,
    set to the learner's hyper-parameters as `train` would; otherwise it is fresh. The
    module's dropout generator continues from the snapshot's.
    """
    hp = learner.hyper_parameters
    if isinstance(data_or_widths, LoadedDataset):
        widths = _widths(learner.learner_type, data_or_widths)
    elif data_or_widths is not None:
        widths = (int(data_or_widths[0]), int(data_or_widths[1]))
    else:
        widths = _widths_of_layers(snapshot.layers)
    state_tensor = snapshot.training_state
    state = _read_state(snapshot) if state_tensor is not None and state_tensor.loaded else None

    generator = torch.Generator()
    module = build_learner(learner.learner_type, *widths, hp, generator=generator)
    load_layers(module, snapshot.layers)
    module.to(device).eval()
    optimiser = torch.optim.SGD(module.parameters(), lr=hp.alpha, momentum=hp.momentum)
    if state is not None:
        generator.set_state(state["generator"])
        optimiser.load_state_dict(state["optimiser"])
        _follow_hyper_parameters(optimiser, hp, state)
    return module, optimiser


def hyper_parameters_for(
    learner_type: str, hyper_parameters: HyperParameters, data: LoadedDataset, indices: Indices
) -> HyperParameters:
    """Return `hyper_parameters` with the layer configurations and batch counts of this data."""
    module = build_learner(learner_type, *_widths(learner_type, data), hyper_parameters)
    sizes = indices.sizes()
    batches = {
        f"n_{name}_batches": math.ceil(size / hyper_parameters.batch_size)
        for name, size in sizes.items()
    }
    return hyper_parameters.with_values(layers=layer_configurations(module), **batches)


def seeds(seed: int) -> tuple[int, int]:
    """Return (initialisation and dropout seed, batch-order seed) for a seed of any size."""
    sequence = np.random.SeedSequence(int(seed) % 2**128)
    first, second = sequence.generate_state(2, dtype=np.uint64).tolist()
    return first % 2**63, second % 2**63


class _Run:
    """The state of one call to `train`: module, optimiser, generators and counters."""

    def __init__(
        self, learner: Learner, data: LoadedDataset, indices: Indices, device: torch.device
    ) -> None:
        self.learner, self.data, self.device = learner, data, device
        self.hp = learner.hyper_parameters
        self.classification = data.task == "classification"
        model_seed, order_seed = seeds(learner.seed)
        torch.manual_seed(model_seed)
        random.seed(model_seed)
        np.random.seed(model_seed % 2**32)
        self.generator = torch.Generator().manual_seed(model_seed)
        self.order = torch.Generator().manual_seed(order_seed)

        self.splits = data.splits(indices)
        self.tensors = {name: self._to_device(split) for name, split in self.splits}
        self.model = build_learner(
            learner.learner_type,
            *_widths(learner.learner_type, data),
            self.hp,
            generator=self.generator,
        ).to(device)
        self.optimiser = torch.optim.SGD(
            self.model.parameters(), lr=self.hp.alpha, momentum=self.hp.momentum
        )
        self.scheduler = (
            torch.optim.lr_scheduler.StepLR(self.optimiser, self.hp.lr_step_size, self.hp.lr_gamma)
            if self.hp.lr_step_size > 0
            else None
        )
        self.stopping = EarlyStopping(self.hp.patience)
        self.epoch, self.updates, self.elapsed_before = 0, 0, 0.0
        self.in_epoch: _EpochProgress | None = None
        self.best: tuple[int, LearnerPerformance, list[Layer]] | None = None
        self.last: tuple[LearnerPerformance, list[Layer]] | None = None

    def _to_device(self, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            torch.from_numpy(split.features).to(self.device),
            torch.from_numpy(split.targets).to(self.device),
        )

    def resume(self, snapshot: Snapshot) -> None:
        """Load a snapshot's weights and, when it has one, its training state."""
        self._check_layers(snapshot)
        load_layers(self.model, snapshot.layers)
        state_tensor = snapshot.training_state
        if state_tensor is None or not state_tensor.loaded:
            logger.info(
                "learner %s warm-started from snapshot of epoch %d", self.learner.id, snapshot.epoch
            )
            return
        state = _read_state(snapshot)
        saved_batch_size = state.get("batch_size", self.hp.batch_size)
        if saved_batch_size != self.hp.batch_size:
            raise ValidationError(
                "hyper_parameters.batch_size",
                self.hp.batch_size,
                f"{saved_batch_size}, the batch size the snapshot was trained with",
            )

        self.optimiser.load_state_dict(state["optimiser"])
        _follow_hyper_parameters(self.optimiser, self.hp, state)
        epochs_done = snapshot.epoch + (1 if snapshot.end_of_epoch else 0)
        self._follow_schedule(state["scheduler"], epochs_done)
        self.stopping.load_state_dict(state["early_stopping"])
        self.stopping.patience = self.hp.patience
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])
        self.generator.set_state(state["generator"])
        if state.get("in_epoch") is not None:
            self.in_epoch = self._continue_epoch(state["in_epoch"])
        self.order.set_state(state["batch_order"])
        self.epoch, self.updates = epochs_done, int(state["updates"])
        self.elapsed_before = float(snapshot.elapsed)
        self._restore_best(snapshot, state["best"])

        finished = self._finished_reason(self.epoch)
        if finished is not None:
            raise StateError(f"learner {self.learner.id} has nothing left to train: {finished[1]}")
        if snapshot.end_of_epoch:
            logger.info("learner %s resumed after epoch %d", self.learner.id, snapshot.epoch)
        else:
            logger.info(
                "learner %s resumed after batch %d of epoch %d",
                self.learner.id,
                snapshot.batch,
                snapshot.epoch,
            )

    def _check_layers(self, snapshot: Snapshot) -> None:
        """Refuse a snapshot of another architecture (shapes alone miss an activation)."""
        expected = layer_configurations(self.model)
        got = [layer.configuration for layer in snapshot.layers]
        if got != expected:
            raise ValidationError(
                "start_from.layers",
                [(c.label, c.kind, c.inputs, c.outputs, c.activation) for c in got],
                "the layers of the learner's architecture: "
                + str([(c.label, c.kind, c.inputs, c.outputs, c.activation) for c in expected]),
            )

    def _follow_schedule(self, saved: dict[str, Any] | None, epochs_done: int) -> None:
        """Continue the schedule after `epochs_done` epochs with the learner's step and gamma."""
        if self.scheduler is None:
            return
        groups = self.optimiser.param_groups
        self.scheduler.load_state_dict(
            {
                **self.scheduler.state_dict(),
                **(saved or {}),
                "step_size": self.hp.lr_step_size,
                "gamma": self.hp.lr_gamma,
                "base_lrs": [self.hp.alpha for _ in groups],
                "last_epoch": epochs_done,
                "_last_lr": [group["lr"] for group in groups],
            }
        )

    def _continue_epoch(self, saved: dict[str, Any]) -> _EpochProgress:
        """Return the saved epoch in progress, its batch order drawn again from its state."""
        self.order.set_state(saved["batch_order"])
        progress = self._begin_epoch()
        progress.batch, progress.rows = int(saved["batch"]), int(saved["rows"])
        progress.loss_sum.fill_(float(saved["loss_sum"]))
        return progress

    def _restore_best(self, snapshot: Snapshot, best: dict[str, Any] | None) -> None:
        self.last = (snapshot.performance, snapshot.layers) if snapshot.end_of_epoch else None
        if self.stopping.best_epoch == snapshot.epoch and snapshot.end_of_epoch:
            self.best = (snapshot.epoch, snapshot.performance, snapshot.layers)
        elif best is not None:
            saved = _layers(best["layers"], layer_configurations(self.model))
            self.best = (
                best["epoch"],
                LearnerPerformance.from_document(best["performance"]),
                saved,
            )

    def loop(
        self,
        on_snapshot: Callable[[Snapshot], None],
        should_stop: Callable[[], bool],
        snapshot_every: int,
        snapshot_every_updates: int | None,
        progress: Callable[[int, dict[str, float]], None] | None,
    ) -> TrainingOutcome:
        """Run epochs until a stopping rule holds; return the outcome."""
        started = time.monotonic()
        logger.info(
            "learner %s training %s from epoch %d on %s",
            self.learner.id,
            self.learner.learner_type,
            self.epoch,
            self.data.dataset.name,
        )
        while True:
            epoch = self.epoch
            if self.in_epoch is None:
                self.in_epoch = self._begin_epoch()
            if self._train_batches(snapshot_every_updates):
                elapsed = self.elapsed_before + time.monotonic() - started
                paused = should_stop()
                on_snapshot(
                    self._snapshot(epoch, elapsed, LearnerPerformance(), layers_of(self.model))
                )
                if paused:
                    reason = f"paused after batch {self.in_epoch.batch} of epoch {epoch}"
                    return self._outcome("paused", reason, elapsed)
                continue
            batch_loss = self.in_epoch.mean_loss()
            self.in_epoch = None
            if self.scheduler is not None:
                self.scheduler.step()
            performance = self._evaluate()
            elapsed = self.elapsed_before + time.monotonic() - started
            valid_loss = performance.valid.loss
            self.stopping.update(epoch, valid_loss)
            ending = self._failure(epoch, batch_loss, performance) or self._finished_reason(
                epoch + 1
            )

            boundary = ending is not None or (epoch + 1) % snapshot_every == 0
            layers = layers_of(self.model) if boundary or self.stopping.improved else None
            if self.stopping.improved:
                self.best = (epoch, performance, layers)
            self.last = (performance, layers)
            if progress is not None:
                progress(epoch, self._progress(performance, elapsed))
            logger.debug("learner %s epoch %d valid loss %s", self.learner.id, epoch, valid_loss)
            if boundary:
                if ending is None and should_stop():
                    ending = ("paused", f"paused after epoch {epoch}")
                on_snapshot(self._snapshot(epoch, elapsed, performance, layers))
            self.epoch = epoch + 1
            if ending is not None:
                return self._outcome(*ending, elapsed)

    def _begin_epoch(self) -> _EpochProgress:
        """Draw the epoch's batch order, remembering the generator state it came from."""
        drawn_from = self.order.get_state()
        rows = len(self.tensors["train"][1])
        permutation = torch.randperm(rows, generator=self.order).to(self.device)
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        return _EpochProgress(drawn_from, permutation, loss_sum)

    def _train_batches(self, snapshot_every_updates: int | None) -> bool:
        """Run the epoch's remaining updates; return True when a snapshot inside it is due."""
        features, targets = self.tensors["train"]
        progress, size = self.in_epoch, self.hp.batch_size
        self.model.train()
        while progress.batch * size < len(targets) and self.updates < self.hp.max_updates:
            rows = progress.permutation[progress.batch * size : (progress.batch + 1) * size]
            data_loss = self._loss(self.model(features[rows]), targets[rows])
            loss = data_loss + self._penalty()
            self.optimiser.zero_grad(set_to_none=True)
            loss.backward()
            self.optimiser.step()
            self.updates += 1
            progress.batch += 1
            progress.loss_sum += data_loss.detach().double() * len(rows)
            progress.rows += len(rows)

            more = progress.batch * size < len(targets) and self.updates < self.hp.max_updates
            if more and snapshot_every_updates and self.updates % snapshot_every_updates == 0:
                return True
        return False

    def _loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.classification:
            return functional.cross_entropy(outputs, targets)
        return functional.mse_loss(outputs.squeeze(-1), targets)

    def _penalty(self) -> torch.Tensor | float:
        if self.hp.regularisation == "l2" and self.hp.lambda_:
            return self.hp.lambda_ * sum(weight.pow(2).sum() for weight in weights(self.model))
        if self.hp.regularisation == "l1" and self.hp.lambda_:
            return self.hp.lambda_ * sum(weight.abs().sum() for weight in weights(self.model))
        return 0.0

    def _evaluate(self) -> LearnerPerformance:
        """Return the learner's performance on every split, without dropout."""
        self.model.eval()
        scores = {}
        with torch.no_grad():
            for name, (features, targets) in self.tensors.items():
                if len(targets) == 0:
                    continue
                outputs = torch.cat(
                    [self.model(chunk) for chunk in features.split(EVALUATION_CHUNK)]
                )
                loss = float(self._loss(outputs, targets))
                scores[name] = (
                    self._classification(name, loss, outputs, targets)
                    if self.classification
                    else _regression(name, loss, outputs, targets, self.splits)
                )
        return LearnerPerformance(**scores)

    def _classification(
        self, split: str, loss: float, outputs: torch.Tensor, targets: torch.Tensor
    ) -> Performance:
        labels = self.data.dataset.labels
        predicted = outputs.argmax(dim=1).cpu().numpy()
        true = targets.cpu().numpy()
        matrix = ConfusionMatrix.of_positions(true, predicted, labels)
        precision, recall, f1 = matrix.macro_scores()
        return Performance(
            split=split,
            loss=loss,
            accuracy=float((predicted == true).mean()),
            precision=precision,
            recall=recall,
            f1=f1,
            confusion_matrix=matrix,
        )

    def _failure(
        self, epoch: int, batch_loss: float, performance: LearnerPerformance
    ) -> tuple[str, str] | None:
        for name, loss in (
            ("training", batch_loss),
            ("training", performance.train.loss),
            ("validation", performance.valid.loss),
        ):
            if not math.isfinite(loss):
                return "failed", f"{name} loss became {loss!r} at epoch {epoch}"
        return None

    def _finished_reason(self, epochs: int) -> tuple[str, str] | None:
        """Return (status, reason) when training must end after `epochs` epochs, else None."""
        if self.stopping.should_stop:
            return (
                "stopped_early",
                (
                    f"validation loss did not improve for {self.stopping.patience} epochs "
                    f"after epoch {self.stopping.best_epoch}"
                ),
            )
        if self.updates >= self.hp.max_updates:
            return "completed", f"reached max_updates ({self.hp.max_updates})"
        if epochs >= self.hp.max_epochs:
            return "completed", f"reached max_epochs ({self.hp.max_epochs})"
        return None

    def _snapshot(
        self, epoch: int, elapsed: float, performance: LearnerPerformance, layers: list[Layer]
    ) -> Snapshot:
        return Snapshot(
            learner_id=self.learner.id,
            experiment_id=self.learner.experiment_id,
            epoch=epoch,
            updates=self.updates,
            elapsed=elapsed,
            performance=performance,
            layers=layers,
            training_state=self._training_state(epoch),
            batch=self.in_epoch.batch if self.in_epoch is not None else None,
        )

    def _training_state(self, epoch: int) -> Tensor:
        """Return everything besides the weights needed to continue from here, as bytes.

        Inside an epoch `in_epoch` holds the epoch's progress; `batch_order` is always the
        order generator's current state. `alpha` is the rate the schedule started from, so
        a fork can scale the rate it reached. The best epoch's layers are saved unless they
        are this snapshot's own. Wall-clock time stays out (it is the snapshot's
        `elapsed`), so the same run gives the same bytes.
        """
        best = None
        own_layers = self.in_epoch is None and self.best is not None and self.best[0] == epoch
        if self.best is not None and not own_layers:
            best_epoch, performance, layers = self.best
            best = {
                "epoch": best_epoch,
                "performance": performance.to_document(),
                "layers": {
                    layer.configuration.label: {
                        t.name: torch.from_numpy(t.to_numpy().copy()) for t in layer.tensors
                    }
                    for layer in layers
                },
            }
        state = {
            "version": STATE_VERSION,
            "epoch": epoch,
            "batch": self.in_epoch.batch if self.in_epoch is not None else None,
            "in_epoch": self.in_epoch.state_dict() if self.in_epoch is not None else None,
            "updates": self.updates,
            "alpha": self.hp.alpha,
            "batch_size": self.hp.batch_size,
            "optimiser": self.optimiser.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "early_stopping": self.stopping.state_dict(),
            "rng": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
            },
            "generator": self.generator.get_state(),
            "batch_order": self.order.get_state(),
            "best": best,
        }
        return Tensor.of_bytes("training_state", encode_state(state))

    def _progress(self, performance: LearnerPerformance, elapsed: float) -> dict[str, float]:
        return {
            "train_loss": performance.train.loss,
            "valid_loss": performance.valid.loss,
            "updates": self.updates,
            "lr": self.optimiser.param_groups[0]["lr"],
            "elapsed": elapsed,
        }

    def _outcome(self, status: str, reason: str, elapsed: float) -> TrainingOutcome:
        if self.best is not None:
            best_epoch, performance, layers = self.best
        elif self.last is not None:
            best_epoch, (performance, layers) = None, self.last
        else:  # paused inside the first epoch (or the first after a resume inside one)
            best_epoch, performance, layers = None, LearnerPerformance(), layers_of(self.model)
        log = logger.warning if status == "failed" else logger.info
        log("learner %s %s: %s", self.learner.id, status, reason)
        return TrainingOutcome(
            status=status,
            reason=reason,
            epochs=self.epoch,
            updates=self.updates,
            best_epoch=best_epoch,
            performance=performance,
            layers=layers,
            elapsed=elapsed,
        )


@dataclass
class _EpochProgress:
    """Where the running epoch stands.

    `drawn_from` is the order generator's state the epoch's `permutation` was drawn from
    (saved instead of the permutation, which can be long); `batch` counts the batches
    done and `loss_sum` adds up their data losses times their rows.
    """

    drawn_from: torch.Tensor
    permutation: torch.Tensor
    loss_sum: torch.Tensor
    batch: int = 0
    rows: int = 0

    def mean_loss(self) -> float:
        """Return the mean mini-batch loss of the rows seen so far."""
        return float(self.loss_sum) / max(self.rows, 1)

    def state_dict(self) -> dict[str, Any]:
        """Return the state to save with a snapshot inside the epoch."""
        return {
            "batch_order": self.drawn_from,
            "batch": self.batch,
            "rows": self.rows,
            "loss_sum": float(self.loss_sum),
        }


def _read_state(snapshot: Snapshot) -> dict[str, Any]:
    """Return the snapshot's training state, refusing one of another version or place."""
    state = decode_state(snapshot.training_state.values)
    version = state.get("version") if isinstance(state, dict) else None
    if version not in READABLE_STATE_VERSIONS:
        raise ValidationError(
            "start_from.training_state.version",
            version,
            " or ".join(map(str, READABLE_STATE_VERSIONS))
            + " (states written by this version of POL or the one before)",
        )
    if (state["epoch"], state.get("batch")) != (snapshot.epoch, snapshot.batch):
        raise ValidationError(
            "start_from.training_state.epoch",
            (state["epoch"], state.get("batch")),
            f"the snapshot's (epoch, batch): {(snapshot.epoch, snapshot.batch)}",
        )
    return state


def _follow_hyper_parameters(
    optimiser: torch.optim.Optimizer, hp: HyperParameters, state: dict[str, Any]
) -> None:
    """Give a loaded optimiser the learning rate and momentum of `hp`.

    The rate keeps the schedule's decay so far: the saved rate times hp.alpha over the
    alpha the saved schedule started from (unchanged, bit for bit, when alpha is).
    """
    groups = optimiser.param_groups
    started_from = state.get("alpha") or groups[0].get("initial_lr", groups[0]["lr"])
    for group in groups:
        group["lr"] = group["lr"] * (hp.alpha / started_from)
        group["momentum"] = hp.momentum
        if hp.lr_step_size > 0:
            group["initial_lr"] = hp.alpha


def _widths_of_layers(layers: list[Layer]) -> tuple[int, int]:
    """Return (n_inputs, n_outputs) read from a learner's layer configurations."""
    if not layers:
        raise ValidationError("snapshot.layers", [], "the learner's layers")
    ordered = sorted(layers, key=lambda layer: layer.configuration.index)
    return ordered[0].configuration.inputs, ordered[-1].configuration.outputs


def _regression(
    split: str, loss: float, outputs: torch.Tensor, targets: torch.Tensor, splits: Splits
) -> Performance:
    scale, shift = splits.target_std, splits.target_mean
    predicted = outputs.squeeze(-1).double().cpu().numpy() * scale + shift
    true = targets.double().cpu().numpy() * scale + shift
    errors = predicted - true
    return Performance(
        split=split, loss=loss, mse=float(np.mean(errors**2)), mae=float(np.mean(np.abs(errors)))
    )


def _check_every(name: str, every: int) -> None:
    if isinstance(every, bool) or int(every) != every or every < 1:
        raise ValidationError(name, every, "an integer >= 1")


def _widths(learner_type: str, data: LoadedDataset) -> tuple[int, int]:
    """Return (n_inputs, n_outputs) of a learner of `learner_type` for `data`."""
    if learner_type != "mlp" and not data.is_sequence:
        raise ValidationError(
            "learner_type",
            learner_type,
            f"mlp for {data.dataset.name}, which has no window; recurrent learners need sequences",
        )
    n_inputs = (
        int(np.prod(data.features.shape[1:])) if learner_type == "mlp" else data.features.shape[2]
    )
    return n_inputs, data.n_outputs


def _layers(
    saved: dict[str, dict[str, torch.Tensor]], configurations: list[LayerConfiguration]
) -> list[Layer]:
    """Return the layers of a best model saved in a training state."""
    return [
        Layer(
            configuration,
            [
                Tensor.from_torch(name, values)
                for name, values in saved[configuration.label].items()
            ],
        )
        for configuration in configurations
    ]


__all__ = [
    "OUTCOME_STATUSES",
    "EarlyStopping",
    "TrainingOutcome",
    "hyper_parameters_for",
    "load_module",
    "seeds",
    "train",
]
