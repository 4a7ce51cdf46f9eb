"""The ```mermaid flowcharts of docs/ (subgraphs of `A --> B` arrows) parsed and drawn as SVG.

No Sphinx import here: tests/test_docs.py reads the architecture page's diagram with the same
parser the docs build draws it with.
"""

from __future__ import annotations

import re


def parse_flowchart(text: str) -> tuple[dict[str, str | None], list[tuple[str, str]], list[str]]:
    """(node -> subgraph or None, edges, subgraphs in order) of a Mermaid `flowchart` written as
    `subgraph NAME` ... `end` blocks of `A --> B` lines and bare node names: the subset docs/ uses."""
    groups: dict[str, str | None] = {}
    edges: list[tuple[str, str]] = []
    order: list[str] = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("flowchart", "graph", "%%")):
            continue
        if m := re.fullmatch(r"subgraph (\w+)", line):
            current = m.group(1)
            order.append(current)
        elif line == "end":
            current = None
        elif m := re.fullmatch(r"(\w+) --> (\w+)", line):
            edges.append((m.group(1), m.group(2)))
            for node in m.groups():
                if groups.get(node) is None:
                    groups[node] = current
        elif re.fullmatch(r"\w+", line):
            groups[line] = current
        else:
            raise ValueError(f"flowchart line not understood: {line!r}")
    return groups, edges, order


def flowchart_svg(text: str) -> str:
    """The flowchart as an inline SVG: one band per subgraph, top to bottom; inside a band, a column
    per step of the longest path from the band's first nodes, left to right. Drawn here, at build
    time, so the page needs no script and shows the graph offline."""
    from html import escape

    groups, edges, order = parse_flowchart(text)
    char_w, node_h, gap_x, gap_y, pad, label = 7.2, 26, 34, 12, 12, 18
    node_w = max(len(n) for n in groups) * char_w + 16
    inside = [(a, b) for a, b in edges if groups[a] == groups[b]]
    depth = {n: 0 for n in groups}
    for _ in groups:  # longest path inside a band (the graph is small and acyclic)
        for a, b in inside:
            depth[b] = max(depth[b], depth[a] + 1)
    pos, bands, y = {}, [], 4.0
    for group in order:
        cols: dict[int, list[str]] = {}
        for n in (n for n in groups if groups[n] == group):
            cols.setdefault(depth[n], []).append(n)
        height = max(len(c) for c in cols.values()) * (node_h + gap_y) - gap_y + 2 * pad + label
        leaves = {a for a, b in edges if groups[a] != groups[b]}
        for d, col in cols.items():
            col.sort(key=lambda n: n in leaves)  # an arrow out of the band starts below its column
            col_h = len(col) * (node_h + gap_y) - gap_y
            for i, n in enumerate(col):
                pos[n] = (4 + pad + d * (node_w + gap_x),
                          y + label + pad + (height - label - 2 * pad - col_h) / 2 + i * (node_h + gap_y))
        bands.append((group, y, height))
        y += height + 22
    width = max(x for x, _ in pos.values()) + node_w + pad + 4
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="graphmer-flowchart" viewBox="0 0 {width:.0f} '
           f'{y - 18:.0f}" style="max-width: 100%; height: auto" font-family="monospace" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>']
    for group, gy, height in bands:
        out.append(f'<rect x="4" y="{gy:.1f}" width="{width - 8:.1f}" height="{height:.1f}" rx="8" fill="#f4f1e8" '
                   f'stroke="#c9c2ad"/><text x="12" y="{gy + 15:.1f}" fill="#6b6251">{escape(group)}</text>')
    for a, b in edges:
        (ax, ay), (bx, by) = pos[a], pos[b]
        if groups[a] == groups[b]:
            x1, y1, x2, y2 = ax + node_w, ay + node_h / 2, bx, by + node_h / 2
        else:
            x1, y1, x2, y2 = ax + node_w / 2, ay + node_h, bx + node_w / 2, by
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#555" '
                   f'marker-end="url(#arrow)"/>')
    for n, (nx, ny) in pos.items():
        out.append(f'<rect x="{nx:.1f}" y="{ny:.1f}" width="{node_w:.1f}" height="{node_h}" rx="4" fill="#fff" '
                   f'stroke="#8a8170"/><text x="{nx + node_w / 2:.1f}" y="{ny + 17:.1f}" '
                   f'text-anchor="middle">{escape(n)}</text>')
    out.append("</svg>")
    return "".join(out)
