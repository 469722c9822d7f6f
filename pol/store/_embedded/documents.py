"""Paths, update operators and projections applied to decoded documents."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from mongomock.filtering import filter_applies
from pymongo.errors import OperationFailure, WriteError

from .ordering import MISSING, hashable, sort_key

UPDATE_OPERATORS = frozenset(
    {
        "$set",
        "$unset",
        "$inc",
        "$mul",
        "$min",
        "$max",
        "$push",
        "$addToSet",
        "$pull",
        "$setOnInsert",
        "$currentDate",
        "$rename",
        "$pop",
    }
)


def get_path(document: Any, path: str) -> Any:
    """Return the value at dotted `path`, or MISSING; arrays on the way are not traversed."""
    value = document
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def path_crosses_array(document: Any, path: str) -> bool:
    """Return True if an array lies on dotted `path` (the value would be multikey)."""
    value = document
    for part in path.split("."):
        if isinstance(value, list):
            return True
        if not isinstance(value, Mapping):
            return False
        value = value.get(part, MISSING)
    return isinstance(value, list)


def iter_path_values(document: Any, path: str) -> Iterator[Any]:
    """Yield every value dotted `path` reaches, descending into arrays like `distinct` does."""
    head, _, rest = path.partition(".")
    if isinstance(document, list):
        for element in document:
            yield from iter_path_values(element, path)
        return
    if not isinstance(document, Mapping) or head not in document:
        return
    value = document[head]
    if rest:
        yield from iter_path_values(value, rest)
    elif isinstance(value, list):
        yield from value
    else:
        yield value


def _parent(document: dict, path: str, create: bool) -> tuple[Any, str]:
    parts = path.split(".")
    node: Any = document
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit():
            index = int(part)
            while create and len(node) <= index:
                node.append(None)
            if index >= len(node):
                return None, parts[-1]
            if node[index] is None and create:
                node[index] = {}
            node = node[index]
        elif isinstance(node, dict):
            if part not in node:
                if not create:
                    return None, parts[-1]
                node[part] = {}
            node = node[part]
        else:
            if not create:
                return None, parts[-1]
            raise WriteError(f"cannot create field {part!r} of path {path!r} in {node!r}", 28)
    return node, parts[-1]


def set_path(document: dict, path: str, value: Any) -> None:
    """Set dotted `path` in `document`, creating sub-documents on the way."""
    node, last = _parent(document, path, create=True)
    if isinstance(node, list) and last.isdigit():
        index = int(last)
        while len(node) <= index:
            node.append(None)
        node[index] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise WriteError(f"cannot set field {last!r} of path {path!r} in {node!r}", 28)


def unset_path(document: dict, path: str) -> None:
    """Remove dotted `path` from `document` if present (array elements become null)."""
    node, last = _parent(document, path, create=False)
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = None


def _number(operator: str, path: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WriteError(f"{operator} on {path!r}: cannot apply to non-numeric value {value!r}", 14)
    return value


def _each(operator: str, argument: Any) -> list:
    if isinstance(argument, Mapping) and "$each" in argument:
        unknown = set(argument) - {"$each"}
        if unknown:
            raise OperationFailure(f"{operator} modifiers {sorted(unknown)} are not supported")
        return list(argument["$each"])
    return [argument]


def _slice_of(argument: Any) -> int | None:
    """Return the `$slice` of a `$push` with `$each` (how many elements to keep), or None."""
    if not (isinstance(argument, Mapping) and "$each" in argument and "$slice" in argument):
        return None
    keep = argument["$slice"]
    if isinstance(keep, bool) or not isinstance(keep, int):
        raise WriteError(f"$push $slice must be an integer, not {keep!r}", 2)
    return keep


def _without_slice(argument: Any) -> Any:
    if isinstance(argument, Mapping) and "$each" in argument and "$slice" in argument:
        return {key: value for key, value in argument.items() if key != "$slice"}
    return argument


def _array_at(document: dict, operator: str, path: str) -> list:
    current = get_path(document, path)
    if current is MISSING:
        set_path(document, path, [])
        return get_path(document, path)
    if not isinstance(current, list):
        raise WriteError(f"{operator} on {path!r}: the field is not an array: {current!r}", 2)
    return current


def _pull_matches(condition: Any, element: Any) -> bool:
    if isinstance(condition, Mapping) and condition:
        if all(key.startswith("$") for key in condition):
            return filter_applies({"v": condition}, {"v": element})
        if isinstance(element, Mapping):
            return filter_applies(condition, element)
        return False
    return hashable(condition) == hashable(element) if _comparable(element) else False


def _comparable(value: Any) -> bool:
    try:
        hashable(value)
    except TypeError:
        return False
    return True


def _apply_one(document: dict, operator: str, path: str, argument: Any, now: dt.datetime) -> None:
    current = get_path(document, path)
    if operator == "$set" or operator == "$setOnInsert":
        set_path(document, path, argument)
    elif operator == "$unset":
        unset_path(document, path)
    elif operator in ("$inc", "$mul"):
        _number(operator, path, argument)
        base = 0 if current is MISSING else _number(operator, path, current)
        if operator == "$inc":
            set_path(document, path, base + argument)
        else:
            set_path(document, path, base * argument)
    elif operator in ("$min", "$max"):
        if current is MISSING:
            set_path(document, path, argument)
        else:
            proposed, existing = sort_key(argument), sort_key(current)
            if proposed < existing if operator == "$min" else proposed > existing:
                set_path(document, path, argument)
    elif operator == "$currentDate":
        if argument is True or argument == {"$type": "date"}:
            set_path(document, path, now)
        else:
            raise OperationFailure(f"$currentDate on {path!r}: only true or {{$type: 'date'}}")
    elif operator == "$push":
        array = _array_at(document, operator, path)
        keep = _slice_of(argument)
        values = _each(operator, _without_slice(argument))
        array.extend(values)
        if keep is not None:
            array[:] = array[max(0, len(array) + keep) :] if keep < 0 else array[:keep]
    elif operator == "$addToSet":
        array = _array_at(document, operator, path)
        seen = {hashable(v) for v in array}
        for value in _each(operator, argument):
            if hashable(value) not in seen:
                seen.add(hashable(value))
                array.append(value)
    elif operator == "$pull":
        if isinstance(current, list):
            current[:] = [v for v in current if not _pull_matches(argument, v)]
        elif current is not MISSING:
            raise WriteError(f"$pull on {path!r}: the field is not an array: {current!r}", 2)
    elif operator == "$pop":
        if isinstance(current, list) and current:
            current.pop(0 if argument == -1 else -1)
    elif operator == "$rename" and current is not MISSING:
        unset_path(document, path)
        set_path(document, argument, current)


def validate_update(update: Any) -> None:
    """Raise unless `update` is a document of supported update operators."""
    if isinstance(update, list):
        raise OperationFailure("aggregation pipeline updates are not supported")
    if not isinstance(update, Mapping) or not update:
        raise ValueError("update must be a non-empty document of $-operators")
    for operator, fields in update.items():
        if not operator.startswith("$"):
            raise ValueError(f"update only works with $ operators, got field {operator!r}")
        if operator not in UPDATE_OPERATORS:
            raise OperationFailure(f"unsupported update operator {operator}", 9)
        if not isinstance(fields, Mapping):
            raise WriteError(f"{operator} takes a document of fields, got {fields!r}", 9)
        for path in fields:
            if "$" in path.split(".") or "$[]" in path or "$[" in path:
                raise OperationFailure(f"positional update path {path!r} is not supported")


def updated_paths(update: Mapping) -> set[str]:
    """Return every path a validated `update` may write, $rename targets included."""
    paths = set()
    for operator, fields in update.items():
        paths.update(fields)
        if operator == "$rename":
            paths.update(target for target in fields.values() if isinstance(target, str))
    return paths


# Operators that change the array at their path in place, rather than replace the value.
_IN_PLACE = frozenset({"$push", "$addToSet", "$pull", "$pop"})


def _own_path(document: dict, path: str, owned: set[int], through_last: bool) -> None:
    """Copy the documents and arrays on `path` that `document` still shares with its source."""
    parts = path.split(".")
    node: Any = document
    for part in parts if through_last else parts[:-1]:
        if isinstance(node, dict):
            child = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            child = node[int(part)]
        else:
            return
        if not isinstance(child, (dict, list)):
            return
        if id(child) not in owned:
            child = dict(child) if isinstance(child, dict) else list(child)
            owned.add(id(child))
            if isinstance(node, dict):
                node[part] = child
            else:
                node[int(part)] = child
        node = child


def apply_update(document: dict, update: Mapping, *, inserting: bool) -> dict:
    """Return a copy of `document` with the update operators applied; `document` is unchanged.

    Only the documents and arrays on the updated paths are copied; the rest, and the values
    taken from `update`, are shared: a container is copied before it is changed in place
    unless this call made it, so neither `document` nor `update` is ever modified.
    """
    result = dict(document)
    owned = {id(result)}
    # One timestamp per update, in BSON's millisecond resolution.
    now = dt.datetime.now(dt.UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    for operator, fields in update.items():
        if operator == "$setOnInsert" and not inserting:
            continue
        for path, argument in fields.items():
            touches_id = path == "_id" or path.startswith("_id.")
            if touches_id and (
                operator not in ("$set", "$setOnInsert")
                or ("_id" in document and get_path(document, path) != argument)
            ):
                raise WriteError(
                    f"performing an update on the path {path!r} would modify the "
                    "immutable field '_id'",
                    66,
                )
            _own_path(result, path, owned, through_last=operator in _IN_PLACE)
            if operator == "$rename" and isinstance(argument, str):
                _own_path(result, argument, owned, through_last=False)
            _apply_one(result, operator, path, argument, now)
    return result


def upsert_seed(query: Mapping) -> dict:
    """Return the document an upsert starts from: the query's equality conditions."""
    seed: dict = {}
    for key, condition in query.items():
        if key == "$and":
            for clause in condition:
                for path, value in upsert_seed(clause).items():
                    set_path(seed, path, value)
            continue
        if key.startswith("$"):
            continue
        if isinstance(condition, Mapping) and any(k.startswith("$") for k in condition):
            if "$eq" in condition:
                set_path(seed, key, copy.deepcopy(condition["$eq"]))
            continue
        set_path(seed, key, copy.deepcopy(condition))
    return seed


