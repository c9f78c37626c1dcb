"""The supervisord config `diemcau up` generates: one program per Procfile line (the Procfile stays the
one list of processes), the private Redis only when no REDIS_URL is set, each restarted on its own
with its whole process group, and a config supervisord itself accepts."""
from __future__ import annotations

import configparser

from orchestrator.supervision import PROCFILE, procfile_commands, programs, supervisord_config


def test_every_procfile_process_becomes_a_restarting_program(tmp_path):
    names = list(procfile_commands(PROCFILE))
    assert names == ["web", "worker", "asr", "media", "scheduler"]
    text = supervisord_config(tmp_path, programs(["/usr/bin/redis-server", "x.conf"]))
    config = configparser.RawConfigParser()
    config.read_string(text)
    assert [s for s in config.sections() if s.startswith("program:")] == \
        ["program:redis", *(f"program:{n}" for n in names)]
    for name in ["redis", *names]:
        program = config[f"program:{name}"]
        assert program["autorestart"] == "true"
        assert program["stopasgroup"] == program["killasgroup"] == "true"
        assert program["stdout_logfile"] == str(tmp_path / "logs" / f"{name}.log")
    assert config["program:redis"]["umask"] == "077"
    assert int(config["program:redis"]["priority"]) < int(config["program:web"]["priority"])
    assert "${DIEMCAU_WEB_PORT:-5000}" in config["program:web"]["command"]


def test_no_redis_program_when_redis_url_is_configured(tmp_path):
    assert "program:redis" not in supervisord_config(tmp_path, programs(None))


def test_supervisord_accepts_the_generated_config(tmp_path):
    from supervisor.options import ServerOptions

    path = tmp_path / "supervisor" / "supervisord.conf"
    path.parent.mkdir()
    (tmp_path / "logs").mkdir()
    path.write_text(supervisord_config(tmp_path, programs(["/usr/bin/redis-server", "x.conf"])))
    options = ServerOptions()
    options.realize(args=["-c", str(path)])  # supervisord's own parser: exits on a bad config
    groups = {group.name: group.process_configs[0] for group in options.process_group_configs}
    assert set(groups) == {"redis", "web", "worker", "asr", "media", "scheduler"}
    assert groups["worker"].command == "/bin/sh -c 'exec diemcau worker --no-scheduler media publish default'"
    assert groups["web"].stopasgroup and groups["web"].killasgroup
