"""Tests of the bi-axial LSTM (tied parallel networks, Johnson 2017; musicgen_lib/models/biaxial):
the weights are tied across notes, each p(x_{t,n}) sees only the past and the lower keys of its
own frame, the vectorised NLL equals the key-by-key loop, sampling gives binary frames, and
training lowers the loss."""
import pytest
import torch

from musicgen_lib.models import ConfigError, build
from musicgen_lib.models.biaxial import lower_keys

TINY = {"window": 4, "n_time": 8, "n_note": 6, "note_window": 3}


def tiny(**opts):
    torch.manual_seed(0)
    return build("biaxial", {**TINY, **opts}).eval()


def roll(B=2, T=6, V=88, lo=30, hi=60, p=0.15, seed=1):
    """Random frames with notes only in keys lo..hi-1 (room to transpose)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(B, T, V)
    x[..., lo:hi] = (torch.rand(B, T, hi - lo, generator=g) < p).float()
    return x


def test_transposing_the_input_shifts_the_time_axis():
    # without the absolute-position input, the same weights act at every key: the time axis
    # of key n + 1 on the transposed roll is that of key n on the original
    m = tiny(position=False, context=True, beat=4)
    x = roll()
    h, h_up = m.time_axis(x), m.time_axis(torch.roll(x, 1, -1))  # (B, T, 88, H)
    assert torch.allclose(h_up[:, :, 1:], h[:, :, :-1], atol=1e-6)
    assert not torch.allclose(h[:, :, 1:], h[:, :, :-1], atol=1e-3)  # the shift is not trivial


def test_position_input_breaks_only_the_invariance_it_should():
    m = tiny(position=True)
    x = roll()
    h, h_up = m.time_axis(x), m.time_axis(torch.roll(x, 1, -1))
    assert not torch.allclose(h_up[:, :, 1:], h[:, :, :-1], atol=1e-4)


def test_causal_in_time_and_along_the_keys():
    m = tiny()
    x = roll(B=1, T=5)
    lg = m.logits(x)  # (1, T, 88)
    t, n = 3, 45
    y = x.clone()
    y[0, t, n:] = 1 - y[0, t, n:]  # key n and the higher keys of frame t
    y[0, t + 1:] = 1 - y[0, t + 1:]  # and every later frame
    lg2 = m.logits(y)
    assert torch.allclose(lg2[0, :t], lg[0, :t], atol=1e-6)
    assert torch.allclose(lg2[0, t, :n + 1], lg[0, t, :n + 1], atol=1e-6)
    assert not torch.allclose(lg2[0, t, n + 1:], lg[0, t, n + 1:], atol=1e-4)  # it does look below
    y = x.clone()
    y[0, t - 1, 50] = 1 - y[0, t - 1, 50]  # the previous frame reaches every key's window
    assert not torch.allclose(m.logits(y)[0, t, 46:55], lg[0, t, 46:55], atol=1e-4)


def test_lower_keys_window():
    v = torch.tensor([[1.0, 0, 1, 1]])
    assert lower_keys(v, 2).tolist() == [[[0, 0], [1, 0], [0, 1], [1, 0]]]


def test_nll_equals_the_key_by_key_loop_and_is_normalised():
    m = tiny()
    x = roll(B=2, T=4)
    mask = torch.ones(2, 4, dtype=torch.bool)
    lp, var = m.log_prob(x, mask)
    h = m.time_axis(x).reshape(8, 88, -1)
    logits, v = m.note_loop(h, x.reshape(8, 88))
    loop = -torch.nn.functional.binary_cross_entropy_with_logits(
        logits, x.reshape(8, 88), reduction="none").sum(-1)
    assert torch.equal(v, x.reshape(8, 88)) and (var == 0).all()
    assert torch.allclose(lp.reshape(8), loop, atol=1e-4)
    # every frame over 6 keys: the conditionals sum to one
    small = tiny(n_visible=6, window=2)
    vs = torch.tensor([[(i >> k) & 1 for k in range(6)] for i in range(64)], dtype=torch.float)
    xs = torch.cat([torch.ones(64, 1, 6) * torch.tensor([1.0, 0, 0, 1, 0, 0]), vs[:, None]], 1)
    lp, _ = small.log_prob(xs, torch.ones(64, 2, dtype=torch.bool))
    assert torch.logsumexp(lp[:, 1], 0).abs() < 1e-5


def test_padding_invariant():
    m = tiny()
    a, b = roll(B=1, T=6, seed=2)[0], roll(B=1, T=3, seed=3)[0]
    x = torch.zeros(2, 6, 88)
    x[0], x[1, :3] = a, b
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[0], mask[1, :3] = True, True
    lp, _ = m.log_prob(x, mask)
    alone, _ = m.log_prob(b[None], torch.ones(1, 3, dtype=torch.bool))
    assert torch.allclose(lp[1, :3], alone[0], atol=1e-5) and (lp[1, 3:] == 0).all()


def test_sampling_gives_binary_frames_and_frame_stats():
    m = tiny()
    prime = roll(B=2, T=3)
    g = m.generate(3, batch=2, prime=prime)
    assert g.shape == (2, 3, 88) and set(g.unique().tolist()) <= {0.0, 1.0}
    # priming reads the prime as teacher forcing does: the first sample uses the same state
    torch.manual_seed(5)
    a = m.generate(1, batch=2, prime=prime)
    x = torch.cat([prime, a], 1)
    torch.manual_seed(5)
    h = m.time_axis(x)[:, 3]  # (2, 88, H) the time axis at the sampled step
    _, b = m.note_loop(h)
    assert torch.equal(a[:, 0], b)
    mask = torch.ones(2, 3, dtype=torch.bool)
    s = m.frame_stats(prime, mask, n_samples=5, rows=4)  # chunked: 2 samples per chunk
    assert s.tp >= 0 and s.fp > 0 and s.fn >= 0


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    m = build("biaxial", TINY)
    x = torch.zeros(2, 6, 88)  # two chords in turn: something to learn fast
    x[:, ::2, [40, 44, 47]], x[:, 1::2, [41, 45, 48]] = 1.0, 1.0
    mask = torch.ones(2, 6, dtype=torch.bool)
    first = m.training_loss(x, mask)[0].item()
    for _ in range(12):  # sign descent: torch.optim's first use costs seconds of imports
        loss, stats = m.training_loss(x, mask)
        m.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in m.parameters():
                p -= 0.02 * p.grad.sign()
    assert stats["nll"] < first - 2


@pytest.mark.parametrize("opts", [{"beat": 0, "context": False, "position": False},
                                  {"time_layers": 2, "note_layers": 2, "dropout": 0.2}])
def test_options_build_and_run(opts):
    m = tiny(**opts)
    x = roll(B=1, T=3)
    loss, _ = m.training_loss(x, torch.ones(1, 3, dtype=torch.bool))
    assert torch.isfinite(loss)


def test_a_note_axis_that_cannot_see_its_frame_is_refused():
    with pytest.raises(ConfigError, match="note_window"):
        build("biaxial", {"note_window": 0})
