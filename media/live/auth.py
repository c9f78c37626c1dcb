"""Who may publish or play in a room: tokens signed by the panel, checked against Redis state.

The contract (docs/live-contract.md): the event's state lives in the Redis hash
`diemcau:event:<id>` (status, confidential, floor, title); token versions in
`diemcau:event:<id>:token_versions` (`<kind>:<subject>` → version; absent means version 1).
"""
from __future__ import annotations

from dataclasses import dataclass

from groundwork.tokens import Grant, TokenError, verify

EVENTS_CHANNEL = "diemcau:events"
TOKEN_MAX_AGE_S = 120 * 24 * 3600   # join links are sent weeks ahead; revocation is by version

# Error texts: the JSON carries a stable code, an English message and the Vietnamese one the pages show.
MESSAGES = {
    "token_missing": ("A token is required (Authorization: Bearer …).",
                      "Thiếu mã truy cập (Authorization: Bearer …)."),
    "token_invalid": ("The token is not valid for this server.", "Mã truy cập không hợp lệ."),
    "token_expired": ("The token has expired; ask the technician for a new link.",
                      "Mã truy cập đã hết hạn; hãy xin kỹ thuật viên đường dẫn mới."),
    "token_revoked": ("This link was revoked; ask the technician for the new one.",
                      "Đường dẫn này đã bị thu hồi; hãy xin kỹ thuật viên đường dẫn mới."),
    "token_wrong_event": ("The token belongs to another event.", "Mã truy cập thuộc về sự kiện khác."),
    "token_wrong_kind": ("This token does not allow that.", "Mã truy cập này không cho phép thao tác đó."),
    "event_not_live": ("The event is not live.", "Sự kiện chưa bắt đầu hoặc đã kết thúc."),
    "no_floor": ("This site does not have the floor; wait for the chair to give it.",
                 "Điểm cầu này chưa được giao quyền phát biểu; hãy chờ chủ trì giao quyền."),
    "already_publishing": ("Someone is already publishing for this source; stop it first.",
                           "Nguồn này đang được phát từ nơi khác; hãy dừng nơi đó trước."),
    "malformed_sdp": ("The request body is not a usable SDP offer.", "Nội dung yêu cầu không phải SDP offer hợp lệ."),
    "codec_unsupported": ("The offer has no codec this server can use (H.264 and Opus are needed to play).",
                          "Trình phát không hỗ trợ mã hóa cần thiết (cần H.264 và Opus)."),
    "unsupported_media_type": ("Send the offer as application/sdp.", "Hãy gửi offer với kiểu application/sdp."),
    "not_found": ("No such session.", "Không tìm thấy phiên này."),
    "not_supported": ("Trickle ICE and ICE restarts are not supported: send a new offer.",
                      "Không hỗ trợ trickle ICE; hãy gửi offer mới."),
    "server_busy": ("The server is at capacity.", "Máy chủ đã đạt giới hạn kết nối."),
}


class Denied(Exception):
    def __init__(self, status: int, code: str):
        super().__init__(code)
        self.status = status
        self.code = code

    def body(self) -> dict:
        en, vi = MESSAGES.get(self.code, (self.code, self.code))
        return {"error": self.code, "message": vi, "message_en": en}


@dataclass(frozen=True)
class EventState:
    event_id: int
    status: str
    confidential: bool
    floor: str
    title: str
    discard: bool = False      # a report take the speaker threw away (re-take): never handed off

    @property
    def live(self) -> bool:
        return self.status == "live"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


async def read_state(redis, event_id: int) -> EventState:
    raw = {_text(k): _text(v) for k, v in (await redis.hgetall(f"diemcau:event:{event_id}")).items()}
    return EventState(event_id=event_id, status=raw.get("status", ""), confidential=raw.get("confidential") == "1",
                      floor=raw.get("floor") or "host", title=raw.get("title", ""),
                      discard=raw.get("discard") == "1")


async def current_version(redis, event_id: int, kind: str, subject_id: int | None) -> int:
    value = await redis.hget(f"diemcau:event:{event_id}:token_versions", f"{kind}:{subject_id or 0}")
    return int(_text(value)) if value not in (None, b"", "") else 1


def bearer(authorization: str | None, query_token: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return query_token or None


async def authorise(redis, secret: str, event_id: int, token: str | None, *, kinds: tuple[str, ...]
                    ) -> tuple[Grant, EventState]:
    """The grant and the event state, or Denied with the reason."""
    if not token:
        raise Denied(401, "token_missing")
    try:
        grant = verify(token, max_age_s=TOKEN_MAX_AGE_S, secret=secret)
    except TokenError as exc:
        raise Denied(401, f"token_{exc.code}") from None
    if grant.event_id != event_id:
        raise Denied(403, "token_wrong_event")
    if grant.kind not in kinds:
        raise Denied(403, "token_wrong_kind")
    if grant.version != await current_version(redis, event_id, grant.kind, grant.subject_id):
        raise Denied(401, "token_revoked")
    state = await read_state(redis, event_id)
    if not state.live:
        raise Denied(403, "event_not_live")
    return grant, state


async def grant_still_valid(redis, grant: Grant) -> bool:
    return grant.version == await current_version(redis, grant.event_id, grant.kind, grant.subject_id)
