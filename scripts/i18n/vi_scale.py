"""Vietnamese translations: big events (pages of participants, the wall's pager, the printable invitations sheet)."""
# ruff: noqa: E501
VI = {
    "Pages": "Trang",
    "Sites %(first)s–%(last)s of %(total)s": "Điểm cầu %(first)s–%(last)s trên tổng số %(total)s",
    "Printable sheet of all %(n)s sites": "Bộ giấy mời in của cả %(n)s điểm cầu",
    "One page per site with its link and QR code, prepared in the background as one file to print or send. A new link, site or change to the event needs a new sheet.":
        "Mỗi điểm cầu một trang có liên kết và mã QR, được chuẩn bị ngầm thành một tệp để in hoặc gửi đi. Khi cấp liên kết mới, thêm điểm cầu hay sửa sự kiện thì cần chuẩn bị lại.",
    "Prepare the printable sheet": "Chuẩn bị bộ giấy mời để in",
    "Download the sheet": "Tải bộ giấy mời",
    "Not prepared yet.": "Chưa được chuẩn bị.",
    "Waiting for a worker…": "Đang chờ máy xử lý…",
    "Preparing…": "Đang chuẩn bị…",
    "Ready.": "Đã xong.",
    "Preparing the sheet failed. Try again.": "Chuẩn bị bộ giấy mời không thành công. Hãy thử lại.",
}
