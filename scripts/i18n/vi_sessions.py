"""Vietnamese translations: login throttling, changing one's password, the password policy."""
# ruff: noqa: E501
VI = {
    "Too many wrong passwords for this account or from this address. Wait a minute, then try again.":
        "Quá nhiều lần nhập sai mật khẩu cho tài khoản này hoặc từ địa chỉ này. Hãy chờ một phút rồi thử lại.",
    "Too many people are logging in right now. Try again in a moment.":
        "Đang có quá nhiều người đăng nhập cùng lúc. Hãy thử lại sau giây lát.",
    "The new password must have at least %(n)s characters.": "Mật khẩu mới phải có ít nhất %(n)s ký tự.",
    "This password is one of the most used ones; choose another.":
        "Mật khẩu này quá phổ biến (nằm trong danh sách mật khẩu hay bị dùng); hãy chọn mật khẩu khác.",
    "The password must not contain the username.": "Mật khẩu không được chứa tên đăng nhập.",
    "The two new passwords differ.": "Hai lần nhập mật khẩu mới không khớp nhau.",
    "The current password is wrong.": "Mật khẩu hiện tại không đúng.",
    "Your password was changed. You were logged out everywhere else.":
        "Đã đổi mật khẩu. Mọi phiên đăng nhập khác của bạn đã bị đăng xuất.",
    "Change my password": "Đổi mật khẩu",
    "Current password": "Mật khẩu hiện tại",
    "New password": "Mật khẩu mới",
    "New password again": "Nhập lại mật khẩu mới",
    "At least %(n)s characters, not one of the most used passwords. Every other session of yours ends.":
        "Ít nhất %(n)s ký tự, không phải mật khẩu hay bị dùng. Mọi phiên đăng nhập khác của bạn sẽ kết thúc.",
}
