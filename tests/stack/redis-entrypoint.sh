#!/bin/sh
# As the official redis image does: a bare `redis-server ...` runs with protected mode off.
set -eu
if [ "$1" = redis-server ]; then
  shift
  exec redis-server --protected-mode no "$@"
fi
exec "$@"
