"""The interactive generator (musicgen_lib.checkpoints' catalogue, data.primes, play, app and
render.notebook; notebook 11_play): the models it lists,
deterministic generation with valid MIDI, clear errors for bad uploads, and the app."""
import datetime
import json

import numpy as np
import pytest
import torch

from musicgen_lib.data import midi_to_roll, onset_to_sounding, read_midi
from musicgen_lib.errors import DataError, MidiError
from musicgen_lib.models import registry
from musicgen_lib.app import PlayApp
from musicgen_lib.checkpoints import CHECKOUT_CHECKPOINTS as CHECKPOINTS
from musicgen_lib.checkpoints import PlayModel, available_models, find_model
from musicgen_lib.data.primes import first_bar, prime_from_upload
from musicgen_lib.play import generate
from musicgen_lib.render.notebook import render_outputs

#: One 4/4 bar of C major chords: a prime in onset semantics at 4 steps per beat.
BAR4 = np.zeros((16, 88), np.uint8)
BAR4[np.ix_([0, 4, 8, 12], [27, 39, 43, 46])] = 1  # C2 C4 E4 G4 struck on every beat


def _check_midi(result, tmp_path):
    """The MIDI bytes read back as the result's roll (in the model's semantics)."""
    path = tmp_path / "back.mid"
    path.write_bytes(result.midi)
    assert len(read_midi(path)) == len(result.notes()) > 0
    back = midi_to_roll(path, result.steps_per_beat, result.semantics)
    n = len(back)
    np.testing.assert_array_equal(back, result.model_roll[:n])
    assert not result.model_roll[n:].any()  # only trailing silence is not in the file


# ---------------------------------------------------------------- listing

def test_lists_the_committed_thesis_model_and_skips_what_is_missing(tmp_path):
    names = [m.name for m in available_models(reference=tmp_path)]
    assert names[0] == "thesis-chorales"
    assert "author-piano" not in names  # no greats-*.pt in tmp_path
    assert available_models(reference=tmp_path, checkpoints=tmp_path / "none") == []
    # review folders without weights, or holding a model that cannot generate, are left out
    for name, model in (("noweights", "rnn-nade"), ("thesis", "thesis")):
        d = tmp_path / "ck" / "review-jsb" / name
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"model": model, "config": {}}))
    (tmp_path / "ck" / "review-jsb" / "thesis" / "model.pt").write_bytes(b"")
    assert available_models(reference=tmp_path, checkpoints=tmp_path / "ck") == []
    with pytest.raises(Exception, match="no model 'nope'"):
        find_model("nope", reference=tmp_path)


def _tiny_review_checkpoint(root, name="tiny", model="rnn-nade"):
    """A small untrained reviewed model saved like a training run (config.json + model.pt)."""
    torch.manual_seed(0)
    net = registry.build(model, {"n_hidden": 8, "n_recurrent": 8})
    folder = root / "review-jsb" / name
    folder.mkdir(parents=True)
    registry.save_config(folder / "config.json", net,
                         data={"dataset": "jsb", "resolution": "quarter", "semantics": "sounding"})
    torch.save(net.state_dict(), folder / "model.pt")
    return folder


def _review_models(tmp_path):
    """A tiny review model, and the first committed one when there is one."""
    _tiny_review_checkpoint(tmp_path / "ck")
    models = available_models(reference=tmp_path, checkpoints=tmp_path / "ck")
    committed = [m for m in available_models(reference=tmp_path) if m.kind == "review"]
    return models + committed[:1]


# ---------------------------------------------------------------- generation

def test_thesis_chorales_is_deterministic_with_valid_midi(tmp_path):
    a = generate("thesis-chorales", BAR4, steps=24, temperature=0.9, seed=3)
    b = generate("thesis-chorales", BAR4, steps=24, temperature=0.9, seed=3)
    c = generate("thesis-chorales", BAR4, steps=24, temperature=0.9, seed=4)
    assert a.model_roll.shape == a.roll.shape == (16 + 24, 88)
    assert a.steps == 24 and a.prime_steps == 16 and a.steps_per_beat == 4
    assert a.semantics == "onset" and a.temperature == 0.9
    np.testing.assert_array_equal(a.model_roll[:16], BAR4)
    np.testing.assert_array_equal(a.roll, onset_to_sounding(a.model_roll))
    np.testing.assert_array_equal(a.model_roll, b.model_roll)
    assert a.midi == b.midi and a.summary() == b.summary() and a.checksum() == b.checksum()
    assert not np.array_equal(a.model_roll, c.model_roll)
    assert a.midi.startswith(b"MThd")
    _check_midi(a, tmp_path)


