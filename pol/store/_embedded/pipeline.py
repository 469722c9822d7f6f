"""Aggregation pipeline over decoded documents.

$match, $sort, $group, $limit, $skip, $count and $unset are implemented here (so that
$group and $sort follow MongoDB's cross-type order); $project, $addFields/$set,
$replaceRoot/$replaceWith and $unwind use mongomock's stage handlers and expression
evaluator. Any other stage raises OperationFailure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mongomock import aggregate as mongomock_aggregate
from pymongo.errors import OperationFailure

from .documents import get_path, matches, unset_path
from .ordering import MISSING, field_sort_key, hashable, sort_key

_DELEGATED_STAGES = ("$project", "$addFields", "$set", "$replaceRoot", "$unwind")


def evaluate(expression: Any, document: dict) -> Any:
    """Return the value of aggregation `expression` for `document` (MISSING if absent)."""
    if isinstance(expression, str) and expression.startswith("$$"):
        if expression == "$$ROOT":
            return document
        raise OperationFailure(f"aggregation variable {expression} is not supported")
    if isinstance(expression, str) and expression.startswith("$"):
        return get_path(document, expression[1:])
    if isinstance(expression, Mapping) and not any(k.startswith("$") for k in expression):
        evaluated = {key: evaluate(value, document) for key, value in expression.items()}
        return {key: value for key, value in evaluated.items() if value is not MISSING}
    try:
        return mongomock_aggregate._parse_expression(expression, document, ignore_missing_keys=True)
    except KeyError:
        return MISSING
    except NotImplementedError as error:
        raise OperationFailure(f"unsupported aggregation expression {expression!r}: {error}")


def sort_documents(documents: list[dict], spec: list[tuple[str, int]]) -> list[dict]:
    """Return `documents` sorted by `spec` in MongoDB order, keeping ties in input order."""
    ordered = list(documents)
    for path, direction in reversed(spec):
        descending = direction < 0
        ordered.sort(
            key=lambda document: field_sort_key(get_path(document, path), descending),
            reverse=descending,
        )
    return ordered


def _sum(values: list[Any]) -> Any:
    total: Any = 0
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total += value
    return total


def _average(values: list[Any]) -> Any:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return sum(numbers) / len(numbers) if numbers else None


def _extreme(values: list[Any], pick: Callable) -> Any:
    present = [v for v in values if v is not MISSING and v is not None]
    return pick(present, key=sort_key) if present else None


def _add_to_set(values: list[Any]) -> list:
    seen: dict = {}
    for value in values:
        if value is not MISSING:
            seen.setdefault(hashable(value), value)
    return list(seen.values())


def _first(values: list[Any]) -> Any:
    return None if not values or values[0] is MISSING else values[0]


def _last(values: list[Any]) -> Any:
    return None if not values or values[-1] is MISSING else values[-1]


_ACCUMULATORS: dict[str, Callable[[list[Any]], Any]] = {
    "$sum": _sum,
    "$avg": _average,
    "$min": lambda values: _extreme(values, min),
    "$max": lambda values: _extreme(values, max),
    "$first": _first,
    "$last": _last,
    "$push": lambda values: [v for v in values if v is not MISSING],
    "$addToSet": _add_to_set,
}


def _group(documents: Iterable[dict], spec: Mapping) -> list[dict]:
    if "_id" not in spec:
        raise OperationFailure("a $group stage must specify an _id")
    outputs = {}
    for field, accumulator in spec.items():
        if field == "_id":
            continue
        if not isinstance(accumulator, Mapping) or len(accumulator) != 1:
            raise OperationFailure(f"$group field {field!r} must be one accumulator: {accumulator}")
        ((operator, argument),) = accumulator.items()
        if operator == "$count":
            operator, argument = "$sum", 1
        if operator not in _ACCUMULATORS:
            raise OperationFailure(f"unsupported $group accumulator {operator} on {field!r}")
        outputs[field] = (_ACCUMULATORS[operator], argument)

    groups: dict[Any, tuple[Any, list[dict]]] = {}
    for document in documents:
        key = evaluate(spec["_id"], document)
        key = None if key is MISSING else key
        groups.setdefault(hashable(key), (key, []))[1].append(document)

    grouped = []
    for key, members in groups.values():
        result = {"_id": key}
        for field, (reduce, argument) in outputs.items():
            # $first and $last read one member; evaluating the others would change nothing.
            read = members[:1] if reduce is _first else members[-1:] if reduce is _last else members
            result[field] = reduce([evaluate(argument, member) for member in read])
        grouped.append(result)
    return grouped


def _sort_spec(options: Any) -> list[tuple[str, int]]:
    if not isinstance(options, Mapping) or not options:
        raise OperationFailure(f"$sort takes a non-empty document, got {options!r}")
    return [(path, -1 if direction == -1 else 1) for path, direction in options.items()]


def _unset(documents: list[dict], options: Any) -> list[dict]:
    paths = [options] if isinstance(options, str) else list(options)
    for document in documents:
        for path in paths:
            unset_path(document, path)
    return documents


def run_pipeline(documents: list[dict], pipeline: list[Mapping]) -> list[dict]:
    """Return the documents `pipeline` produces from `documents`."""
    for stage in pipeline:
        if not isinstance(stage, Mapping) or len(stage) != 1:
            raise OperationFailure(f"a pipeline stage must be a one-key document, got {stage!r}")
        ((name, options),) = stage.items()
        if name == "$match":
            matches(options, {})  # reject unknown operators even when no document is left
            documents = [d for d in documents if matches(options, d)]
        elif name == "$sort":
            documents = sort_documents(documents, _sort_spec(options))
        elif name == "$group":
            documents = _group(documents, options)
        elif name == "$limit":
            documents = documents[: int(options)]
        elif name == "$skip":
            documents = documents[int(options) :]
        elif name == "$count":
            documents = [{options: len(documents)}] if documents else []
        elif name == "$unset":
            documents = _unset(documents, options)
        elif name == "$replaceWith":
            documents = mongomock_aggregate._handle_replace_root_stage(
                documents, None, {"newRoot": options}
            )
        elif name in _DELEGATED_STAGES:
            handler = mongomock_aggregate._PIPELINE_HANDLERS[name]
            try:
                documents = list(handler(documents, None, options))
            except NotImplementedError as error:
                raise OperationFailure(f"unsupported {name} stage {options!r}: {error}")
        else:
            raise OperationFailure(f"unsupported aggregation stage {name}", 40324)
    return documents
