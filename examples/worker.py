#!/usr/bin/env python3
"""A pull-mode edgeloop worker, standard library only: python3 worker.py [URL]
(URL: the worker API, default http://127.0.0.1:8688; token: $EDGELOOP_WORKER_TOKEN)."""
import base64, json, os, sys, time, urllib.request

URL = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8688").rstrip("/")
TOKEN = os.environ.get("EDGELOOP_WORKER_TOKEN")
AUTH = {"Authorization": "Bearer " + TOKEN} if TOKEN else {}

def call(path, answer=None):
    data = json.dumps(answer).encode() if answer else None
    req = urllib.request.Request(URL + path, data, {"Content-Type": "application/json", **AUTH})
    with urllib.request.urlopen(req, timeout=90) as r:  # a long poll takes up to 30 s
        return json.load(r) if r.status == 200 and not answer else None  # None: 204

while True:
    try:
        job = call("/api/v1/request?wait=30s")
        if job:
            env = job["env"]
            text = "hello from python: %s %s" % (env["REQUEST_METHOD"], env["SCRIPT_NAME"] + env["PATH_INFO"])
            call("/api/v1/response", {"id": job["id"], "status": 200, "headers": [["Content-Type", "text/plain"]],
                                      "body": base64.b64encode(text.encode()).decode()})
    except Exception as e:  # the proxy away, a lease gone (404): wait, go on
        print("worker:", e, file=sys.stderr)
        time.sleep(1)
