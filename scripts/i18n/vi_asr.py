"""Vietnamese translations: transcription, the transcript editor, transcript search."""
# ruff: noqa: E501
VI = {
    # editor: messages
    "The subtitles could not be read. Reload the page and try again.":
        "Không đọc được phụ đề gửi lên. Hãy tải lại trang rồi thử lại.",
    "There are too many cues to save at once.": "Có quá nhiều câu phụ đề để lưu một lần.",
    "Cue %(n)s has a wrong time: the end must be after the start, within the video.":
        "Câu phụ đề %(n)s có thời gian sai: thời điểm kết thúc phải sau thời điểm bắt đầu và nằm trong độ dài video.",
    "Cue %(n)s has no text. Type its text or delete the cue.":
        "Câu phụ đề %(n)s chưa có chữ. Hãy gõ nội dung hoặc xoá câu này.",
    "Cue %(n)s is too long. Split it into shorter cues.": "Câu phụ đề %(n)s quá dài. Hãy tách thành các câu ngắn hơn.",
    "Cue %(n)s starts before the previous cue ends. Correct the times.":
        "Câu phụ đề %(n)s bắt đầu trước khi câu trước kết thúc. Hãy sửa lại thời gian.",
    "Someone else saved this transcript meanwhile (version %(v)s). Reload the page to see their changes; copy your text first if you need it.":
        "Trong lúc bạn sửa, người khác đã lưu bản ghi lời này (phiên bản %(v)s). Hãy tải lại trang để xem thay đổi của họ; nếu cần, hãy sao chép phần bạn đã sửa trước.",
    "The transcript could not be saved (%(code)s).": "Không lưu được bản ghi lời (%(code)s).",
    "automatic": "tự động",
    "edited": "đã sửa",
    "This recording has no transcript yet. Wait until the subtitles step is done.":
        "Bản ghi này chưa có lời thoại. Hãy chờ bước làm phụ đề hoàn tất.",
    "Saved as version %(v)s. The subtitles were updated.": "Đã lưu thành phiên bản %(v)s. Phụ đề đã được cập nhật.",
    "Glossary saved (%(n)s terms). It is used the next time this event is transcribed.":
        "Đã lưu bảng thuật ngữ (%(n)s mục). Bảng này được dùng cho lần nhận dạng giọng nói tiếp theo của sự kiện.",
    # editor: page
    "Back to the recording": "Quay lại bản ghi",
    "Language": "Ngôn ngữ",
    "The video is not ready yet: you can edit the text, but not play it.":
        "Video chưa sẵn sàng: bạn vẫn sửa được chữ nhưng chưa phát được video.",
    "Undo": "Hoàn tác",
    "Click a cue to jump to it in the video. Click the text to edit it; times are minutes:seconds.":
        "Bấm vào một câu để tua video tới đó. Bấm vào chữ để sửa; thời gian ghi theo phút:giây.",
    "Highlighted": "Những từ tô màu",
    "words are ones the recogniser was unsure of.": "là từ máy nhận dạng chưa chắc chắn.",
    "Versions": "Các phiên bản",
    "Glossary for speech recognition": "Bảng thuật ngữ cho nhận dạng giọng nói",
    "Names and terms of this event, one per line (people, places, resolutions).":
        "Tên riêng và thuật ngữ của sự kiện, mỗi dòng một mục (người, địa danh, nghị quyết).",
    "Used now (with the series and the sites):": "Đang dùng (kể cả của chuỗi sự kiện và các điểm cầu):",
    "Save glossary": "Lưu bảng thuật ngữ",
    "Cues": "Các câu phụ đề",
    "No speech was found in this recording.": "Không tìm thấy lời nói trong bản ghi này.",
    "Add a cue at the end": "Thêm một câu ở cuối",
    "Start": "Bắt đầu",
    "End": "Kết thúc",
    "Play from here": "Phát từ đây",
    "Delete this cue": "Xoá câu này",
    "Add a cue after this one": "Thêm một câu sau câu này",
    "Saving…": "Đang lưu…",
    "Unsaved changes": "Có thay đổi chưa lưu",
    "Write a time such as 1:05.250": "Hãy ghi thời gian dạng 1:05.250",
    "Open this version": "Mở phiên bản này",
    "Replace your unsaved changes with this version?": "Thay các thay đổi chưa lưu của bạn bằng phiên bản này?",
    "current": "hiện hành",
    "Version %(v)s opened. Save to make it the current version.":
        "Đã mở phiên bản %(v)s. Bấm Lưu để dùng nó làm phiên bản hiện hành.",
    "You have unsaved changes.": "Bạn có thay đổi chưa lưu.",
    "The server could not be reached. Your changes are still here; try again.":
        "Không kết nối được máy chủ. Các thay đổi của bạn vẫn còn; hãy thử lại.",
    "New text": "Nội dung mới",
    "by": "bởi",
    "Edit the text of this cue": "Sửa chữ của câu này",
    "Edit the transcript": "Sửa lời thoại và phụ đề",
    # search
    "Words spoken in the videos are found with or without accents (e.g. “nghi quyet”).":
        "Tìm theo lời nói trong video, gõ có dấu hay không dấu đều được (ví dụ “nghi quyet”).",
    "Also in titles and descriptions": "Có trong tiêu đề và mô tả",
    "No video says “%(q)s”. Try fewer or other words.": "Không video nào có “%(q)s”. Hãy thử ít từ hơn hoặc từ khác.",
}
