"""Analysis of piano rolls as pure functions: statistics, keys (``keys``) and harmony
(``harmony``, Fig. 17), metrics per piece and per set, the classifier two-sample test, what
the voice sampler's voices decide (``voices``) (notebooks 01_representations,
06_voice_sampler, 09_harmony_analysis, 10_discussion)."""
from .harmony import ChordConfig, HarmonyAnalysis, analyze_harmony
from .keys import KeyConfig, key_name
from .metrics import (HEADLINE_METRICS, MetricsConfig, aggregate, piece_metrics,
                      pitch_class_counts, polyphony)
from .two_sample import TwoSampleConfig, two_sample_test

__all__ = ["ChordConfig", "HarmonyAnalysis", "KeyConfig", "analyze_harmony", "key_name",
           "HEADLINE_METRICS", "MetricsConfig", "aggregate", "piece_metrics",
           "pitch_class_counts", "polyphony", "TwoSampleConfig", "two_sample_test"]
