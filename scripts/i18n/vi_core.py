"""Vietnamese translations: foundation (auth, upload, pipeline, portal)."""
# ruff: noqa: E501
VI = {
    "Wrong username or password.": "Sai tên đăng nhập hoặc mật khẩu.",
    "The form has expired. Reload the page and try again.": "Biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại.",
    "Limit: %(mb)s MB.": "Giới hạn: %(mb)s MB.",
    "Please log in to open this page.": "Vui lòng đăng nhập để mở trang này.",
    "You do not have permission to open this page.": "Bạn không có quyền mở trang này.",
    "This page does not exist.": "Trang này không tồn tại.",
    "This link has expired. Open the page again to get a new one.":
        "Liên kết đã hết hạn. Hãy mở lại trang để nhận liên kết mới.",
    "The file is empty (0 bytes). Choose the video file again.": "Tệp rỗng (0 byte). Hãy chọn lại tệp video.",
    "This file is not a video or audio file that can be read. Check that you chose the right file.":
        "Tệp này không phải là tệp video hoặc âm thanh đọc được. Hãy kiểm tra xem đã chọn đúng tệp chưa.",
    "The file is incomplete or damaged (the upload or copy may have been cut off). "
    "Copy it again from the camera or recorder and upload it again.":
        "Tệp bị thiếu hoặc hỏng (có thể việc sao chép hoặc tải lên bị ngắt giữa chừng). "
        "Hãy chép lại từ máy quay hoặc máy ghi và tải lên lần nữa.",
    "The file has neither sound nor picture.": "Tệp không có cả âm thanh lẫn hình ảnh.",
    "The file uses a video or audio format that cannot be processed. Export it as MP4 (H.264/AAC) and upload it again.":
        "Tệp dùng định dạng hình hoặc tiếng không xử lý được. Hãy xuất lại thành MP4 (H.264/AAC) rồi tải lên.",
    "The picture size of this video is too large to process.": "Kích thước khung hình của video quá lớn để xử lý.",
    "Converting the video failed. The file may be damaged.": "Chuyển đổi video thất bại. Tệp có thể đã bị hỏng.",
    "The sound track cannot be read, so no subtitles could be made.":
        "Không đọc được phần âm thanh nên không tạo được phụ đề.",
    "The speech recognition model is not installed. Ask the administrator.":
        "Chưa cài mô hình nhận dạng giọng nói. Hãy báo quản trị viên.",
    "The speech recognition model is damaged. Ask the administrator to reinstall it.":
        "Mô hình nhận dạng giọng nói bị hỏng. Hãy nhờ quản trị viên cài lại.",
    "The file is larger than the allowed upload size.": "Tệp vượt quá dung lượng tải lên cho phép.",
    "Choose a file to upload.": "Hãy chọn một tệp để tải lên.",
    "An internal error occurred. The technicians have been notified; you can retry this step.":
        "Đã xảy ra lỗi nội bộ. Bộ phận kỹ thuật đã được báo; bạn có thể thử lại bước này.",
    "A temporary error occurred; the step will be retried automatically.":
        "Đã xảy ra lỗi tạm thời; bước này sẽ được tự động thử lại.",
    "An error occurred (%(code)s).": "Đã xảy ra lỗi (%(code)s).",
    "Scheduled": "Đã lên lịch", "Live": "Đang diễn ra", "Ended": "Đã kết thúc", "Processing": "Đang xử lý",
    "Ready": "Sẵn sàng", "Published": "Đã xuất bản", "Cancelled": "Đã hủy", "Failed": "Lỗi",
    "Waiting": "Đang chờ", "Queued": "Trong hàng đợi", "Running": "Đang chạy", "Done": "Xong",
    "Skipped": "Bỏ qua", "Processing steps": "Các bước xử lý",
    "Check file": "Kiểm tra tệp", "Convert video": "Chuyển đổi video", "Subtitles": "Phụ đề",
    "Publish to portal": "Xuất bản lên cổng thông tin",
    "Recordings": "Bản ghi", "Upload": "Tải lên", "Queues": "Hàng đợi", "Portal": "Cổng thông tin",
    "Log out": "Đăng xuất", "Log in": "Đăng nhập", "Username": "Tên đăng nhập", "Password": "Mật khẩu",
    "Remember me": "Ghi nhớ đăng nhập", "Back to the home page": "Về trang chủ",
    "Upload a video": "Tải video lên", "Title": "Tiêu đề", "Duration": "Thời lượng", "Status": "Trạng thái",
    "Uploaded": "Ngày tải lên", "No recordings yet.": "Chưa có bản ghi nào.", "Retry": "Thử lại",
    "Open on the portal": "Xem trên cổng thông tin",
    "The connection was lost during the upload. Check the network and try again.":
        "Mất kết nối trong khi tải lên. Hãy kiểm tra mạng và thử lại.",
    "Uploading…": "Đang tải lên…", "Checking the file…": "Đang kiểm tra tệp…",
    "e.g. Report on Resolution 57": "ví dụ: Báo cáo chuyên đề Nghị quyết 57",
    "Spoken language": "Ngôn ngữ nói", "Detect from the recording": "Tự nhận dạng từ bản ghi",
    "Media node (relay) serving this site and the sites below it":
        "Máy chủ truyền hình (nút chuyển tiếp) phục vụ điểm cầu này và các điểm cầu cấp dưới",
    "Empty: the node of the site above it. Its join pages now play from %(node)s.":
        "Để trống: dùng máy chủ của điểm cầu cấp trên. Trang tham gia của điểm cầu này hiện phát từ %(node)s.",
    "The media node must be an address such as https://relay-district.example.vn:8089, or empty.":
        "Địa chỉ máy chủ truyền hình phải có dạng https://relay-huyen.example.vn:8089, hoặc để trống.",
    "Choose the spoken language from the list.": "Hãy chọn ngôn ngữ nói trong danh sách.",
    "Drag a video or audio file here, or click to choose one.":
        "Kéo tệp video hoặc âm thanh vào đây, hoặc bấm để chọn tệp.",
    "Up to %(mb)s MB. MP4, MOV, MKV, MPEG, WebM, MP3, WAV…": "Tối đa %(mb)s MB. MP4, MOV, MKV, MPEG, WebM, MP3, WAV…",
    "The video cannot be played right now. Reload the page to try again.":
        "Hiện không phát được video. Hãy tải lại trang để thử lại.",
    "%(n)s views": "%(n)s lượt xem", "Transcript": "Lời thoại", "Videos": "Video",
    "Latest videos": "Video mới nhất", "No videos have been published yet.": "Chưa có video nào được xuất bản.",
}
