"""Inputs and representations: MIDI files, piano rolls, octave compression, datasets,
fragments (notebook 01_representations)."""
from .datasets import DATASETS, Dataset, Piece, Skipped, load_dataset, split_of
from .events import event_name, events_to_notes, notes_to_events, read_performance
from .filters import THESIS_FILTERS, rejection_reason
from .midi import LOWEST_KEY, N_KEYS, NoteList, read_midi, write_midi
from .note_triples import grid_report, notes_to_triples, triples_to_notes
from .octave import (FOLD, KEY_CLASS, PITCH_CLASS_NAMES, compress, from_author_order,
                     octave_mask, time_bits, to_author_order, transpose12, transpose88)
from .pianoroll import midi_to_roll, notes_to_roll, onset_to_sounding, roll_to_midi, roll_to_notes

__all__ = [
    "DATASETS", "Dataset", "Piece", "Skipped", "load_dataset", "split_of",
    "THESIS_FILTERS", "rejection_reason", "LOWEST_KEY", "N_KEYS", "NoteList", "read_midi",
    "write_midi", "FOLD", "KEY_CLASS", "PITCH_CLASS_NAMES", "compress", "from_author_order",
    "octave_mask", "time_bits", "to_author_order", "transpose12", "transpose88",
    "midi_to_roll", "notes_to_roll", "onset_to_sounding", "roll_to_midi", "roll_to_notes",
    "event_name", "events_to_notes", "notes_to_events", "read_performance",
    "grid_report", "notes_to_triples", "triples_to_notes",
]
