"""Who may publish or play in a room: tokens signed by the panel, checked against Redis state.

The contract (docs/live-contract.md, groundwork.live_contract): the event's state lives in its Redis
hash (status, confidential, floor, title); token versions in the event's versions hash
(`<kind>:<subject>` → version; absent means version 1).
"""
from __future__ import annotations

from groundwork.live_contract import EventState, event_key, parse_state, parse_version, version_field, versions_key
from groundwork.tokens import Grant, TokenError, verify

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


async def read_state(redis, event_id: int) -> EventState:
    return parse_state(event_id, await redis.hgetall(event_key(event_id)))


async def current_version(redis, event_id: int, kind: str, subject_id: int | None) -> int:
    return parse_version(await redis.hget(versions_key(event_id), version_field(kind, subject_id)))


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
