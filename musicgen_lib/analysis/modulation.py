"""What follows a wrong note: does the music move to a key that contains it (thesis §7.4)?

Notebook: 10_discussion.

The thesis hears that its samples rarely play a wrong note, and that when one comes, "the
network often tries to *use* it and move to another key" (§7.4). Made operational, bar by
bar (one window of :class:`~musicgen_lib.analysis.keys.KeyConfig` = one bar):

* the key of bar ``w - 1`` (Krumhansl–Schmuckler on that bar alone) puts a 7-note scale in
  force;
* bar ``w`` is *clean* if every note struck in it belongs to that scale, holds *a wrong note*
  if the notes outside it are few (at most ``max_foreign`` onsets) and of one pitch class,
  and is *chromatic* otherwise;
* what bar ``w + 1`` does, judged by its own key alone: it *keeps* the scale of bar ``w - 1``
  (the same 7 notes: a major key and its relative minor count as one), moves to a scale
  that *takes up* the wrong note's pitch class, or moves *elsewhere*.

Bar ``w``'s own key is never used, so the outcome is not an echo of the note that defines the
event. A real piece's chromatic passing note is a wrong note here too: the comparison with
real music is the baseline.
"""
from __future__ import annotations


from .keys import KeyConfig, scale_mask, window_keys, window_pc_weights

OUTCOMES = ("kept", "took it up", "elsewhere")


def bar_events(roll, onsets, config: KeyConfig = KeyConfig(), max_foreign: int = 2) -> list:
    """``[(kind, outcome), …]`` for every bar ``w`` with a key before and after it: ``kind``
    is ``"clean"``, ``"wrong note"`` or ``"chromatic"``; ``outcome`` one of :data:`OUTCOMES`
    (for a clean bar, "took it up" never occurs). ``roll``/``onsets``: ``(T, 88)`` sounding
    and onset rolls (or ``(T, 12)``). Bars are the config's windows; its hop must equal the
    window and its ``change_penalty`` must be 0 (each bar's key from that bar alone).

    Notebook: 10_discussion."""
    if config.hop != config.window or config.change_penalty != 0:
        raise ValueError("bar_events needs non-overlapping windows (hop = window) and no smoothing")
    keys = window_keys(roll, config)                                        # (W,)
    struck = window_pc_weights(onsets, config.window, config.hop) > 0      # (W, 12)
    scales = scale_mask(keys, config.minor_scale)                           # (W, 12)
    n_onsets = window_pc_weights(onsets, config.window, config.hop)        # (W, 12) counts
    events = []
    for w in range(1, len(keys) - 1):
        if keys[w - 1] < 0 or keys[w + 1] < 0 or not struck[w].any():
            continue
        foreign = struck[w] & ~scales[w - 1]
        n_foreign = n_onsets[w][foreign].sum()
        if not foreign.any():
            kind = "clean"
        elif n_foreign <= max_foreign and foreign.sum() == 1:
            kind = "wrong note"
        else:
            kind = "chromatic"
        if (scales[w + 1] == scales[w - 1]).all():
            outcome = "kept"
        elif kind == "wrong note" and scales[w + 1][foreign].all():
            outcome = "took it up"
        else:
            outcome = "elsewhere"
        events.append((kind, outcome))
    return events


def wrong_note_summary(pairs, config: KeyConfig = KeyConfig(), max_foreign: int = 2) -> dict:
    """Over ``pairs`` of (sounding, onset) rolls: how many bars of each kind, the share of
    bars holding a wrong note, and for each kind the share of each outcome.

    Returns ``{"bars": n, "wrong_share": float, "clean": {outcome: share, "n": count},
    "wrong note": {...}, "chromatic": {...}}`` (shares NaN where a kind never occurs).

    Notebook: 10_discussion."""
    events = [e for roll, on in pairs for e in bar_events(roll, on, config, max_foreign)]
    out = {"bars": len(events)}
    for kind in ("clean", "wrong note", "chromatic"):
        got = [o for k, o in events if k == kind]
        out[kind] = {"n": len(got), **{o: (got.count(o) / len(got) if got else float("nan"))
                                       for o in OUTCOMES}}
    out["wrong_share"] = out["wrong note"]["n"] / len(events) if events else float("nan")
    return out
