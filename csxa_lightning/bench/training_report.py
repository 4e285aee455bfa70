"""The training benchmark's ratios (the speeds it compares, measured side by side in one run)
and its table on stdout, from the results alone: nothing here measures."""

from __future__ import annotations

# ratio -> (numerator, denominator): each is added where both rates were measured.
RATIOS = {
    "end_to_end_over_model_only": ("end_to_end_img_s", "model_only_img_s"),
    "end_to_end_over_naive": ("end_to_end_img_s", "naive_img_s"),
    "loader_cached_over_naive": ("loader_cached_img_s", "loader_naive_img_s"),
    "end_to_end_compiled_over_model_only": ("end_to_end_compiled_img_s", "model_only_img_s"),
}


def report(results: dict) -> str:
    """The table on stdout: the rates measured, then their ratios."""
    s = results["settings"]
    lines = [
        f"training throughput on {results['device']}: {s['model']} at {s['image_size']} px, "
        f"batch {results['batch_size']}, {results['precision']}, input pipeline "
        f"{results['input_pipeline']}, {s['steps']} timed steps after {s['warmup']}",
        "",
        *(
            f"  {name:<14} {results[key]:9.1f} img/s  ({what})"
            for key, (name, what) in rate_rows(results).items()
            if key in results
        ),
        *compiled_lines(results),
        "",
        *(
            f"  {over.replace('_over_', ' / '):<36} {results[over]:6.2f}"
            for over in RATIOS
            if over in results
        ),
    ]
    if results.get("model_only_peak_gib") is not None:
        lines.append(
            f"  peak GPU memory (max_memory_allocated): model_only "
            f"{results['model_only_peak_gib']:.2f} GiB, end_to_end "
            f"{results['end_to_end_peak_gib']:.2f} GiB"
        )
    return "\n".join(lines)


def with_ratios(results: dict) -> dict:
    """Adds the ratios of whatever was measured (in place) and returns the results."""
    for over, (a, b) in RATIOS.items():
        if a in results and b in results:
            results[over] = results[a] / results[b]
    return results


def rate_rows(results: dict) -> dict[str, tuple[str, str]]:
    """rate key -> (its name in the table, what it times)."""
    s = results["settings"]
    window = results.get("end_to_end_window", {"warmup": s["warmup"], "steps": s["steps"]})
    return {
        "model_only_img_s": ("model_only", "batch already on the device"),
        "end_to_end_img_s": (
            "end_to_end",
            f"real DataModule; {window['steps']} timed steps after {window['warmup']}",
        ),
        "naive_img_s": (
            "naive",
            f"per-image decode + preprocess + albumentations, {s['workers']} workers, fp32",
        ),
        "loader_cached_img_s": (
            "loader_cached",
            f"pipeline alone, {results['loader_workers']} workers",
        ),
        "loader_naive_img_s": ("loader_naive", f"pipeline alone, {s['workers']} workers"),
    }


def compiled_lines(results: dict) -> list[str]:
    if "end_to_end_compiled_img_s" in results:
        return [
            f"  end_to_end compiled {results['end_to_end_compiled_img_s']:9.1f} img/s  "
            f"(model.compile=true; fit incl. compilation "
            f"{results['end_to_end_compiled_fit_seconds']:.0f} s)"
        ]
    if "end_to_end_compiled_error" in results:
        return [f"  end_to_end compiled: failed: {results['end_to_end_compiled_error'][:200]}"]
    return []
