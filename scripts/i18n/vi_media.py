"""Vietnamese translations: media processing (trim, social cuts, loudness, stopping media jobs)."""
# ruff: noqa: E501
VI = {
    # error messages (web.messages / web.trim)
    "Stopped from the panel. Nothing was changed.": "Đã dừng từ bảng điều khiển. Không có gì bị thay đổi.",
    "The file has a video or sound track with nothing in it (0 frames). Export the video again and upload it again.":
        "Tệp có rãnh hình hoặc tiếng nhưng không có nội dung (0 khung hình). Hãy xuất lại video rồi tải lên lần nữa.",
    "The chosen time is outside the video, or the end comes before the start. Pick the points again on the preview.":
        "Thời điểm đã chọn nằm ngoài video, hoặc điểm kết thúc đứng trước điểm bắt đầu. Hãy chọn lại các điểm trên khung xem trước.",
    "Almost nothing would be left after these cuts. Keep at least half a second.":
        "Sau các đoạn cắt này gần như không còn gì. Hãy giữ lại ít nhất nửa giây.",
    "A social cut can be at most %(s)d seconds long. Choose a shorter part.":
        "Video cho mạng xã hội dài tối đa %(s)d giây. Hãy chọn một đoạn ngắn hơn.",
    "No font with Vietnamese diacritics is installed for burned-in subtitles. Ask the administrator to install fonts-noto-core.":
        "Máy chủ chưa có phông chữ đủ dấu tiếng Việt để in phụ đề lên hình. Hãy nhờ quản trị viên cài gói fonts-noto-core.",
    "The video has not been converted yet. Wait until the conversion step is done.":
        "Video chưa được chuyển đổi xong. Hãy chờ bước chuyển đổi hoàn tất.",
    "Subtitles are still being made. Trim after they are finished, so that they follow the cut.":
        "Phụ đề vẫn đang được tạo. Hãy cắt sau khi phụ đề xong để phụ đề khớp với đoạn cắt.",
    "Another trim of this recording is still running. Wait for it or stop it first.":
        "Một lần cắt khác của bản ghi này vẫn đang chạy. Hãy chờ hoặc dừng nó trước.",
    "Choose how the picture is framed: centre crop or blurred background.":
        "Hãy chọn cách đặt khung hình: cắt giữa hoặc nền mờ.",
    "This job is not running any more.": "Việc này không còn chạy nữa.",
    # labels
    "Centre crop": "Cắt lấy phần giữa",
    "Whole picture on a blurred background": "Giữ trọn khung hình trên nền mờ",
    "Trim": "Cắt",
    "Social cut": "Video mạng xã hội",
    "Loudness": "Độ lớn âm thanh",
    "%(i)s LUFS integrated (target %(t)s LUFS), true peak %(p)s dBTP":
        "%(i)s LUFS tích hợp (mục tiêu %(t)s LUFS), đỉnh thực %(p)s dBTP",
    "Portal and download: %(i)s LUFS integrated (target %(t)s LUFS), true peak %(p)s dBTP.":
        "Cổng thông tin và bản tải về: %(i)s LUFS tích hợp (mục tiêu %(t)s LUFS), đỉnh thực %(p)s dBTP.",
    "Within EBU R128": "Trong chuẩn EBU R128",
    "Outside the target": "Ngoài mục tiêu",
    "Not measured (no sound, or converted before loudness measurement existed).":
        "Chưa đo (không có tiếng, hoặc được chuyển đổi trước khi có tính năng đo độ lớn).",
    "Trim and social cuts": "Cắt video và làm video mạng xã hội",
    # the cutting room
    "This recording is already cut: the preview plays the cut version (%(d)s of %(s)s). New cuts apply to it.":
        "Bản ghi này đã được cắt: khung xem trước phát bản đã cắt (%(d)s trên %(s)s). Các lần cắt mới áp dụng lên bản này.",
    "The preview plays the whole recording (%(d)s).": "Khung xem trước phát toàn bộ bản ghi (%(d)s).",
    "Keys: ← → one frame, Shift+← → one second, Space play/pause, I in point, O out point.":
        "Phím tắt: ← → một khung hình, Shift+← → một giây, Space phát/dừng, I điểm vào, O điểm ra.",
    "Playback": "Điều khiển phát",
    "Previous frame": "Khung hình trước",
    "1 frame": "1 khung hình",
    "Play / pause": "Phát / dừng",
    "Next frame": "Khung hình sau",
    "Click to move the playhead": "Bấm để di chuyển đầu phát",
    "In point": "Điểm vào",
    "Set in point here": "Đặt điểm vào tại đây",
    "Out point": "Điểm ra",
    "Set out point here": "Đặt điểm ra tại đây",
    "Mark start of a cut": "Đánh dấu đầu đoạn bỏ",
    "Mark end of the cut": "Đánh dấu cuối đoạn bỏ",
    "Cut starts at": "Đoạn bỏ bắt đầu lúc",
    "Parts to cut out": "Các đoạn sẽ bỏ",
    "Length after the cut": "Thời lượng sau khi cắt",
    "Apply the cut": "Áp dụng cắt",
    "Restore the whole recording": "Khôi phục toàn bộ bản ghi",
    "Vertical social cut (9:16)": "Cắt dọc cho mạng xã hội (9:16)",
    "Start here": "Bắt đầu tại đây",
    "End here": "Kết thúc tại đây",
    "Length": "Thời lượng",
    "at most %(s)d seconds": "tối đa %(s)d giây",
    "Framing": "Khung hình",
    "Burned-in subtitles": "Phụ đề in lên hình",
    "No subtitles": "Không có phụ đề",
    "Make the social cut": "Tạo video mạng xã hội",
    "Edit jobs": "Các việc biên tập",
    "Job": "Việc",
    "Progress": "Tiến độ",
    "No edits yet.": "Chưa có lần biên tập nào.",
    "Queued. The progress is shown below.": "Đã đưa vào hàng đợi. Tiến độ hiển thị bên dưới.",
    "The cut is ready. The page reloads to show it.": "Bản cắt đã xong. Trang sẽ tải lại để hiển thị.",
    "Download": "Tải về",
    "Something went wrong. Try again.": "Đã có lỗi. Hãy thử lại.",
    "Cut": "Bỏ",
    "frame": "khung hình",
    "The end must come after the start.": "Điểm kết thúc phải sau điểm bắt đầu.",
    "Restore the whole recording? The current cut is replaced.":
        "Khôi phục toàn bộ bản ghi? Bản cắt hiện tại sẽ được thay thế.",
}
