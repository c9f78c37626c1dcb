"""Vietnamese translations: malformed input, size limits, error pages, outbound address checks."""
# ruff: noqa: E501
VI = {
    "The request contains a character that is not allowed (a NUL byte). Remove it and try again.":
        "Yêu cầu có ký tự không được phép (byte NUL). Hãy xóa ký tự đó và thử lại.",
    "The data is nested too deeply.": "Dữ liệu lồng nhau quá nhiều cấp.",
    "A number in the data is out of range.": "Một số trong dữ liệu nằm ngoài phạm vi cho phép.",
    "The data sent is not valid JSON.": "Dữ liệu gửi lên không phải JSON hợp lệ.",
    "The data sent must be a JSON object.": "Dữ liệu gửi lên phải là một đối tượng JSON.",
    "The data sent is too large.": "Dữ liệu gửi lên quá lớn.",
    "The request could not be understood. Check what you entered and try again.":
        "Không hiểu được yêu cầu. Hãy kiểm tra thông tin đã nhập và thử lại.",
    "This action is not allowed here.": "Không được phép thực hiện thao tác này ở đây.",
    "This kind of data is not accepted here.": "Loại dữ liệu này không được chấp nhận ở đây.",
    "The request could not be completed.": "Không thể hoàn tất yêu cầu.",
}
VI.update({
    "This site does not exist.": "Điểm cầu này không tồn tại.",
    "Choose a file to import.": "Hãy chọn tệp để nhập.",
    "«from» and «to» must be ISO 8601 times with a UTC offset, between the years 1900 and 2200.":
        "«from» và «to» phải là thời điểm ISO 8601 có độ lệch múi giờ, trong khoảng năm 1900 đến 2200.",
    "is required": "là bắt buộc",
    "is too long (%(max)s at most)": "quá dài (tối đa %(max)s)",
    "is out of range": "nằm ngoài phạm vi cho phép",
    "must be a whole number": "phải là số nguyên",
    "must be true or false": "phải là true hoặc false",
    "must be a list": "phải là một danh sách",
    "must be text": "phải là văn bản",
    "must be one of: %(choices)s": "phải là một trong: %(choices)s",
    "must be a date and time between the years %(first)s and %(last)s":
        "phải là ngày giờ trong khoảng năm %(first)s đến %(last)s",
    "is not valid": "không hợp lệ",
    "The field «%(field)s» %(reason)s.": "Trường «%(field)s» %(reason)s.",
})
VI.update({
    "The address %(url)s is not allowed: it is not a public internet address (%(reason)s). "
    "An intranet server must be listed in DIEMCAU_OUTBOUND_ALLOW.":
        "Địa chỉ %(url)s không được phép: đây không phải là địa chỉ Internet công cộng (%(reason)s). "
        "Máy chủ trong mạng nội bộ phải được khai báo trong DIEMCAU_OUTBOUND_ALLOW.",
    "The address %(url)s could not be found. Check the host name.":
        "Không tìm thấy địa chỉ %(url)s. Hãy kiểm tra tên máy chủ.",
    "The channel's address is not a public internet address, so the server does not connect to it. "
    "An administrator can allow an intranet server with DIEMCAU_OUTBOUND_ALLOW.":
        "Địa chỉ của kênh không phải là địa chỉ Internet công cộng nên máy chủ không kết nối tới. "
        "Quản trị viên có thể cho phép máy chủ nội bộ bằng DIEMCAU_OUTBOUND_ALLOW.",
})
