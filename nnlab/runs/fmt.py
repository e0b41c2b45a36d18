"""How values and durations read in every table nnlab prints: the live progress, compare, the
report, retrain. One definition, so the same number looks the same everywhere."""

from __future__ import annotations


def fmt_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) > 8:  # (a hundred layers' widths)
        if all(v == value[0] for v in value):
            return f"[{fmt_value(value[0])}] × {len(value)}"
        return f"[{', '.join(map(fmt_value, value[:3]))}, … {len(value)} in all]"
    return str(value)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
