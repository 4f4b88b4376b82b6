#!/usr/bin/env bash
# Starts nginx with the Nchan module (Debian's nginx-light and
# libnginx-mod-nchan) on 127.0.0.1:PORT with a private prefix DIR, in the
# foreground of a single process (no daemon, no master), so the caller owns
# it by its PID and can pin it to a core:
#
#   tools/bench/nchan.sh PORT DIR [CPU]     # prints the PID, returns once listening
#
# Channels: POST /pub/CHANNEL publishes (the message buffer holds 200,000
# messages for an hour, so Last-Event-ID resume reaches that far back);
# GET /sub/CHANNEL subscribes: EventSource with Accept: text/event-stream,
# WebSocket on an upgrade. Stop it with kill PID.
set -euo pipefail
port="$1"; dir="$2"; cpu="${3:-}"
module=/usr/lib/nginx/modules/ngx_nchan_module.so
if [ ! -f "$module" ] || ! command -v nginx >/dev/null; then
  echo "nchan.sh: needs Debian's nginx-light and libnginx-mod-nchan" >&2
  exit 2
fi
mkdir -p "$dir/logs" "$dir/tmp"
cat > "$dir/nginx.conf" <<CONF
load_module $module;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 200000;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 100000; multi_accept on; }
http {
  keepalive_requests 100000000;
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  nchan_max_reserved_memory 1024M;
  server {
    listen 127.0.0.1:$port backlog=65535;
    location ~ ^/pub/(\w+)\$ {
      nchan_publisher;
      nchan_channel_id \$1;
      nchan_message_buffer_length 200000;
      nchan_message_timeout 1h;
    }
    location ~ ^/sub/(\w+)\$ {
      nchan_subscriber websocket eventsource;
      nchan_channel_id \$1;
    }
  }
}
CONF
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ -n "$cpu" ]; then
  taskset -c "$cpu" nginx -p "$dir" -c "$dir/nginx.conf" > "$dir/logs/stdout.log" 2>&1 &
else
  nginx -p "$dir" -c "$dir/nginx.conf" > "$dir/logs/stdout.log" 2>&1 &
fi
pid=$!
for _ in $(seq 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/pub/probe" -X POST -d probe 2>/dev/null; then
    echo "$pid"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.05
done
echo "nchan.sh: nginx did not start:" >&2
cat "$dir/logs/error.log" "$dir/logs/stdout.log" >&2 || true
kill "$pid" 2>/dev/null || true
exit 1
