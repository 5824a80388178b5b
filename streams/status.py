"""``driftline status``: each model's features with their latest window statistic, worst first."""

from __future__ import annotations

from datetime import UTC, datetime

from driftline.detectors.stats.psi import PSI_CRITICAL, PSI_WARNING
from driftline.streams.sketch_store import SketchStore


def verdict_word(psi: float | None) -> str:
    if psi is None:
        return "no data"
    if psi >= PSI_CRITICAL:
        return "DRIFT"
    return "warning" if psi >= PSI_WARNING else "ok"


async def status_lines(store: SketchStore) -> list[str]:
    """A plain-text table (words, not colours, so it reads anywhere)."""
    models = await store.model_ids()
    if not models:
        return ["no models yet: build a reference with `driftline reference build`"]
    lines = [f"{'MODEL':<24} {'FEATURE':<26} {'PSI':>8}  {'STATE':<8} {'N':>7}  LAST WINDOW END"]
    for model_id in models:
        latest = await store.latest(model_id)
        reference = await store.get_reference(model_id)
        features = sorted(reference.features) if reference else sorted(latest)
        rows = []
        for name in features:
            stat = latest.get(name, {})
            psi = stat.get("psi")
            end = stat.get("window_end")
            when = datetime.fromtimestamp(end, tz=UTC).strftime("%Y-%m-%d %H:%M UTC") if end else "-"
            psi_text = f"{psi:8.3f}" if psi is not None else f"{'-':>8}"
            rows.append((-(psi or -1.0), f"{model_id:<24} {name:<26} {psi_text}  {verdict_word(psi):<8} "
                                        f"{int(stat.get('n_current', 0)):>7}  {when}"))
        lines += [line for _, line in sorted(rows)]
    return lines
