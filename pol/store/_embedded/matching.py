"""Queries compiled once into predicates that give mongomock's answers, faster.

`compile_query` turns a query into a function of a document. Conditions on plain values
(equality, $eq $ne $gt $gte $lt $lte $in $nin $exists on numbers, strings, ObjectIds,
booleans, None and datetimes, through sub-documents) are evaluated directly, with the
same Python comparisons mongomock makes. Whatever else a condition meets, an array on
its path, a regex, an operator not listed, a value of another type, goes to mongomock's
`filter_applies` for that one condition, so results and errors stay those of mongomock.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from typing import Any

from bson.int64 import Int64
from bson.objectid import ObjectId

from .documents import matches

Predicate = Callable[[Mapping], bool]

_ABSENT = object()  # no value at the path
_UNREACHABLE = object()  # the path runs into null or a scalar: mongomock finds no candidate
_FALLBACK = object()  # an array, or a type this module does not order: ask mongomock

# mongomock's type brackets for ordering operators; values of other types fall back.
_COMPARE_TYPE = {
    type(None): 5,
    int: 10,
    Int64: 10,
    float: 10,
    str: 15,
    ObjectId: 35,
    bool: 40,
    dt.datetime: 45,
}
_ORDERING = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
_OPERATORS = frozenset({"$eq", "$ne", "$in", "$nin", "$exists", *_ORDERING})
_NEGATIVE = frozenset({"$ne", "$nin"})


def compile_query(query: Mapping) -> Predicate:
    """Return a predicate true for the documents that match `query`, as `matches` decides."""
    clauses = []
    for key, condition in query.items():
        if key == "$comment":
            continue
        if key in ("$and", "$or", "$nor") and _is_clause_list(condition):
            clauses.append(_logical(key, [compile_query(clause) for clause in condition]))
        elif not key.startswith("$") and _plain_path(key):
            clauses.append(_field(key, condition))
        else:
            return lambda document: matches(query, document)
    if len(clauses) == 1:
        return clauses[0]
    return lambda document: all(clause(document) for clause in clauses)


def query_fields(query: Mapping) -> set[str] | None:
    """Return the top-level fields `query` reads, or None if it may read any field."""
    fields: set[str] = set()
    for key, condition in query.items():
        if key == "$comment":
            continue
        if key in ("$and", "$or", "$nor") and _is_clause_list(condition):
            for clause in condition:
                inner = query_fields(clause)
                if inner is None:
                    return None
                fields |= inner
        elif key.startswith("$"):
            return None
        else:
            fields.add(key.split(".", 1)[0])
    return fields


def _is_clause_list(condition: Any) -> bool:
    return (
        isinstance(condition, list)
        and bool(condition)
        and all(isinstance(clause, dict) for clause in condition)
    )


def _plain_path(path: str) -> bool:
    return all(path.split("."))


def _logical(operator_name: str, clauses: list[Predicate]) -> Predicate:
    if operator_name == "$and":
        return lambda document: all(clause(document) for clause in clauses)
    if operator_name == "$or":
        return lambda document: any(clause(document) for clause in clauses)
    return lambda document: not any(clause(document) for clause in clauses)


def _lookup(parts: list[str]) -> Callable[[Any], Any]:
    """Return a function giving the one value at `parts`, or a marker saying why there is none."""
    *parents, last = parts

    def value_at(document: Any) -> Any:
        node = document
        for part in parents:
            if not isinstance(node, dict):
                return _FALLBACK if isinstance(node, (list, tuple)) else _UNREACHABLE
            node = node.get(part, _ABSENT)
            if node is _ABSENT:
                return _ABSENT  # mongomock reads a missing parent as an empty document
        if not isinstance(node, dict):
            return _FALLBACK if isinstance(node, (list, tuple)) else _UNREACHABLE
        value = node.get(last, _ABSENT)
        return _FALLBACK if isinstance(value, (list, tuple)) else value

    return value_at


def _field(path: str, condition: Any) -> Predicate:
    """Return the predicate of one field's condition, falling back per document if needed."""
    single = {path: condition}
    test = _value_test(condition)
    if test is None:
        return lambda document: matches(single, document)
    value_at = _lookup(path.split("."))
    # With no candidate value, mongomock matches only negative conditions and {$exists: 0}.
    unreachable_matches = isinstance(condition, dict) and (
        condition == {"$exists": False} or set(condition) <= _NEGATIVE
    )

    def predicate(document: Mapping) -> bool:
        value = value_at(document)
        if value is _UNREACHABLE:
            return unreachable_matches
        if value is not _FALLBACK:
            answer = test(value)
            if answer is not _FALLBACK:
                return answer
        return matches(single, document)

    return predicate


def _value_test(condition: Any) -> Callable[[Any], Any] | None:
    """Return a test of one value (absent as `_ABSENT`) against `condition`, None if unsupported."""
    if not isinstance(condition, dict):
        if isinstance(condition, (list, tuple)) or type(condition) not in _COMPARE_TYPE:
            return None
        if condition is None:
            return lambda value: value is None or value is _ABSENT
        return lambda value: value is not _ABSENT and value == condition
    if not condition or not all(key.startswith("$") for key in condition):
        return None
    if not set(condition) <= _OPERATORS:
        return None
    tests = []
    for name, argument in condition.items():
        test = _operator_test(name, argument)
        if test is None:
            return None
        tests.append(test)
    if len(tests) == 1:
        return tests[0]

    def all_tests(value: Any) -> Any:
        for test in tests:
            answer = test(value)
            if answer is not True:
                return answer
        return True

    return all_tests


def _operator_test(name: str, argument: Any) -> Callable[[Any], Any] | None:
    if name == "$exists":
        wanted = bool(argument)
        return lambda value: wanted == (value is not _ABSENT)
    if name in ("$in", "$nin"):
        if not isinstance(argument, (list, tuple)):
            return None
        if any(type(item) not in _COMPARE_TYPE for item in argument):
            return None
        has_none = None in argument
        if name == "$in":
            return lambda value: has_none if value is _ABSENT else value in argument
        return lambda value: not (has_none if value is _ABSENT else value in argument)
    argument_type = _COMPARE_TYPE.get(type(argument))
    if argument_type is None:
        return None
    if name in ("$eq", "$ne"):
        negate = name == "$ne"

        def equal(value: Any) -> Any:
            if value is _ABSENT:
                return (argument is None) != negate
            if type(value) not in _COMPARE_TYPE:
                return _FALLBACK
            return (value == argument) != negate

        return equal
    compare = _ORDERING[name]
    none_answer = compare(0, 0)

    def ordered(value: Any) -> Any:
        if value is _ABSENT:
            return False
        value_type = _COMPARE_TYPE.get(type(value))
        if value_type is None:
            return _FALLBACK
        if value_type != argument_type:
            return False
        if argument_type == 5:
            return none_answer
        return compare(value, argument)

    return ordered
