"""Limits on a GraphQL document's size and shape, checked before anything is executed.

A document deeper than MAX_DEPTH fields, with more than MAX_ALIASES aliases or more than
MAX_TOKENS tokens is refused with code QUERY_TOO_COMPLEX: each level of a nested query
multiplies the store reads (experiments -> learners -> snapshots -> layers -> tensors), and
aliases repeat a field, analyses included, as often as a client likes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import SchemaExtension

from .errors import QueryTooComplexError

# The API tests' nested query is 7 fields deep, and a connection adds two levels to a list
# (edges { node }): the README's search, learners with their snapshots by connection, is 11.
# 12 allows those without letting a query recurse through parent and forks at will.
MAX_DEPTH = 12
MAX_ALIASES = 20
# GraphiQL's introspection query, the largest a client sends as a matter of course, has
# about 300 tokens.
MAX_TOKENS = 2_000


class QueryLimits(SchemaExtension):
    """Refuse documents beyond MAX_TOKENS (while parsing), MAX_DEPTH or MAX_ALIASES."""

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = MAX_TOKENS
        self.execution_context.validation_rules = (
            *self.execution_context.validation_rules,
            MaxDepthRule,
            MaxAliasesRule,
        )
        yield


class MaxDepthRule(ValidationRule):
    """Report an operation whose fields nest deeper than MAX_DEPTH."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
        depth = Shape(self.context).depth(node.selection_set)
        if depth > MAX_DEPTH:
            error = QueryTooComplexError(
                f"{operation_name(node)} nests fields more than {MAX_DEPTH} deep; allowed: "
                f"a depth of at most {MAX_DEPTH} (the query depth limit)"
            )
            self.report_error(GraphQLError(error.message, node, original_error=error))


class MaxAliasesRule(ValidationRule):
    """Report an operation with more than MAX_ALIASES aliased fields, fragments expanded."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
        count = Shape(self.context).aliases(node.selection_set)
        if count > MAX_ALIASES:
            error = QueryTooComplexError(
                f"{operation_name(node)} has more than {MAX_ALIASES} aliases; allowed: at "
                f"most {MAX_ALIASES} (the alias limit)"
            )
            self.report_error(GraphQLError(error.message, node, original_error=error))


class Shape:
    """The depth and alias count of a document's selections, each fragment measured once.

    Measuring a fragment once, not at every spread, keeps this linear in the document's
    size: a document of a few fragments, each spreading the next twice, would otherwise
    take time exponential in their number. Counts stop just past the limits.
    """

    def __init__(self, context: ValidationContext) -> None:
        self.fragments = {
            definition.name.value: definition
            for definition in context.document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.fragment_depths: dict[str, int] = {}
        self.fragment_aliases: dict[str, int] = {}

    def depth(self, selection_set: SelectionSetNode | None) -> int:
        """Return how many fields deep the selections nest, at most MAX_DEPTH + 1.

        Introspection fields (`__schema`, `__type`) do not count: the schema bounds them.
        """
        deepest = 0
        for selection in selections(selection_set):
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                depth = 1 + self.depth(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                depth = self.depth(selection.selection_set)
            else:
                depth = self._fragment(selection, self.fragment_depths, self.depth)
            deepest = max(deepest, depth)
        return min(deepest, MAX_DEPTH + 1)

    def aliases(self, selection_set: SelectionSetNode | None) -> int:
        """Return how many aliased fields the selections execute, at most MAX_ALIASES + 1."""
        count = 0
        for selection in selections(selection_set):
            if isinstance(selection, FieldNode):
                count += (selection.alias is not None) + self.aliases(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                count += self.aliases(selection.selection_set)
            else:
                count += self._fragment(selection, self.fragment_aliases, self.aliases)
            if count > MAX_ALIASES:
                break
        return min(count, MAX_ALIASES + 1)

    def _fragment(
        self, spread: FragmentSpreadNode, measured: dict[str, int], measure: Callable
    ) -> int:
        name = spread.name.value
        if name not in measured:
            measured[name] = 0  # a fragment spread inside itself adds nothing; it is invalid
            fragment = self.fragments.get(name)
            measured[name] = measure(fragment.selection_set) if fragment else 0
        return measured[name]


def selections(selection_set: SelectionSetNode | None) -> list:
    """Return the selections of a selection set, or none."""
    return list(selection_set.selections) if selection_set is not None else []


def operation_name(node: OperationDefinitionNode) -> str:
    """Return an operation's name, or "the operation" for an anonymous one."""
    return node.name.value if node.name else "the operation"
