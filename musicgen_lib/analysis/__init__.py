"""Analysis of piano rolls as pure functions: statistics, keys and harmony (Fig. 17),
metrics per piece and per set, the classifier two-sample test (notebooks
01_representations, 09_harmony_analysis, 10_discussion)."""
from .harmony import ChordConfig, HarmonyAnalysis, KeyConfig, analyze_harmony, key_name
from .metrics import (HEADLINE_METRICS, MetricsConfig, aggregate, piece_metrics,
                      pitch_class_counts, polyphony)
from .two_sample import TwoSampleConfig, two_sample_test

__all__ = ["ChordConfig", "HarmonyAnalysis", "KeyConfig", "analyze_harmony", "key_name",
           "HEADLINE_METRICS", "MetricsConfig", "aggregate", "piece_metrics",
           "pitch_class_counts", "polyphony", "TwoSampleConfig", "two_sample_test"]
