"""Messages for error codes raised by media, transcribe and the pipeline, in the user's language."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

STATUS_LABELS = {
    # event statuses
    "scheduled": _l("Scheduled"), "live": _l("Live"), "ended": _l("Ended"), "processing": _l("Processing"),
    "ready": _l("Ready"), "published": _l("Published"), "cancelled": _l("Cancelled"), "failed": _l("Failed"),
    # stage statuses
    "pending": _l("Waiting"), "queued": _l("Queued"), "running": _l("Running"), "done": _l("Done"),
    "skipped": _l("Skipped"),
}
STAGE_LABELS = {"probe": _l("Check file"), "transcode": _l("Convert video"), "transcribe": _l("Subtitles"),
                "publish": _l("Publish to portal")}


def level_label(level: str) -> str:
    """A site's administrative level in the user's language."""
    labels = {"central": _("Central"), "province": _("Province"), "district": _("District"),
              "commune": _("Commune")}
    return labels.get(level, level)


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))



def error_message(code: str | None) -> str:
    messages = {
        "empty_file": _("The file is empty (0 bytes). Choose the video file again."),
        "not_media": _("This file is not a video or audio file that can be read. Check that you chose the right file."),
        "truncated": _("The file is incomplete or damaged (the upload or copy may have been cut off). "
                       "Copy it again from the camera or recorder and upload it again."),
        "no_streams": _("The file has neither sound nor picture."),
        "unsupported_codec": _("The file uses a video or audio format that cannot be processed. "
                               "Export it as MP4 (H.264/AAC) and upload it again."),
        "too_large_dimensions": _("The picture size of this video is too large to process."),
        "ffmpeg_failed": _("Converting the video failed. The file may be damaged."),
        "audio_unreadable": _("The sound track cannot be read, so no subtitles could be made."),
        "model_missing": _("The speech recognition model is not installed. Ask the administrator."),
        "model_corrupt": _("The speech recognition model is damaged. Ask the administrator to reinstall it."),
        "too_large": _("The file is larger than the allowed upload size."),
        "no_file": _("Choose a file to upload."),
        "internal": _("An internal error occurred. The technicians have been notified; you can retry this step."),
        "retrying": _("A temporary error occurred; the step will be retried automatically."),
        # a stage stopped from the panel; a track with nothing in it
        "cancelled": _("Stopped from the panel. Nothing was changed."),
        "no_frames": _("The file has a video or sound track with nothing in it (0 frames). "
                       "Export the video again and upload it again."),
        "playlist": _("This file is a playlist or a list of other files (such as .m3u8), not a recording. "
                      "Upload the video or audio file itself, for example the MP4."),
    }
    return messages.get(code or "", _("An error occurred (%(code)s).", code=code))
