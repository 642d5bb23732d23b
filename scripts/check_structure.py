#!/usr/bin/env python3
"""The folder structure check: the folder dependency graph of src/mlxft and src/cli, from the includes.

Contract:
- A folder is a directory directly under src/mlxft (its subdirectories count as the folder), plus
  src/cli as "cli". Folder A depends on folder B when a file of A has `#include "mlxft/B/..."` (or
  `#include "cli/..."` for cli); includes of the folder itself are not edges.
- Fails (exit 1) naming each folder cycle (`a -> b -> a`, with the include line behind each edge),
  each folder of src/mlxft (and src/cli) that has no row in the folder map of docs/architecture.md,
  and each row of the map whose folder does not exist. A row of the map is a markdown table row that
  starts with | `src/mlxft/<folder>/` | (or | `src/cli/` |).
- --graph prints the graph, one line per folder, `folder -> dep, dep` (deps sorted by name), in
  topological order with the top layer first (a folder is listed before every folder it depends
  on: by descending depth, the longest include path down to a folder that includes no other, then
  by name); the checks still run and set the exit status.
- --root DIR checks another tree (the default is the repository this script is in); --map FILE
  reads the folder map from FILE (default DIR/docs/architecture.md).
Python 3 standard library only.
"""

import argparse
import re
import sys
from pathlib import Path

SOURCE_SUFFIXES = {".h", ".hpp", ".cpp", ".cc"}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](?:mlxft/([A-Za-z0-9_]+)/|(cli)/)')
MAP_ROW = re.compile(r"^\|\s*`src/(?:mlxft/([A-Za-z0-9_]+)|(cli))/`\s*\|")


def folders_of(root):
    """{folder name: directory} for every folder of src/mlxft, and src/cli as "cli"."""
    found = {}
    lib = root / "src" / "mlxft"
    if lib.is_dir():
        for d in sorted(lib.iterdir()):
            if d.is_dir():
                found[d.name] = d
    cli = root / "src" / "cli"
    if cli.is_dir():
        found["cli"] = cli
    return found


def dependency_graph(root, folders):
    """{folder: {dep: "file:line" of the first include that makes the edge}}."""
    graph = {name: {} for name in folders}
    for name, directory in folders.items():
        for path in sorted(directory.rglob("*")):
            if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
                continue
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            for number, line in enumerate(lines, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                dep = m.group(1) or m.group(2)
                if dep != name:
                    graph[name].setdefault(dep, f"{path.relative_to(root)}:{number}")
    return graph


def find_cycles(graph):
    """One cycle per strongly connected component with more than one folder, as [a, b, ..., a]."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []

    def visit(start):  # Tarjan's algorithm, iterative
        work = [(start, iter(sorted(graph.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, deps = work[-1]
            advanced = False
            for dep in deps:
                if dep not in graph:
                    continue
                if dep not in index:
                    index[dep] = low[dep] = len(index)
                    stack.append(dep)
                    on_stack.add(dep)
                    work.append((dep, iter(sorted(graph[dep]))))
                    advanced = True
                    break
                if dep in on_stack:
                    low[node] = min(low[node], index[dep])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [cycle_through(graph, sorted(c)[0], c) for c in components]


def cycle_through(graph, start, component):
    """A shortest path start -> ... -> start inside the component (breadth first)."""
    previous = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for dep in sorted(graph[node]):
            if dep == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return list(reversed(path)) + [start]
            if dep in component and dep not in previous:
                previous[dep] = node
                queue.append(dep)
    return [start, start]


def map_rows(map_file):
    """The folders that have a row in the folder map (cli for src/cli/)."""
    rows = set()
    for line in map_file.read_text(encoding="utf-8").splitlines():
        m = MAP_ROW.match(line)
        if m:
            rows.add(m.group(1) or m.group(2))
    return rows


def depth_order(graph):
    """Folders by descending depth (longest path to a folder with no deps), then by name."""
    depth = {}

    def depth_of(node, seen=()):
        if node in depth:
            return depth[node]
        if node in seen:  # a cycle: cut it here
            return 0
        deps = [d for d in graph[node] if d in graph]
        d = 1 + max((depth_of(dep, seen + (node,)) for dep in deps), default=-1)
        depth[node] = d
        return d

    for node in graph:
        depth_of(node)
    return sorted(graph, key=lambda n: (-depth[n], n))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--map", type=Path, help="the folder map (default ROOT/docs/architecture.md)")
    parser.add_argument("--graph", action="store_true", help="print the folder graph, top layer first")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    map_file = args.map or root / "docs" / "architecture.md"

    folders = folders_of(root)
    if not folders:
        print(f"check_structure: no folders under {root}/src/mlxft or {root}/src/cli", file=sys.stderr)
        return 1
    graph = dependency_graph(root, folders)
    if args.graph:
        for name in depth_order(graph):
            print(f"{name} -> {', '.join(sorted(graph[name]))}".rstrip())

    problems = []
    for cycle in find_cycles(graph):
        edges = [f"  {a} -> {b}: {graph[a][b]}" for a, b in zip(cycle, cycle[1:])]
        problems.append("folder cycle " + " -> ".join(cycle) + "\n" + "\n".join(edges))
    for name, deps in sorted(graph.items()):
        for dep, where in sorted(deps.items()):
            if dep not in graph:
                problems.append(f"{name} includes the folder {dep}, which does not exist: {where}")
    if not map_file.is_file():
        problems.append(f"{map_file}: no folder map (a table with a row | `src/mlxft/<folder>/` | per folder)")
    else:
        rows = map_rows(map_file)
        for name in sorted(set(folders) - rows):
            where = "src/cli/" if name == "cli" else f"src/mlxft/{name}/"
            problems.append(f"{map_file}: the folder map has no row for `{where}`; add one")
        for name in sorted(rows - set(folders)):
            where = "src/cli/" if name == "cli" else f"src/mlxft/{name}/"
            problems.append(f"{map_file}: the folder map has a row for `{where}`, which does not exist")

    for problem in problems:
        print(f"check_structure: {problem}", file=sys.stderr)
    if problems:
        return 1
    if not args.graph:
        print(f"check_structure: {len(folders)} folders, no folder cycle, every folder in {map_file.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
