"""The benchmark chart as plain SVG (no plotting library): throughput by pipeline depth, and
latency percentiles at -P 1 and -P 16: redis-server, autocache-node, and autocache-proxy in
front of one node (the proxy and its node share the one server core redis-server has)."""
import math
from xml.sax.saxutils import escape

COLORS = {"redis": "#c0392b", "node": "#2471a3", "proxy": "#27ae60"}
NAMES = {"redis": "redis-server", "node": "autocache-node", "proxy": "proxy + node"}
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def nice_ceiling(v):
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above v (axis top)."""
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= v:
            return m * exp
    return 10 * exp


def short(v):
    """Compact number: 1.25M, 610k, 12, 3.4, 0.55, 0."""
    def trim(s):
        return s.rstrip("0").rstrip(".") if "." in s else s
    if v >= 1e6:
        return trim(f"{v / 1e6:.2f}") + "M"
    if v >= 1e3:
        return trim(f"{v / 1e3:.0f}") + "k"
    if v >= 10:
        return f"{v:.0f}"
    if v >= 1:
        return trim(f"{v:.1f}")
    return trim(f"{v:.2f}") if v else "0"


def text(x, y, s, size=12, anchor="middle", weight="normal", fill="#222"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" {FONT} font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(s)}</text>')


def bar_panel(x, y, w, h, title, groups, series, unit):
    """Grouped bars: one group per label in `groups`, one bar per series (name -> values)."""
    out = [text(x + w / 2, y + 16, title, size=14, weight="bold")]
    top, left, bottom = y + 34, x + 56, y + h - 28
    width = x + w - left - 8
    vmax = nice_ceiling(max((v for vals in series.values() for v in vals if v), default=1))
    for i in range(6):  # gridlines and y labels
        v = vmax * i / 5
        yy = bottom - (bottom - top) * i / 5
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + width}" y2="{yy:.1f}" '
                   f'stroke="#ddd" stroke-width="1"/>')
        out.append(text(left - 6, yy + 4, short(v), size=11, anchor="end", fill="#555"))
    out.append(text(x + 12, (top + bottom) / 2, unit, size=11, fill="#555").replace(
        "<text ", f'<text transform="rotate(-90 {x + 12} {(top + bottom) / 2:.1f})" ', 1))
    group_w = width / max(len(groups), 1)
    bar_w = group_w * 0.7 / max(len(series), 1)
    for gi, label in enumerate(groups):
        gx = left + gi * group_w + group_w * 0.15
        for si, (name, vals) in enumerate(series.items()):
            v = vals[gi]
            if v is None:
                continue
            bh = (bottom - top) * v / vmax
            bx = gx + si * bar_w
            out.append(f'<rect x="{bx:.1f}" y="{bottom - bh:.1f}" width="{bar_w - 2:.1f}" '
                       f'height="{bh:.1f}" fill="{COLORS[name]}"/>')
            out.append(text(bx + bar_w / 2 - 1, bottom - bh - 4, short(v), size=10, fill="#333"))
        out.append(text(left + gi * group_w + group_w / 2, bottom + 16, label, size=12))
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{left + width}" y2="{bottom}" '
               f'stroke="#888" stroke-width="1"/>')
    return out


def chart_svg(chart, subtitle):
    """`chart`: {"throughput": {pipeline: {server: ops}}, "latency": {pipeline: {server:
    {percentile: ms}}}} as bench.py collects it."""
    W, H = 900, 640
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           text(W / 2, 24, "AutoCache vs redis-server", size=18, weight="bold"),
           text(W / 2, 44, subtitle, size=12, fill="#555")]
    lx = W / 2 - 250  # legend
    for i, name in enumerate(NAMES):
        out.append(f'<rect x="{lx + i * 170}" y="56" width="14" height="14" '
                   f'fill="{COLORS[name]}"/>')
        out.append(text(lx + i * 170 + 20, 68, NAMES[name], size=12, anchor="start"))
    depths = sorted(chart["throughput"])
    out += bar_panel(20, 80, W - 40, 280, "Throughput by pipeline depth (ops/s, higher is better)",
                     [f"-P {p}" for p in depths],
                     {n: [chart["throughput"][p].get(n) for p in depths] for n in NAMES},
                     "ops/s")
    pcts = ("p50", "p90", "p99", "p99.9")
    shown = [p for p in (1, 16) if p in chart["latency"]]
    for i, p in enumerate(shown):
        lat = chart["latency"][p]
        pw = (W - 40) / len(shown)
        out += bar_panel(20 + i * pw, 370, pw, 260,
                         f"Latency at -P {p} (ms, lower is better)", list(pcts),
                         {n: [(lat.get(n) or {}).get(q) for q in pcts] for n in NAMES}, "ms")
    out.append("</svg>")
    return "\n".join(out) + "\n"
