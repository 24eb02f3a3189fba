"""`flask serve`'s supervisord configuration: what runs, restarted, and in which order it stops."""
import configparser

from portal import supervise


def parsed(plan: supervise.Plan) -> configparser.RawConfigParser:
    conf = configparser.RawConfigParser()
    conf.read_string(supervise.supervisord_conf(plan, python="/venv/bin/python"))
    return conf


def plan(**kw) -> supervise.Plan:
    return supervise.Plan(**{"instance_path": "/srv/instance", "host": "127.0.0.1", "port": 5000, "workers": 3,
                             "web_workers": 2, "web_threads": 4, **kw})


def test_gunicorn_the_workers_and_the_scheduler_run_restarted_and_stop_together():
    conf = parsed(plan())
    assert conf.sections() == ["supervisord", "program:worker", "program:scheduler", "program:web", "group:portal"]
    for name in ("worker", "scheduler", "web"):
        section = conf[f"program:{name}"]
        assert (section["autorestart"], section["startretries"], section["stopwaitsecs"]) == ("true", "1000", "3")
    assert conf["program:web"]["command"].startswith("/venv/bin/python -m gunicorn --bind 127.0.0.1:5000 "
                                                     "--workers 2 --threads 4 ")
    assert conf["program:worker"]["numprocs"] == "3"
    assert conf["program:worker"]["command"] == "/venv/bin/python -m flask --app app worker"
    assert conf["group:portal"]["programs"] == "worker,scheduler,web"


def test_the_embedded_redis_runs_first_and_stops_last_only_when_there_is_no_redis_url(tmp_path):
    embedded = plan(instance_path=str(tmp_path), redis_server="/bin/redis-server")
    conf = parsed(embedded)
    assert conf["program:redis"]["command"] == f"/bin/redis-server {tmp_path}/redis.conf"
    assert int(conf["program:redis"]["priority"]) < int(conf["group:portal"]["priority"])
    path = supervise.write(embedded, python="/venv/bin/python")
    assert path == str(tmp_path / "supervisord.conf")
    redis_conf = (tmp_path / "redis.conf").read_text()
    assert f"unixsocket {tmp_path}/redis.sock" in redis_conf and "port 0" in redis_conf
    assert embedded.redis_url == f"unix://{tmp_path}/redis.sock"
