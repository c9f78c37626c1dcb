"""Speech-to-text and subtitles for Điểm Cầu (no Flask/DB knowledge here).

Importing the package is cheap: faster-whisper/CTranslate2 load only when a
model is loaded or a file is transcribed.
"""

from .bundle import bundled_model_dir
from .engine import transcribe_file
from .errors import AUDIO_UNREADABLE, MODEL_CORRUPT, MODEL_MISSING, TranscribeError
from .model import clear_model_cache, load_model, resolve_device, resolve_model_dir
from .subtitles import Cue, build_cues, cues_to_text, write_srt, write_vtt
from .transcript import Segment, Transcript, Word

__all__ = [
    "AUDIO_UNREADABLE",
    "MODEL_CORRUPT",
    "MODEL_MISSING",
    "Cue",
    "Segment",
    "TranscribeError",
    "Transcript",
    "Word",
    "build_cues",
    "bundled_model_dir",
    "clear_model_cache",
    "cues_to_text",
    "load_model",
    "resolve_device",
    "resolve_model_dir",
    "transcribe_file",
    "write_srt",
    "write_vtt",
]
