"""Vietnamese translations: refusing playlists and other files that point at other files."""
# ruff: noqa: E501
VI = {
    "This file is a playlist or a list of other files (such as .m3u8), not a recording. Upload the video or audio file itself, for example the MP4.":
        "Tệp này là danh sách phát hoặc danh sách trỏ tới các tệp khác (như .m3u8), không phải bản ghi hình hay ghi âm. Hãy tải lên chính tệp video hoặc âm thanh, ví dụ tệp MP4.",
}
