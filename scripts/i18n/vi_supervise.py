"""Vietnamese translations: supervision (a restarting Redis, uploads while the job queue is away)."""
# ruff: noqa: E501
VI = {
    "The job and live service is restarting. Wait a few seconds and reload the page.":
        "Dịch vụ xử lý và truyền trực tiếp đang khởi động lại. Hãy đợi vài giây rồi tải lại trang.",
    "The file was saved. Processing will start by itself as soon as the job queue is back; do not upload it again.":
        "Tệp đã được lưu. Việc xử lý sẽ tự bắt đầu ngay khi hàng đợi công việc hoạt động trở lại; không cần tải lên lại.",
}
