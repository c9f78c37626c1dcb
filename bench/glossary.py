"""Does a glossary help? Measured on a domain test and on general speech.

The domain test: 12 sentences of provincial meeting speech, full of terms a glossary would hold
("Nghị quyết", "Đảng bộ tỉnh", "Tỉnh ủy") and commune and district names of Hà Giang (from
../shared/data/admin/ha_giang_tree.csv), spoken by espeak-ng's Northern and Southern Vietnamese
voices (Debian package espeak-ng). It is synthetic speech, harder for Whisper than people; it is
only used to compare strategies with each other. General speech: ../shared/data/speech_vi.

For each strategy the script prints the WER on both sets and the share of glossary terms spoken in
the domain sentences that come out spelled exactly; the last line is a JSON object.

    .venv/bin/python bench/glossary.py [--threads 2] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transcribe.engine import transcribe_file  # noqa: E402
from transcribe.evaluate import read_references, score  # noqa: E402
from transcribe.glossary import apply_glossary, decoder_hints  # noqa: E402
from transcribe.normalize import normalize_for_scoring  # noqa: E402
from transcribe.options import DecodeOptions  # noqa: E402

SPEECH_VI = ROOT.parent / "shared" / "data" / "speech_vi"

SENTENCES = [
    "Đảng bộ tỉnh Hà Giang quán triệt Nghị quyết Đại hội lần thứ mười ba.",
    "Xã Lũng Cú và xã Thài Phìn Tủng hoàn thành kế hoạch xây dựng nông thôn mới.",
    "Hội nghị trực tuyến kết nối tới các điểm cầu huyện Đồng Văn và huyện Mèo Vạc.",
    "Ban Thường vụ Tỉnh ủy chỉ đạo thực hiện Nghị quyết số năm mươi bảy.",
    "Đồng chí Bí thư Huyện ủy Quản Bạ báo cáo kết quả sáu tháng đầu năm.",
    "Thị trấn Phó Bảng và xã Sủng Là đẩy mạnh phát triển du lịch cộng đồng.",
    "Ủy ban nhân dân huyện Yên Minh triển khai chương trình mục tiêu quốc gia.",
    "Xã Khâu Vai và xã Lũng Pù tổ chức học tập chuyên đề về tư tưởng Hồ Chí Minh.",
    "Mặt trận Tổ quốc tỉnh phối hợp với Đảng bộ tỉnh tổ chức hội nghị báo cáo viên.",
    "Huyện Hoàng Su Phì và huyện Xín Mần tăng cường công tác chuyển đổi số.",
    "Xã Cán Chu Phìn nâng cao chất lượng sinh hoạt chi bộ theo Nghị quyết.",
    "Huyện Bắc Quang hoàn thành chỉ tiêu mà Đảng bộ tỉnh giao.",
]
# What an event's glossary would hold: its terms, then the names of its sites.
GLOSSARY = [
    "Nghị quyết", "Đảng bộ tỉnh", "Tỉnh ủy", "Huyện ủy", "Ban Thường vụ", "Mặt trận Tổ quốc", "báo cáo viên",
    "điểm cầu", "nông thôn mới", "chuyển đổi số", "Hà Giang", "Lũng Cú", "Thài Phìn Tủng", "Đồng Văn",
    "Mèo Vạc", "Quản Bạ", "Phó Bảng", "Sủng Là", "Yên Minh", "Khâu Vai", "Lũng Pù", "Hoàng Su Phì", "Xín Mần",
    "Cán Chu Phìn", "Bắc Quang",
]
VOICES = ("vi", "vi-vn-x-south")
DECODE_STRATEGIES = ("none", "prompt", "hotwords")


def build_domain_set(folder: Path, voices: tuple[str, ...] = VOICES) -> Path:
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit("espeak-ng is not installed (apt-get install espeak-ng)")
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for voice in voices:
        for n, text in enumerate(SENTENCES):
            name = f"{voice}-{n:02d}.wav"
            subprocess.run([exe, "-v", voice, "-s", "135", "-w", str(folder / name), text], check=True)
            rows.append(f"{name}\t{text}")
    (folder / "transcripts.tsv").write_text("file\ttext\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return folder


def term_recall(references: list[str], hypotheses: list[str]) -> tuple[int, int]:
    said = found = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        r, h = f" {normalize_for_scoring(ref)} ", f" {normalize_for_scoring(hyp)} "
        for term in GLOSSARY:
            t = f" {normalize_for_scoring(term)} "
            if t in r:
                said += 1
                found += t in h
    return found, said


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the domain set in this folder.")
    parser.add_argument("--voices", default=",".join(VOICES), help="espeak-ng voices (comma-separated)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="glossary-bench-") as tmp:
        domain_dir = build_domain_set(args.keep or Path(tmp) / "domain", tuple(args.voices.split(",")))
        sets = {"domain": read_references(domain_dir), "speech_vi": read_references(SPEECH_VI)}
        hyps: dict[str, dict[str, list[str]]] = {}
        t0 = time.perf_counter()
        for strategy in DECODE_STRATEGIES:
            options = DecodeOptions(decoder="sequential", **decoder_hints(GLOSSARY, strategy))
            for name, refs in sets.items():
                out, corrected = [], []
                for ref in refs:
                    tr = transcribe_file(ref.path, options=options, device="cpu", compute_type="int8",
                                         cpu_threads=args.threads)
                    out.append(tr.text)
                    corrected.append(apply_glossary(tr, GLOSSARY).text)
                hyps.setdefault(strategy, {})[name] = out
                hyps.setdefault(f"{strategy}+correct" if strategy != "none" else "correct", {})[name] = corrected
                print(f"  decoded {name} with {strategy} ({time.perf_counter() - t0:.0f} s)", flush=True)
        wall = time.perf_counter() - t0
    results = {}
    for strategy, by_set in hyps.items():
        row = {}
        for name, refs in sets.items():
            s = score([r.text for r in refs], by_set[name])
            row[name] = {"wer": s.wer, "errors": s.errors, "words": s.words}
        found, said = term_recall([r.text for r in sets["domain"]], by_set["domain"])
        row["domain"]["terms_exact"] = round(found / said, 4) if said else None
        results[strategy] = row
        print(f"{strategy:18s} domain WER {row['domain']['wer']:.4f} terms {found}/{said}  "
              f"speech_vi WER {row['speech_vi']['wer']:.4f} ({row['speech_vi']['errors']} errors)", flush=True)
    base = results["none"]
    for row in results.values():
        row["domain"]["wer_change_points"] = round(100 * (row["domain"]["wer"] - base["domain"]["wer"]), 2)
        row["speech_vi"]["wer_change_points"] = round(100 * (row["speech_vi"]["wer"] - base["speech_vi"]["wer"]), 2)
    print(json.dumps({"strategies": results, "glossary_terms": len(GLOSSARY), "domain_files": len(sets["domain"]),
                      "decoder": "sequential beam 5 + VAD", "threads": args.threads, "wall_s": round(wall, 1),
                      "loadavg_before": [round(x, 2) for x in load_before],
                      "loadavg_after": [round(x, 2) for x in os.getloadavg()]}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