def normalise_projection(projection: Any) -> dict[str, Any] | None:
    """Return `projection` as a mapping of path to flag, or None for whole documents."""
    if projection is None:
        return None
    if isinstance(projection, Mapping):
        spec = dict(projection)
    elif isinstance(projection, (list, tuple)):
        spec = {field: 1 for field in projection}
    else:
        raise TypeError(f"projection must be a mapping or list of fields, got {projection!r}")
    for path, flag in spec.items():
        if isinstance(flag, Mapping) or (isinstance(flag, str) and flag.startswith("$")):
            raise OperationFailure(f"projection operator on {path!r} is not supported: {flag!r}")
    return spec


def _include(node: Any, tree: dict) -> Any:
    if isinstance(node, list):
        return [_include(v, tree) for v in node if isinstance(v, (Mapping, list))]
    if not isinstance(node, Mapping):
        return MISSING
    kept = {}
    for key, value in node.items():
        if key not in tree:
            continue
        sub = tree[key]
        if sub is True:
            kept[key] = value
        else:
            inner = _include(value, sub)
            if inner is not MISSING:
                kept[key] = inner
    return kept


def _exclude(node: Any, tree: dict) -> Any:
    if isinstance(node, list):
        return [_exclude(v, tree) for v in node]
    if not isinstance(node, Mapping):
        return node
    kept = {}
    for key, value in node.items():
        sub = tree.get(key)
        if sub is True:
            continue
        kept[key] = value if sub is None else _exclude(value, sub)
    return kept


def _tree(paths: list[str]) -> dict:
    tree: dict = {}
    for path in paths:
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if child is True:
                break
            node = child
        else:
            node[parts[-1]] = True
    return tree


def project(document: dict, spec: dict[str, Any] | None) -> dict:
    """Return the fields of `document` that projection `spec` keeps."""
    if not spec:
        return document
    with_id = bool(spec.get("_id", True))
    fields = {path: bool(flag) for path, flag in spec.items() if path != "_id"}
    included = [path for path, flag in fields.items() if flag]
    excluded = [path for path, flag in fields.items() if not flag]
    if included and excluded:
        raise OperationFailure(
            f"projection cannot mix inclusion {included} and exclusion {excluded}", 31254
        )
    if included:
        result = _include(document, _tree(included))
        if with_id and "_id" in document:
            result = {"_id": document["_id"], **result}
        return result
    result = _exclude(document, _tree(excluded))
    if not with_id:
        result.pop("_id", None)
    return result


def matches(query: Mapping, document: Mapping) -> bool:
    """Return True if `document` satisfies MongoDB `query`."""
    try:
        return filter_applies(query, document)
    except NotImplementedError as error:
        raise OperationFailure(f"unsupported query operator in {dict(query)!r}: {error}", 2)
