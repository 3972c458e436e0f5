"""Limits on the YAML files expctl reads (recipes, settings, run files), checked on the parsed
node graph before any Python object is built.

An alias (`*a`) reuses a node, so ten lines of nested aliases (the "billion laughs") stand for
10**9 nodes: harmless as a graph, fatal to anything that walks the values (validation,
writing config.yaml). The size each node stands for is counted once per node (memoised), so
the check costs time in the graph's size, never in its expansion.
"""

from __future__ import annotations

from expctl.errors import BadInputError

MAX_BYTES = 4 * 1024 * 1024  # a recipe or a run file is a few KB; a config a few hundred
MAX_NODES = 200_000  # values once aliases are expanded
MAX_DEPTH = 64  # nesting of mappings and lists


def plainly_within(text: str) -> bool:
    """Whether `text` cannot break the limits, by a look at its characters: no alias, fewer
    characters than MAX_NODES (each value takes one at least) and no more nesting than
    MAX_DEPTH (each level takes an open bracket, or a leading space, `-` or `?` on its line).
    Such a document needs no walk of its node graph (a run folder's files, read by reindex)."""
    if "*" in text or len(text) >= MAX_NODES:
        return False
    brackets = text.count("[") + text.count("{")
    if brackets >= MAX_DEPTH:
        return False
    widest = max((len(line) - len(line.lstrip(" -?")) for line in text.splitlines()), default=0)
    return brackets + widest + 1 <= MAX_DEPTH


def check_node(root, source: str) -> None:
    """Raise BadInputError when the document expands past MAX_NODES or nests past MAX_DEPTH
    (or an alias refers to a node inside itself)."""
    from yaml.nodes import MappingNode, SequenceNode

    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, depth)
    visiting: set[int] = set()
    # Iterative post-order walk: a deep document must not exhaust Python's recursion.
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes and not done:
            continue
        if isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        else:
            sizes[key] = (1, 0)
            continue
        if not done:
            if key in visiting:
                raise BadInputError(f"{source}: an alias refers to a value inside itself.",
                                    hint="replace the recursive alias by a plain value")
            visiting.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        visiting.discard(key)
        count = 1 + sum(sizes[id(c)][0] for c in children)
        depth = 1 + max((sizes[id(c)][1] for c in children), default=0)
        if count > MAX_NODES:
            raise BadInputError(
                f"{source}: expands to more than {MAX_NODES:,} values (aliases repeated "
                "inside aliases?); expctl refuses it unexpanded.",
                hint="write the values out, or use fewer nested aliases")
        if depth > MAX_DEPTH:
            raise BadInputError(f"{source}: nested more than {MAX_DEPTH} levels deep.",
                                hint="flatten the structure")
        sizes[key] = (count, depth)
