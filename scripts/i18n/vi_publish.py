"""Vietnamese translations: publishing (channels, editor approval, speakers' downloads, portal)."""
# ruff: noqa: E501
VI = {
    # channel settings and credential fields
    "Privacy": "Chế độ hiển thị",
    "Category id": "Mã danh mục",
    "Upload chunk (KiB, multiple of 256)": "Kích thước mỗi phần tải lên (KiB, bội số của 256)",
    "API address (leave empty)": "Địa chỉ API (để trống)",
    "OAuth token address (leave empty)": "Địa chỉ cấp token OAuth (để trống)",
    "OAuth client id": "OAuth client ID",
    "OAuth client secret": "OAuth client secret",
    "Refresh token": "Refresh token",
    "Upload chunk (MB, 5–64)": "Kích thước mỗi phần tải lên (MB, 5–64)",
    "Client key": "Client key",
    "Client secret": "Client secret",
    "Page id": "ID Trang (Page)",
    "App id": "ID ứng dụng (App ID)",
    "Graph API version": "Phiên bản Graph API",
    "Graph API address (leave empty)": "Địa chỉ Graph API (để trống)",
    "Graph video address (leave empty)": "Địa chỉ Graph video (để trống)",
    "User access token (uploads)": "Access token người dùng (để tải lên)",
    "Page access token": "Access token của Trang",
    "OAuth address (leave empty)": "Địa chỉ OAuth (để trống)",
    "App secret key": "Khóa bí mật ứng dụng (secret key)",
    "Site address": "Địa chỉ trang web",
    "User name": "Tên đăng nhập",
    "Application password": "Mật khẩu ứng dụng (Application Password)",
    # channels admin
    "Enter the expiry as a date.": "Hãy nhập ngày hết hạn theo dạng ngày tháng.",
    "Channel saved.": "Đã lưu kênh.",
    "The channel answered: the credentials work.": "Kênh đã phản hồi: thông tin đăng nhập hoạt động tốt.",
    "Channels": "Kênh phát hành",
    "Enabled": "Đang bật",
    "Disabled": "Đang tắt",
    "Settings": "Cài đặt",
    "Credentials": "Thông tin đăng nhập",
    "Stored encrypted. They are never shown again: leave a field empty to keep the stored value.":
        "Được lưu đã mã hóa và không bao giờ hiển thị lại: để trống một ô để giữ nguyên giá trị đã lưu.",
    "not set": "chưa đặt",
    "Login expires on (warn before)": "Thông tin đăng nhập hết hạn ngày (cảnh báo trước)",
    "Test the connection": "Kiểm tra kết nối",
    "Last test": "Lần kiểm tra gần nhất",
    "works": "hoạt động",
    "failed": "thất bại",
    "Login expires": "Hết hạn đăng nhập",
    "Expired": "Đã hết hạn",
    "Expires soon": "Sắp hết hạn",
    "Add a channel": "Thêm kênh",
    # publication statuses
    "Not published": "Chưa phát hành",
    "Uploading": "Đang tải lên",
    "Processing on the channel": "Kênh đang xử lý",
    "Retrying": "Đang thử lại",
    "Removing": "Đang gỡ",
    "Removed": "Đã gỡ",
    # publishing errors
    "The channel's upload quota or rate limit is used up. Try again later (YouTube quotas reset daily).":
        "Kênh đã dùng hết hạn mức tải lên hoặc giới hạn số lần gọi. Hãy thử lại sau (hạn mức YouTube được đặt lại mỗi ngày).",
    "The channel's login has expired or was revoked. An administrator must renew the credentials in Channels, then retry.":
        "Thông tin đăng nhập của kênh đã hết hạn hoặc bị thu hồi. Quản trị viên cần gia hạn trong mục Kênh phát hành, sau đó thử lại.",
    "The channel rejected the video file (format, size or length). Choose another rendition or a shorter cut.":
        "Kênh từ chối tệp video (định dạng, dung lượng hoặc độ dài). Hãy chọn bản video khác hoặc bản cắt ngắn hơn.",
    "The account has no permission to post there. Check the channel's permissions.":
        "Tài khoản không có quyền đăng lên kênh này. Hãy kiểm tra quyền của kênh.",
    "The channel is not configured completely. An administrator must check it in Channels.":
        "Kênh chưa được cấu hình đầy đủ. Quản trị viên cần kiểm tra trong mục Kênh phát hành.",
    "The channel could not be reached. The upload resumes automatically where it stopped.":
        "Không kết nối được tới kênh. Việc tải lên sẽ tự động tiếp tục từ chỗ bị dừng.",
    "The channel reported an error. Retry; if it happens again, see the details.":
        "Kênh báo lỗi. Hãy thử lại; nếu vẫn lỗi, xem phần chi tiết.",
    "The channel is still processing the video; the status is checked again later.":
        "Kênh vẫn đang xử lý video; trạng thái sẽ được kiểm tra lại sau.",
    "There is no video file to publish yet: wait until processing has finished.":
        "Chưa có tệp video để phát hành: hãy chờ xử lý xong.",
    "This channel does not allow removing posts through its API: remove it in the app.":
        "Kênh này không cho phép gỡ bài qua API: hãy gỡ trực tiếp trong ứng dụng.",
    "The post no longer exists on the channel.": "Bài đăng không còn trên kênh.",
    "An internal error occurred; the step will be retried.": "Đã xảy ra lỗi nội bộ; bước này sẽ được thử lại.",
    "Confidential events are never published.": "Sự kiện mật không bao giờ được phát hành.",
    "This channel is disabled.": "Kênh này đang tắt.",
    # editor approval page
    "Choose at least one channel.": "Hãy chọn ít nhất một kênh.",
    "Enter the schedule as a date and time.": "Hãy nhập thời điểm phát hành theo dạng ngày và giờ.",
    "Approved: one publishing job per channel was started.": "Đã duyệt: mỗi kênh đã có một tác vụ phát hành.",
    "Nothing to retry.": "Không có gì để thử lại.",
    "Only published clips can be removed.": "Chỉ gỡ được video đã phát hành.",
    "Publish to channels": "Phát hành lên các kênh",
    "Publish": "Phát hành",
    "The login of channel “%(name)s” has expired: publishing there will fail until an administrator renews it.":
        "Thông tin đăng nhập của kênh “%(name)s” đã hết hạn: phát hành lên kênh này sẽ thất bại cho tới khi quản trị viên gia hạn.",
    "The login of channel “%(name)s” expires on %(when)s: renew it before then.":
        "Thông tin đăng nhập của kênh “%(name)s” hết hạn vào %(when)s: hãy gia hạn trước thời điểm đó.",
    "No channel is configured. An administrator adds them under Channels.":
        "Chưa có kênh nào. Quản trị viên thêm kênh trong mục Kênh phát hành.",
    "Details": "Chi tiết",
    "Video": "Video",
    "No video file yet": "Chưa có tệp video",
    "Visibility": "Chế độ hiển thị",
    "Public": "Công khai",
    "Unlisted": "Không công khai (có liên kết)",
    "Private": "Riêng tư",
    "Publish at (empty: now)": "Phát hành lúc (để trống: ngay)",
    "Allow viewers to download the video": "Cho phép người xem tải video",
    "Unpublish": "Gỡ xuống",
    "Approve and publish": "Duyệt và phát hành",
    # speakers
    "My recordings": "Bản ghi của tôi",
    "Recording": "Bản ghi",
    "Downloads": "Tải về",
    "Still processing: the files appear here when they are ready.": "Đang xử lý: các tệp sẽ hiện ở đây khi sẵn sàng.",
    "Download links are valid for a few minutes; open this page again for new ones.":
        "Liên kết tải về chỉ có hiệu lực vài phút; hãy mở lại trang này để nhận liên kết mới.",
    "You have no recordings yet.": "Bạn chưa có bản ghi nào.",
    # public portal
    "Video: %(title)s": "Video: %(title)s",
    "Off": "Tắt",
    "Share": "Chia sẻ",
    "Copy link": "Sao chép liên kết",
    "Share…": "Chia sẻ…",
    "Download video": "Tải video",
    "Link": "Liên kết",
    "Embed code": "Mã nhúng",
    "Copy embed code": "Sao chép mã nhúng",
    "Copied": "Đã sao chép",
    "Click a line to jump to that moment.": "Bấm vào một dòng để chuyển tới thời điểm đó.",
    "Skip to content": "Bỏ qua, tới nội dung",
    "Search videos": "Tìm video",
    "Sitemap": "Sơ đồ trang",
    "%(n)s results for “%(q)s”": "%(n)s kết quả cho “%(q)s”",
}