@pytest.mark.parametrize("which", [0, 1])
def test_review_models_are_deterministic_without_temperature(which, tmp_path):
    models = _review_models(tmp_path)
    if which >= len(models):
        pytest.skip("no committed checkpoint under checkpoints/review-jsb/")
    m = models[which]
    assert m.kind == "review" and not m.has_temperature
    assert m.steps_per_beat == 1 and m.semantics == "sounding"
    prime = np.zeros((4, 88), np.uint8)
    prime[:, [39, 43, 46]] = 1
    torch.manual_seed(0)
    before = torch.rand(3)
    a = generate(m, prime, steps=12, temperature=0.5, seed=7)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(3), before)  # the caller's random stream is untouched
    b = generate(m, prime, steps=12, temperature=1.5, seed=7)  # no temperature: same music
    assert a.model_roll.shape == (16, 88) and a.temperature is None
    np.testing.assert_array_equal(a.model_roll, b.model_roll)
    np.testing.assert_array_equal(a.roll, a.model_roll)  # sounding already
    assert a.midi == b.midi
    if a.notes().start.size:
        _check_midi(a, tmp_path)


def test_bad_requests_are_one_line_errors():
    with pytest.raises(DataError, match="steps must be"):
        generate("thesis-chorales", BAR4, steps=0)
    with pytest.raises(DataError, match="temperature must be positive"):
        generate("thesis-chorales", BAR4, steps=4, temperature=0)
    with pytest.raises(DataError, match="a prime must be"):
        generate("thesis-chorales", BAR4[:, :12], steps=4)
    with pytest.raises(DataError, match="holds no notes"):
        first_bar(np.zeros((32, 88)), 4)


def test_first_bar_is_the_first_bar_with_notes():
    roll = np.zeros((40, 88), np.uint8)
    roll[20, 5] = 1
    bar = first_bar(roll, 4)
    assert bar.shape == (16, 88) and bar[4, 5] == 1 and bar.sum() == 1


# ---------------------------------------------------------------- uploads

def _model():
    return find_model("thesis-chorales")


def _grid(model):
    """A catalogued model's piano-roll semantics and steps per beat (what a prime needs)."""
    return model.semantics, model.steps_per_beat


def test_bad_upload_names_the_file():
    for content, problem in ((b"hello", "not a MIDI file"), (b"", "empty file"),
                             (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0", "truncated")):
        with pytest.raises(MidiError, match=problem) as e:
            prime_from_upload("my song.mid", content, *_grid(_model()))
        assert e.value.path == "my song.mid" and str(e.value).startswith("my song.mid: ")
        assert "\n" not in str(e.value)


def test_upload_of_a_generated_file_primes_each_model(tmp_path):
    result = generate("thesis-chorales", BAR4, steps=16, seed=0)
    prime = prime_from_upload("sample.mid", result.midi, *_grid(_model()))
    assert prime.name == "sample.mid"
    np.testing.assert_array_equal(prime.roll, BAR4)
    jsb = PlayModel("j", "review", tmp_path, "jsb", "sounding", 1, "")
    quarter = prime_from_upload("sample.mid", result.midi, jsb.semantics, jsb.steps_per_beat).roll
    assert quarter.shape == (4, 88) and quarter.any()


# ---------------------------------------------------------------- the app

def _upload(name, content):
    return ({"name": name, "type": "audio/midi", "size": len(content),
             "content": memoryview(content),
             "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)},)


def test_app_generates_on_creation_and_reports_bad_uploads():
    app = PlayApp(bars=1)
    assert app.result is not None and app.result.model == "thesis-chorales"
    assert app.result.steps == 16 and app.result.prime_steps == 16
    bundle = app._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == f"PlayApp: {app.result.summary()}"
    kinds = [k for o in app.output.outputs for k in o.get("data", {})]
    assert "image/png" in kinds and "image/svg+xml" in kinds
    html = " ".join(o["data"].get("text/html", "") for o in app.output.outputs if "data" in o)
    assert "<audio" in html and 'download="sample.mid"' in html
    assert "data:audio/midi;base64," in html
    # a bad upload: one line in the output, no exception
    app.upload_w.value = _upload("broken.mid", b"not midi at all")
    assert app.output.outputs == ({"output_type": "stream", "name": "stdout",
                                   "text": "cannot use the uploaded file: broken.mid: not a MIDI "
                                           "file (no 'MThd' header)\n"},)
    assert app.summary().startswith("PlayApp: cannot use the uploaded file: broken.mid")
    # a good one becomes the prime
    app.upload_w.value = _upload("mine.mid", app.result.midi)
    app.generate()
    assert app.message is None and app.result.prime_name == "mine.mid"


def test_committed_review_checkpoints_are_listed_when_present():
    folders = sorted(p for p in (CHECKPOINTS / "review-jsb").glob("*/model.pt"))
    names = {m.name for m in available_models()}
    for f in folders:
        cfg = json.loads((f.parent / "config.json").read_text())
        if cfg["model"] in ("lstm", "rbm", "rnn-rbm", "rnn-nade", "mixture"):
            assert f"review-jsb/{f.parent.name}" in names


def test_render_outputs_for_a_review_model(tmp_path):
    m = _review_models(tmp_path)[0]
    prime = np.zeros((4, 88), np.uint8)
    prime[:, [39, 43, 46]] = 1
    outs = render_outputs(generate(m, prime, steps=8, seed=0))
    assert outs[0]["text"].startswith(m.name)
    assert any("image/svg+xml" in o.get("data", {}) for o in outs)
