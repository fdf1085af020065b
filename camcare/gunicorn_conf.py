"""gunicorn settings for production (`scripts/serve`, `make serve`).

Read by gunicorn itself (`gunicorn -c camcare/gunicorn_conf.py`), so only the environment
is at hand here, not Django's settings. Every knob has a production default:

  CAMCARE_BIND      host:port to listen on (default 127.0.0.1:8000, behind a TLS proxy)
  CAMCARE_WORKERS   worker processes (default 4; about 2 x cores is the usual start)
  CAMCARE_THREADS   threads per worker (default 4): requests one worker serves at once
  CAMCARE_TIMEOUT   seconds a worker may stay silent before it is killed (default 30)
"""

import os

wsgi_app = "camcare.wsgi:application"
bind = [os.environ.get("CAMCARE_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("CAMCARE_WORKERS", 4))

# Django is imported and set up once, in the master, before the workers fork: they boot at
# once, share its memory, and a broken configuration stops the master with its traceback
# instead of workers failing to boot one after another. Safe because nothing opens a
# database connection at import (connections are per thread, opened on first use).
preload_app = True

# gthread, not sync: a sync worker that streams a long response (a ZIP of a camera's
# clips, a video played to the end) stops heartbeating and is killed after `timeout`;
# a gthread worker's main loop keeps beating while its threads send.
worker_class = "gthread"
threads = int(os.environ.get("CAMCARE_THREADS", 4))

# Seconds. `timeout` only catches a worker whose main loop is stuck; SIGTERM (systemd,
# docker stop) stops accepting, lets requests in flight finish for `graceful_timeout`,
# then kills what is left. `keepalive`: an idle connection waits in the worker's poller,
# not in a thread, so a few seconds cost nothing; a proxy that keeps upstream connections
# should close them sooner than this, so that it never sends on one gunicorn is closing.
timeout = int(os.environ.get("CAMCARE_TIMEOUT", 30))
graceful_timeout = 30
keepalive = 5

# The application answers every request itself, with its own error body (the API's
# {code, message, reference} JSON, the portal's page with a reference), never gunicorn's
# bare HTML 414/431. 0 = no request-line limit of gunicorn's own (its optional C parser,
# gunicorn_h1c, caps a line at 1 MiB); the TLS proxy in front bounds what a client may
# send. Headers: 256 fields of up to 32 KiB each (4x nginx's default buffer, more than any
# browser sends). Note gunicorn maps 0 for the field size to its 8190-byte default.
limit_request_line = 0
limit_request_fields = 256
limit_request_field_size = 32 * 1024

# One line per request on stdout (the journal or the container's log), errors on stderr.
# %(M)s is the time taken in milliseconds.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
loglevel = os.environ.get("CAMCARE_GUNICORN_LOG_LEVEL", "info")

proc_name = "camcare"

# The heartbeat file is touched every second per worker; on a disk-backed /tmp (docker's
# overlayfs) that can block a worker, /dev/shm is memory.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl),
# so two servers of one user (parallel tests, a staging next to production) would fight
# over it; nothing here uses gunicornc.
control_socket_disable = True
