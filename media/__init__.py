"""Media processing for Điểm Cầu: probing, HLS transcoding, posters.

Knows nothing of Flask or the database: functions take paths and options and return dataclasses.
"""

from media.errors import MediaError
from media.probe import ProbeResult, probe
from media.transcode import Rendition, TranscodeResult, transcode

__all__ = ["MediaError", "ProbeResult", "Rendition", "TranscodeResult", "probe", "transcode"]
