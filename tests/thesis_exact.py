"""Exact enumeration of the voice sampler's likelihood, the reference for the SMC estimate
(tests/test_thesis_model.py, tests/test_thesis88.py)."""
import numpy as np
import torch


def exact_log_p(model, hist, x):
    """log p(x) under the voice sampler by enumerating every consistent decision sequence
    (tiny models only), for any number of classes N; with the model's fallback ε, also every
    choice of the steps whose frame the uniform fallback over the 2**N sets made (the voices'
    states then stand still)."""
    feats, _ = model.features(hist, x)
    s, T, eps, N = model.sampler, x.shape[1], model.cfg.fallback, model.cfg.n_classes
    tgts = x[0].float()[:, model.to_model]

    def frames_from(t, states):  # p(x_t.. | the voices' states before step t)
        if t == T:
            return 1.0
        p = (1 - eps) * walk(t, 0, torch.zeros(N), torch.zeros(N), states)
        return p + (eps / 2 ** N * frames_from(t + 1, states) if eps else 0.0)

    def walk(t, v, play, ban, states):
        if v == s.n_voices:
            return frames_from(t + 1, states) if torch.equal(play, tgts[t]) else 0.0
        out, st = s.lstm(torch.cat([feats[0, t], play, ban])[None, None], states[v])
        q = s.decision_probs(out[0], play[None], ban[None])[0]
        states = list(states)
        states[v] = st
        total = 0.0
        for d in range(2 * N):
            m, is_play = d % N, d < N
            if q[d] <= 0 or bool(tgts[t][m]) != is_play:
                continue
            note = torch.nn.functional.one_hot(torch.tensor(m), N).float()
            total += q[d].item() * walk(t, v + 1, play + note * is_play, ban + note * (not is_play),
                                        states)
        return total

    with torch.no_grad():
        return float(np.log(frames_from(0, [None] * s.n_voices)))
