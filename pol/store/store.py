"""Store: the paper's Access library, reading and writing the POL model in MongoDB."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any, Self

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ..errors import ConflictError, NotFoundError, StateError, ValidationError
from ..model import Experiment, Layer, Learner, LearnerPerformance, Snapshot, Tensor
from ..model._normalise import now
from ..model.ids import object_id
from ..model.learner import FINISHED, RECENT_SNAPSHOTS, STATUSES
from ..model.tensor import checksum

logger = logging.getLogger(__name__)

# Tensor values are kept in chunks of at most this many bytes, well under BSON's 16 MB.
CHUNK_BYTES = 4 * 1024 * 1024
# A wire-protocol server may handle large batches slowly; chunks are sent a few at a time.
CHUNKS_PER_BATCH = 4

INDEXES: dict[str, list[tuple[list[tuple[str, int]], dict[str, Any]]]] = {
    "experiments": [([("created_at", DESCENDING)], {})],
    "learners": [
        ([("experiment_id", ASCENDING), ("status", ASCENDING)], {}),
        ([("experiment_id", ASCENDING), ("configuration", ASCENDING), ("run", ASCENDING)], {}),
        ([("status", ASCENDING), ("created_at", ASCENDING)], {}),
        ([("parent_learner_id", ASCENDING)], {}),
        # The API's learner filters and orderings (Experiment.learnersConnection) on the
        # metrics most searches rank by: validation loss (the paper's default, also the
        # top-k of the analytics), validation and test accuracy. Each serves an equality on
        # experiment_id plus a range on the metric; other metrics and hyper-parameters are
        # matched within the experiment's learners, which (experiment_id, status) finds.
        ([("experiment_id", ASCENDING), ("performance.valid.loss", ASCENDING)], {}),
        ([("experiment_id", ASCENDING), ("performance.valid.accuracy", ASCENDING)], {}),
        ([("experiment_id", ASCENDING), ("performance.test.accuracy", ASCENDING)], {}),
        # Filters on the learning rate, the hyper-parameter searches vary most.
        ([("experiment_id", ASCENDING), ("hyper_parameters.alpha", ASCENDING)], {}),
    ],
    "snapshots": [
        (
            [
                ("learner_id", ASCENDING),
                ("generation", ASCENDING),
                ("epoch", ASCENDING),
                ("batch", ASCENDING),
            ],
            {"unique": True},
        ),
        ([("learner_id", ASCENDING), ("superseded", ASCENDING), ("updates", DESCENDING)], {}),
        ([("experiment_id", ASCENDING), ("learner_id", ASCENDING)], {}),
    ],
    "tensor_chunks": [([("checksum", ASCENDING), ("n", ASCENDING)], {})],
}


class Store:
    """Typed access to one POL database: experiments, learners, snapshots and tensor values.

    `database` is a pymongo Database, or the embedded engine's database, which speaks the
    same API; nothing here depends on which one it is.
    """

    def __init__(self, database: Any, client: Any = None) -> None:
        self.database = database
        self.client = client
        self.experiments = database["experiments"]
        self.learners = database["learners"]
        self.snapshots = database["snapshots"]
        self.tensor_chunks = database["tensor_chunks"]

    @property
    def analytics_database(self) -> Any:
        """Return the database for analytics reads: secondaries preferred on a replica set.

        Analytics read finished history, so a secondary's slight lag does not matter and
        the primary keeps its capacity for the workers' writes.
        """
        from pymongo import ReadPreference
        from pymongo.database import Database

        if not isinstance(self.database, Database):
            return self.database  # the embedded engine has a single copy of the data
        return self.database.with_options(read_preference=ReadPreference.SECONDARY_PREFERRED)

    def close(self) -> None:
        """Close the connection this store opened."""
        if self.client is not None:
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_indexes(self) -> None:
        """Create the indexes every query of the API and the analytics relies on."""
        for name, indexes in INDEXES.items():
            for keys, options in indexes:
                self.database[name].create_index(keys, **options)

    # Experiments

    def insert_experiment(self, experiment: Experiment) -> Experiment:
        """Store a new experiment and return it with its id."""
        document = experiment.to_document()
        document.pop("_id", None)
        experiment.id = str(self.experiments.insert_one(document).inserted_id)
        logger.info("experiment %s created: %s", experiment.id, experiment.name)
        return experiment

    def experiment(self, experiment_id: str) -> Experiment:
        """Return the experiment with this id, or raise NotFoundError."""
        document = self.experiments.find_one({"_id": object_id("id", experiment_id)})
        if document is None:
            raise NotFoundError("experiment", experiment_id, field="id")
        return Experiment.from_document(document)

    def list_experiments(self, limit: int = 0) -> list[Experiment]:
        """Return the experiments, newest first."""
        cursor = self.experiments.find({}, sort=[("created_at", DESCENDING), ("_id", DESCENDING)])
        if limit:
            cursor = cursor.limit(limit)
        return [Experiment.from_document(document) for document in cursor]

    # Learners

    def insert_learners(self, learners: list[Learner]) -> list[Learner]:
        """Store new learners (queued) and return them with their ids."""
        if not learners:
            return []
        for learner in learners:
            learner.id = str(ObjectId())
        self.learners.insert_many([learner.to_document() for learner in learners])
        return learners

    def learner(self, learner_id: str) -> Learner:
        """Return the learner with this id, or raise NotFoundError."""
        document = self.learners.find_one({"_id": object_id("id", learner_id)})
        if document is None:
            raise NotFoundError("learner", learner_id, field="id")
        return Learner.from_document(document)

    def learners_of(
        self, experiment_id: str, *, status: str | None = None, ids: Iterable[str] | None = None
    ) -> list[Learner]:
        """Return an experiment's learners in (configuration, run) order."""
        query: dict[str, Any] = {"experiment_id": object_id("experiment_id", experiment_id)}
        if status is not None:
            if status not in STATUSES:
                raise ValidationError("status", status, "one of " + ", ".join(STATUSES))
            query["status"] = status
        if ids is not None:
            query["_id"] = {"$in": [object_id("ids", item) for item in ids]}
        cursor = self.learners.find(query, sort=[("configuration", 1), ("run", 1), ("_id", 1)])
        return [Learner.from_document(document) for document in cursor]

    def count_learners(self, experiment_id: str) -> dict[str, int]:
        """Return the number of an experiment's learners in each status."""
        counts = {status: 0 for status in STATUSES}
        pipeline = [
            {"$match": {"experiment_id": object_id("experiment_id", experiment_id)}},
            {"$group": {"_id": "$status", "count": {"$sum": 1}}},
        ]
        for row in self.learners.aggregate(pipeline):
            counts[row["_id"]] = row["count"]
        return counts

    def claim_learner(
        self, worker: str, *, experiment_id: str | None = None, lease_seconds: float = 60.0
    ) -> Learner | None:
        """Atomically take the oldest queued learner for `worker`; None when none is queued.

        A running learner whose lease has expired (its worker died or lost the store) is
        queued again first, so it can be taken like any other.
        """
        scope: dict[str, Any] = {}
        if experiment_id is not None:
            scope["experiment_id"] = object_id("experiment_id", experiment_id)
        self._requeue_expired(scope)
        moment = now()
        document = self.learners.find_one_and_update(
            {**scope, "status": "queued"},
            {
                "$set": {
                    "status": "running",
                    "worker": worker,
                    "lease_expires_at": moment + dt.timedelta(seconds=lease_seconds),
                    "started_at": moment,
                },
                "$inc": {"claims": 1},
            },
            sort=[("status", 1), ("created_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            return None
        logger.info("learner %s claimed by %s", document["_id"], worker)
        return Learner.from_document(document)

    def _requeue_expired(self, scope: dict[str, Any]) -> None:
        while True:
            document = self.learners.find_one_and_update(
                {**scope, "status": "running", "lease_expires_at": {"$lt": now()}},
                {"$set": {"status": "queued"}, "$unset": {"worker": "", "lease_expires_at": ""}},
                projection={"worker": 1},
            )
            if document is None:
                return
            logger.warning(
                "learner %s: the lease of %s expired; queued again to continue from its "
                "latest snapshot",
                document["_id"],
                document.get("worker"),
            )

    def renew_lease(self, learner_id: str, worker: str, lease_seconds: float = 60.0) -> bool:
        """Extend `worker`'s claim on a running learner; False when the claim was lost."""
        result = self.learners.update_one(
            {"_id": object_id("id", learner_id), "worker": worker, "status": "running"},
            {"$set": {"lease_expires_at": now() + dt.timedelta(seconds=lease_seconds)}},
        )
        return result.matched_count == 1

    def release_learner(
        self, learner_id: str, worker: str, status: str = "queued", *, reason: str | None = None
    ) -> bool:
        """Give up `worker`'s claim, leaving the learner `status`; False if it held none."""
        update: dict[str, Any] = {"status": status, "request": None, "failure_reason": reason}
        if status in FINISHED:
            update["finished_at"] = now()
        result = self.learners.update_one(
            {"_id": object_id("id", learner_id), "worker": worker, "status": "running"},
            {"$set": update, "$unset": {"worker": "", "lease_expires_at": ""}},
        )
        if result.matched_count:
            logger.info(
                "learner %s %s by %s%s", learner_id, status, worker, f": {reason}" if reason else ""
            )
        return result.matched_count == 1

    def claim_state(self, learner_id: str, worker: str) -> str | None:
        """Return what a running learner's worker must do: None, "pause", "cancel" or "lost"."""
        document = self.learners.find_one(
            {"_id": object_id("id", learner_id)},
            projection={"worker": 1, "status": 1, "request": 1},
        )
        if document is None or document.get("worker") != worker or document["status"] != "running":
            return "lost"
        return document.get("request")

    def set_status(
        self,
        learner_id: str,
        status: str,
        *,
        expected: Iterable[str] | None = None,
        reason: str | None = None,
    ) -> Learner:
        """Move a learner to `status` if it is in one of the `expected` statuses, else raise."""
        if status not in STATUSES:
            raise ValidationError("status", status, "one of " + ", ".join(STATUSES))
        query: dict[str, Any] = {"_id": object_id("id", learner_id)}
        if expected is not None:
            query["status"] = {"$in": list(expected)}
        update: dict[str, Any] = {"status": status, "failure_reason": reason}
        if status in ("completed", "stopped_early", "failed", "cancelled"):
            update["finished_at"] = now()
        document = self.learners.find_one_and_update(
            query, {"$set": update}, return_document=ReturnDocument.AFTER
        )
        if document is None:
            current = self.learner(learner_id)
            raise StateError(
                f"learner {learner_id} is {current.status}; {status} needs one of "
                + ", ".join(expected or ()),
                field="status",
            )
        logger.info("learner %s %s%s", learner_id, status, f": {reason}" if reason else "")
        return Learner.from_document(document)

    def finish_learner(
        self,
        learner_id: str,
        *,
        status: str,
        reason: str | None,
        performance: LearnerPerformance,
        layers: list[Layer],
        best_epoch: int | None,
        worker: str | None = None,
    ) -> bool:
        """Record a learner's final status, its performance and layers at the best epoch.

        With `worker`, only while that worker holds the claim; returns False otherwise.
        """
        self.put_tensors(tensor for layer in layers for tensor in layer.tensors)
        query: dict[str, Any] = {"_id": object_id("id", learner_id)}
        if worker is not None:
            query["worker"] = worker
        result = self.learners.update_one(
            query,
            {
                "$set": {
                    "status": status,
                    "failure_reason": reason if status == "failed" else None,
                    "stop_reason": reason,
                    "performance": performance.to_document(),
                    "layers": [layer.to_document() for layer in layers],
                    "best_epoch": best_epoch,
                    "trained": status in ("completed", "stopped_early"),
                    "finished_at": now(),
                    "request": None,
                },
                "$unset": {"worker": "", "lease_expires_at": ""},
            },
        )
        if not result.matched_count:
            logger.warning(
                "learner %s: %s no longer holds it; its result is dropped", learner_id, worker
            )
            return False
        logger.info("learner %s %s%s", learner_id, status, f": {reason}" if reason else "")
        return True

    # Snapshots

    def write_snapshot(self, snapshot: Snapshot) -> Snapshot:
        """Store a snapshot and its tensors, once.

        Writing a snapshot that is already stored with the same updates and tensors (a
        worker that lost its claim repeating what its successor wrote) changes nothing;
        a different one at the same place raises ConflictError.
        """
        self.put_tensors(snapshot.tensors())
        document = snapshot.to_document()
        document.pop("_id", None)
        try:
            snapshot.id = str(self.snapshots.insert_one(document).inserted_id)
        except DuplicateKeyError:
            stored = Snapshot.from_document(self.snapshots.find_one(_place(snapshot)))
            if _same_training(stored, snapshot):
                snapshot.id = stored.id
                return snapshot
            where = f"epoch {snapshot.epoch}" + (
                f" batch {snapshot.batch}" if snapshot.batch is not None else ""
            )
            raise ConflictError(
                f"learner {snapshot.learner_id} already has a different snapshot of {where}",
                field="epoch",
            ) from None
        progress: dict[str, Any] = {"$set": {"updates": snapshot.updates}}
        if snapshot.end_of_epoch:
            progress["$set"]["epochs"] = snapshot.epoch + 1
            progress["$set"]["performance"] = snapshot.performance.to_document()
            progress["$push"] = {
                "recent_snapshots": {"$each": [ObjectId(snapshot.id)], "$slice": -RECENT_SNAPSHOTS}
            }
        self.learners.update_one({"_id": object_id("learner_id", snapshot.learner_id)}, progress)
        return snapshot

    def snapshot(self, learner_id: str, epoch: int, *, values: bool = False) -> Snapshot:
        """Return the learner's current end-of-epoch snapshot of `epoch` (values if asked)."""
        document = self.snapshots.find_one(
            {
                "learner_id": object_id("learner_id", learner_id),
                "superseded": False,
                "epoch": epoch,
                "batch": None,
            }
        )
        if document is None:
            raise NotFoundError(
                "snapshot", f"of learner {learner_id} at epoch {epoch}", field="epoch"
            )
        snapshot = Snapshot.from_document(document)
        return self.load_snapshot_values(snapshot) if values else snapshot

    def latest_snapshot(self, learner_id: str, *, values: bool = False) -> Snapshot | None:
        """Return the learner's latest current snapshot (mid-epoch ones too), or None."""
        document = self.snapshots.find_one(
            {"learner_id": object_id("learner_id", learner_id), "superseded": False},
            sort=[("updates", DESCENDING), ("epoch", DESCENDING)],
        )
        if document is None:
            return None
        snapshot = Snapshot.from_document(document)
        return self.load_snapshot_values(snapshot) if values else snapshot

    def snapshots_of(
        self,
        learner_id: str,
        *,
        first_epoch: int | None = None,
        last_epoch: int | None = None,
        superseded: bool = False,
        mid_epoch: bool = False,
    ) -> list[Snapshot]:
        """Return the learner's end-of-epoch snapshots in epoch order, within an epoch range.

        `superseded` adds those a roll-back replaced; `mid_epoch` adds those taken inside
        an epoch. The order is (epoch, batch, generation), end of epoch last.
        """
        query = {
            "learner_id": object_id("learner_id", learner_id),
            **snapshot_filter(first_epoch, last_epoch, superseded, mid_epoch),
        }
        snapshots = [Snapshot.from_document(document) for document in self.snapshots.find(query)]
        return sorted(snapshots, key=training_order)

    def forks_of(self, learner_id: str) -> list[Learner]:
        """Return the learners forked from this one, oldest first."""
        cursor = self.learners.find(
            {"parent_learner_id": object_id("learner_id", learner_id)},
            sort=[("created_at", ASCENDING), ("_id", ASCENDING)],
        )
        return [Learner.from_document(document) for document in cursor]

    def load_snapshot_values(self, snapshot: Snapshot) -> Snapshot:
        """Return `snapshot` with the values of every tensor read from the store."""
        for layer in snapshot.layers:
            layer.tensors = [self.tensor_values(tensor) for tensor in layer.tensors]
        if snapshot.training_state is not None:
            snapshot.training_state = self.tensor_values(snapshot.training_state)
        return snapshot

    # Tensor values, content-addressed by checksum and kept in chunks

    def put_tensors(self, tensors: Iterable[Tensor]) -> None:
        """Store tensors' values, skipping bytes whose checksum is already stored."""
        loaded = {tensor.checksum: tensor for tensor in tensors if tensor.loaded}
        if not loaded:
            return
        stored = self.tensor_chunks.find(
            {"_id": {"$in": [chunk_id(key, 0) for key in loaded]}}, projection={"checksum": 1}
        )
        for document in stored:
            loaded.pop(document["checksum"], None)
        chunks = []
        for tensor in loaded.values():
            pieces = [
                {
                    "_id": chunk_id(tensor.checksum, n),
                    "checksum": tensor.checksum,
                    "n": n,
                    "data": tensor.values[start : start + CHUNK_BYTES],
                }
                for n, start in enumerate(range(0, max(tensor.nbytes, 1), CHUNK_BYTES))
            ]
            # The first chunk goes last: its presence means every chunk is stored.
            chunks += pieces[1:] + pieces[:1]
        batch: list[dict[str, Any]] = []
        for chunk in chunks:
            batch.append(chunk)
            if len(batch) == CHUNKS_PER_BATCH or sum(len(item["data"]) for item in batch) >= (
                CHUNK_BYTES * CHUNKS_PER_BATCH
            ):
                self._insert_chunks(batch)
                batch = []
        if batch:
            self._insert_chunks(batch)

    def _insert_chunks(self, chunks: list[dict[str, Any]]) -> None:
        try:
            self.tensor_chunks.insert_many(chunks, ordered=False)
        except BulkWriteError as error:
            # Another writer stored the same bytes at the same time: the chunks are equal.
            if any(item.get("code") != 11000 for item in error.details.get("writeErrors", [])):
                raise

    def tensor_values(self, tensor: Tensor) -> Tensor:
        """Return a copy of `tensor` with its values, checked against its checksum."""
        count = max(1, -(-tensor.nbytes // CHUNK_BYTES))
        ids = [chunk_id(tensor.checksum, n) for n in range(count)]
        # By _id, so that a cluster sharded on _id reads only the shards that hold them.
        chunks = sorted(self.tensor_chunks.find({"_id": {"$in": ids}}), key=lambda item: item["n"])
        values = b"".join(bytes(chunk["data"]) for chunk in chunks)
        if checksum(values) != tensor.checksum:
            raise NotFoundError("tensor values", f"{tensor.name} ({tensor.checksum[:12]})")
        return Tensor(
            name=tensor.name,
            dtype=tensor.dtype,
            shape=tensor.shape,
            values=values,
            checksum=tensor.checksum,
            stats=tensor.stats,
            summarise=tensor.stats is not None,
        )


def snapshot_filter(
    first_epoch: int | None, last_epoch: int | None, superseded: bool, mid_epoch: bool
) -> dict[str, Any]:
    """Return the query of snapshots within an inclusive epoch range.

    Without `superseded`, only current snapshots; without `mid_epoch`, only those taken at
    the end of an epoch.
    """
    query: dict[str, Any] = {}
    epochs = {"$gte": first_epoch, "$lte": last_epoch}
    epochs = {operator: epoch for operator, epoch in epochs.items() if epoch is not None}
    if epochs:
        query["epoch"] = epochs
    if not superseded:
        query["superseded"] = False
    if not mid_epoch:
        query["batch"] = None
    return query


def training_order(snapshot: Snapshot) -> tuple[int, bool, int, int]:
    """Return a snapshot's place in training: by epoch, then batch, the end of epoch last,
    then roll-back generation."""
    return (snapshot.epoch, snapshot.batch is None, snapshot.batch or 0, snapshot.generation)


def _place(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "learner_id": object_id("learner_id", snapshot.learner_id),
        "generation": snapshot.generation,
        "epoch": snapshot.epoch,
        "batch": snapshot.batch,
    }


def _same_training(first: Snapshot, second: Snapshot) -> bool:
    def checksums(snapshot: Snapshot) -> list[str]:
        return [tensor.checksum for layer in snapshot.layers for tensor in layer.tensors]

    # repr, not ==, so that NaN metrics compare equal to themselves.
    return (
        first.updates == second.updates
        and checksums(first) == checksums(second)
        and repr(first.performance.to_document()) == repr(second.performance.to_document())
    )


def chunk_id(tensor_checksum: str, n: int) -> str:
    """Return the _id of the `n`th chunk (from 0) of the tensor values with this checksum."""
    return f"{tensor_checksum}:{n}"
