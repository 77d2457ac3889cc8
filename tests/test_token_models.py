"""Tests of the token models of the review — Performance RNN over events
(models/performance_rnn.py) and BachProp over note triples (models/bachprop.py) — and of
their datasets (data/tokens.py, ``piano-events``, ``chorale-triples``)."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from musicgen_lib.data import load_dataset, write_midi
from musicgen_lib.data.batches import as_rolls, pad_batch
from musicgen_lib.data.events import VOCAB_SIZE, events_to_notes, notes_to_events
from musicgen_lib.data.midi import NoteList
from musicgen_lib.errors import ConfigError
from musicgen_lib.evaluate import evaluate
from musicgen_lib.models import build
from musicgen_lib.train import make_train_config, train

PRNN = {"n_embed": 8, "n_recurrent": 16, "n_layers": 2, "dropout": 0.0}
BP = {"n_embed": 6, "n_recurrent": 12, "n_layers": 1, "n_head": 8, "dropout": 0.0}
ML = {"lags": [2, 4], "time_bits": 3, "n_embed": 5, "n_recurrent": 12, "dropout": 0.0}


def model(name, cfg, seed=0):
    torch.manual_seed(seed)
    return build(name, cfg).eval()


def random_events(n, seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB_SIZE, n)[:, None]


def random_triples(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, 21, n), rng.integers(1, 21, n), rng.integers(21, 109, n)], 1)


def random_melody(n, seed=0):
    from musicgen_lib.data.melody import N_TOKENS

    return np.random.default_rng(seed).integers(0, N_TOKENS, n)[:, None]


CASES = [("performance-rnn", PRNN, random_events), ("bachprop", BP, random_triples),
         ("melody-lstm", ML, random_melody)]


@pytest.mark.parametrize("name,cfg,make", CASES)
def test_likelihood_is_normalised_over_the_first_token(name, cfg, make):
    m = model(name, cfg)
    if name == "performance-rnn":  # every first event, one batch: probabilities sum to 1
        x = torch.arange(VOCAB_SIZE, dtype=torch.float32)[:, None, None]
    elif name == "melody-lstm":
        from musicgen_lib.data.melody import N_TOKENS

        x = torch.arange(N_TOKENS, dtype=torch.float32)[:, None, None]
    else:  # every (dT, T, P) triple of a first note whose T is not 0
        g = torch.cartesian_prod(torch.arange(21), torch.arange(1, 21), torch.arange(21, 109))
        x = g[:, None].float()
    lp, var = m.log_prob(x, torch.ones(len(x), 1, dtype=torch.bool))
    assert torch.logsumexp(lp[:, 0].double(), 0).abs() < 1e-4 and (var == 0).all()


@pytest.mark.parametrize("name,cfg,make", CASES)
def test_padding_and_batching_do_not_change_a_piece(name, cfg, make):
    m = model(name, cfg)
    a, b = make(7, 1), make(12, 2)
    x, mask = pad_batch(as_rolls([a, b]))
    lp, _ = m.log_prob(x, mask)
    alone, _ = m.log_prob(*pad_batch(as_rolls([a])))
    assert torch.allclose(lp[0, :7], alone[0], atol=1e-5) and (lp[0, 7:] == 0).all()


@pytest.mark.parametrize("name,cfg,make", CASES)
def test_log_prob_is_the_product_of_the_sampling_conditionals(name, cfg, make):
    # teacher-forced log p of a sampled continuation = what generate drew it from: the
    # likelihood code and the sampler read the past alike
    m = model(name, cfg)
    prime = torch.from_numpy(make(5, 3)).float()[None]
    g = torch.Generator().manual_seed(0)
    s = m.generate(6, batch=1, prime=prime, generator=g)
    whole = torch.cat([prime.long(), s.reshape(1, 6, -1)], 1).float()
    lp, _ = m.log_prob(whole, torch.ones(1, 11, dtype=torch.bool))
    assert torch.isfinite(lp).all()
    # a continuation the model cannot produce is impossible only where the data says so
    if name == "bachprop":
        bad = whole.clone()
        bad[0, -1, 1] = 0  # a note of no length
        assert m.log_prob(bad, torch.ones(1, 11, dtype=torch.bool))[0][0, -1] == float("-inf")
    # sampling at a very low temperature picks the model's most likely next token
    s0 = m.generate(1, batch=1, prime=prime, temperature=1e-4, generator=g)
    cand = whole[:, :6].clone()
    cand[0, 5] = s0[0, 0].float()
    best = m.log_prob(cand, torch.ones(1, 6, dtype=torch.bool))[0][0, 5]
    other = cand.clone()
    if name != "bachprop":
        other[0, 5, 0] = (s0[0, 0] + 1) % (VOCAB_SIZE if name == "performance-rnn" else 38)
    else:
        other[0, 5, 2] = 21 + (int(s0[0, 0, 2]) - 20) % 88
    assert best >= m.log_prob(other, torch.ones(1, 6, dtype=torch.bool))[0][0, 5]


def test_transposition_moves_only_pitches():
    from musicgen_lib.models.bachprop import BachProp
    from musicgen_lib.models.performance_rnn import PerformanceRNN

    ev = torch.tensor([[[60.], [188.], [300.], [360.]]])
    assert PerformanceRNN.transpose(ev, 2)[0, :, 0].tolist() == [62, 190, 300, 360]
    tr = torch.tensor([[[0., 12., 60.], [9., 9., 108.]]])
    assert BachProp.transpose(tr, 3)[0].tolist() == [[0, 12, 63], [9, 9, 108]]
    # a transposed piece's events decode to the same notes a semitone up
    notes = NoteList.from_arrays([0, 50], [50, 100], [60, 64], [65, 65], ticks_per_beat=50)
    up = events_to_notes(PerformanceRNN.transpose(
        torch.from_numpy(notes_to_events(notes)).float()[None, :, None], 1)[0, :, 0].long().numpy())
    assert up.pitch.tolist() == [61, 65] and up.start.tolist() == [0, 50]


@pytest.mark.parametrize("name,cfg,make", CASES)
def test_no_frame_accuracy_and_a_per_token_nll(name, cfg, make):
    m = model(name, cfg)
    out = evaluate(m, [make(9, 4), make(6, 5)])
    assert out["frame_accuracy"] is None and out["steps"] == 15
    assert out["step_unit"] == {"performance-rnn": "event", "bachprop": "note", "melody-lstm": "step"}[name]
    with pytest.raises(ConfigError, match="no frame accuracy"):
        m.frame_stats(*pad_batch(as_rolls([make(3)])))


@pytest.mark.parametrize("name,cfg,make", CASES)
def test_training_with_augmentation_lowers_the_loss(name, cfg, make, tmp_path):
    torch.manual_seed(0)
    m = build(name, cfg)
    cycle = make(4, 9)  # a repeated figure: learnable, in any transposition
    pieces = [np.tile(cycle, (10 + i, 1)) for i in range(6)]
    tc = make_train_config({"batch_size": 3, "max_steps": 20, "valid_every": 10, "lr": 0.01,
                            "transpose": 2, "max_len": 24})
    res = train(m, pieces, pieces[:2], tc, tmp_path / "run", progress=False)
    assert res.history[-1]["valid_nll"] < res.history[0]["valid_nll"] + 1e-6
    assert res.step == 20


def test_events_dataset_is_the_piano_split(piano_midi_de, tmp_cache):
    ev = load_dataset("piano-events", piano_midi_de)
    rolls = load_dataset("piano-midi-de", piano_midi_de)
    for split in ("train", "valid", "test"):
        assert [p.name for p in ev.pieces(split)] == [p.name for p in rolls.pieces(split)]
    assert [s.file for s in ev.skipped] == [s.file for s in rolls.skipped]
    first = ev.pieces("test")[0]
    assert first.roll.dtype == np.int16 and first.roll.shape[1] == 1
    assert as_rolls([first])[0].dtype == np.int16  # ids over 255 are not cut to a byte
    assert ev.stats()["splits"]["test"]["pieces"] == len(rolls.pieces("test"))


def test_events_dataset_reports_bad_files(tmp_path):
    write_midi(NoteList.from_arrays([0, 480], [480, 960], [60, 64], [80, 80], ticks_per_beat=480),
               tmp_path / "good.mid")
    (tmp_path / "bad.mid").write_bytes(b"MThd\x00\x00")
    ds = load_dataset("piano-events", tmp_path)
    assert [s.file for s in ds.skipped] == ["bad.mid"] and len(ds.pieces()) == 1


def test_triples_dataset_is_the_chorales_split():
    # the user's cache, shared with the notebooks (a first parse takes half a minute)
    from musicgen_lib.data.datasets import chorale_files
    from musicgen_lib.data.note_triples import _chorale_triples

    tr = load_dataset("chorale-triples")
    chorales = load_dataset("chorales")
    for split in ("train", "valid", "test"):
        assert [p.name for p in tr.pieces(split)] == [p.name for p in chorales.pieces(split)]
    assert not tr.skipped and len(tr.pieces()) == 350
    by_name = {p.name: p.roll for p in tr.pieces()}
    for label, path in chorale_files()[::120]:  # the cache holds what a fresh parse gives
        assert (by_name[label] == _chorale_triples(path)[0]).all()
    a = np.concatenate([p.roll for p in tr.pieces()])
    assert a.shape[1] == 3 and (a[:, 1] > 0).all() and 21 <= a[:, 2].min() <= a[:, 2].max() <= 108


def test_token_datasets_go_to_their_model_only():
    from musicgen_lib.cli_models import _fit_to_data
    from musicgen_lib.data.tokens import TokenDataset

    ds = TokenDataset("piano-events", {}, "performance-rnn", "event")
    cfg = build("performance-rnn", PRNN).cfg
    assert _fit_to_data("performance-rnn", cfg, PRNN, ds) == cfg
    with pytest.raises(ConfigError, match="only model performance-rnn reads it"):
        _fit_to_data("lstm", None, {}, ds)
    with pytest.raises(ConfigError, match="use --dataset chorale-triples"):
        _fit_to_data("bachprop", None, {}, SimpleNamespace(name="jsb"))  # a roll dataset


def test_performance_stats_count_chords_spread_and_long_notes():
    from musicgen_lib.analysis.performance import onset_groups, performance_stats

    # a chord struck together, a chord spread over 20 ms, a long note; 10 ms ticks
    notes = NoteList.from_arrays([0, 0, 100, 102, 200], [50, 50, 150, 150, 500], [60, 64, 60, 64, 67],
                                 [40, 40, 80, 80, 80], ticks_per_beat=50)
    assert onset_groups(notes).tolist() == [0, 0, 1, 1, 2]
    s = performance_stats(notes)
    assert s["notes"] == 5 and s["seconds"] == 5.0 and s["chord_share"] == 0.8
    assert s["spread_share"] == 0.5 and s["ioi_median_ms"] == 1000.0
    assert s["long_share"] == 0.2 and s["duration_median_ms"] == 500.0
    assert s["velocity_changes"] == 0.5  # 40 -> 80, then 80 -> 80
    assert performance_stats(NoteList.from_arrays([], [], [], [], ticks_per_beat=50)) == {"notes": 0}


def test_cli_data_stats_counts_tokens(capsys):
    from musicgen_lib.cli import main

    assert main(["data", "stats", "--dataset", "chorale-triples"]) == 0
    out = capsys.readouterr().out
    assert "one token per note" in out and "notes" in out.splitlines()[1]
    assert len(out.splitlines()) == 5  # header, columns, three splits


@pytest.mark.parametrize("folder,unit", [("review-chorales/bachprop", "notes"),
                                         ("review-piano/performance-rnn", "events")])
def test_cli_samples_a_token_checkpoint_from_the_start(folder, unit, tmp_path, capsys):
    from musicgen_lib.checkpoints import find_checkpoint
    from musicgen_lib.cli import main
    from musicgen_lib.data import read_midi

    out = tmp_path / "s.mid"
    args = ["sample", "--checkpoint", str(find_checkpoint(folder)), "--steps", "60", "--out", str(out)]
    assert main(args) == 0 and f"60 {unit}" in capsys.readouterr().out
    notes = read_midi(out)
    assert len(notes) == 60 if unit == "notes" else 0 < len(notes) < 60
    assert main(args + ["--prime-dataset", "chorales", "--force"]) == 2
    assert "does not apply" in capsys.readouterr().err


def test_melody_tokens_tell_held_from_repeated_notes():
    from musicgen_lib.data.melody import HOLD, LOWEST, REST, melody_tokens, tokens_to_notes

    # at 4 steps per beat (120 ticks a step): C5 held 2 steps, C5 again, a rest, a chord whose
    # top is E5, a lower voice struck under it (not the top line) that the top line falls to
    # when the chord ends
    notes = NoteList.from_arrays([0, 240, 480, 480, 600], [240, 360, 720, 720, 960],
                                 [72, 72, 67, 76, 60], ticks_per_beat=480)
    t = melody_tokens(notes)
    p = lambda m: 2 + m - LOWEST
    assert t.tolist() == [p(72), HOLD, p(72), REST, p(76), HOLD, p(60), HOLD]
    back = tokens_to_notes(t)
    assert back.pitch.tolist() == [72, 72, 76, 60] and back.start.tolist() == [0, 240, 480, 720]  # moved
    assert back.end.tolist() == [240, 360, 720, 960]
    assert (melody_tokens(back) == t).all()
    with pytest.raises(Exception, match="outside"):
        melody_tokens(NoteList.from_arrays([0], [120], [100], ticks_per_beat=480))


def test_melody_dataset_is_the_chorales_top_lines():
    from musicgen_lib.models.melody_lstm import MelodyLSTM

    ds = load_dataset("chorale-melodies")
    names = {p.name for p in load_dataset("chorale-triples").pieces("test")}
    assert {p.name for p in ds.pieces("test")} <= names and len(ds.pieces()) + len(ds.skipped) == 350
    x = torch.tensor([[[0.], [1.], [2.], [20.], [37.]]])
    assert MelodyLSTM.transpose(x, 3)[0, :, 0].tolist() == [0, 1, 5, 23, 37]


def test_cli_evaluates_a_token_checkpoint_of_its_own_sizes(capsys):
    # the committed BachProp is larger than the defaults: evaluation must not ask for them
    from musicgen_lib.checkpoints import find_checkpoint
    from musicgen_lib.cli import main

    run = find_checkpoint("review-chorales/bachprop")
    assert main(["evaluate", "--checkpoint", str(run), "--dataset", "chorale-triples",
                 "--split", "valid", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["step_unit"] == "note" and out["frame_accuracy"] is None and out["pieces"] == 41
    assert main(["evaluate", "--checkpoint", str(run), "--dataset", "chorale-melodies"]) == 2
