#!/usr/bin/env python3
"""Stands in for the Messenger bot in the e2e test until examples/demo-bot exists:
a long-running process (watched by botwatch's process collector) that appends
Winston-style JSON log lines to a file, about 40 a second, until killed.

    bot_standin.py LOG_PATH

The events follow the example lines documented in config/presets/messenger-bot.yaml,
so every bot_* family of the preset gets data: inbound "message processed" with
userId, responseTime in ms, template and cacheHit; outbound "message sent" with
the parsed X-App-Usage header (appUsage); "gemini response" with latencyMs and
tokens; "product inquiry" by category; "appointment booked"; "human intervention
requested" / "resolved" (at most MAX_PENDING open at a time, so
HumanInterventionsPending stays quiet); level "error" with errorType, plus a
warn-level retry that the preset must not count. Keep EVENTS in step with the
preset when it changes.
"""

import datetime
import json
import random
import sys
import time

EVENTS = [
    (32, lambda r: {"level": "info", "message": "message processed", "userId": f"psid-{r.randint(1, 40)}",
                    "responseTime": r.choice([120, 450, 900, 1800, 3500]), "template": r.choice(["greeting", "prices", "hours"]),
                    "cacheHit": r.random() < 0.9}),
    (30, lambda r: {"level": "info", "message": "message sent", "userId": f"psid-{r.randint(1, 40)}",
                    "appUsage": {"call_count": r.randint(5, 30), "total_time": r.randint(1, 10),
                                 "total_cputime": r.randint(1, 10)}}),
    (12, lambda r: {"level": "info", "message": "gemini response", "latencyMs": r.randint(300, 2500),
                    "tokens": r.randint(50, 800), "model": "gemini-1.5-flash"}),
    (8, lambda r: {"level": "info", "message": "product inquiry", "userId": f"psid-{r.randint(1, 40)}",
                   "category": r.choice(["shoes", "bags", "watches"])}),
    (3, lambda r: {"level": "info", "message": "appointment booked", "userId": f"psid-{r.randint(1, 40)}",
                   "appointmentId": f"a-{r.randint(1, 999)}"}),
    (2, lambda r: {"level": "info", "message": "human intervention requested", "userId": f"psid-{r.randint(1, 40)}",
                   "reason": "complaint"}),
    (2, lambda r: {"level": "info", "message": "human intervention resolved", "userId": f"psid-{r.randint(1, 40)}"}),
    # Errors stay well under HighErrorRate's 10 % of inbound messages.
    (1, lambda r: {"level": "error", "message": "request failed", "errorType": r.choice(["gemini", "database"])}),
    (1, lambda r: {"level": "warn", "message": "retrying send", "errorType": "graph_api", "attempt": 2}),
]
MAX_PENDING = 2  # open hand-overs per run; the bot runs twice in the e2e, so botwatch sees at most 4 (< 5)


def main(path):
    rng = random.Random(7)
    weights = [w for w, _ in EVENTS]
    pending = 0
    with open(path, "a", encoding="utf-8", buffering=1) as out:
        while True:
            _, make = rng.choices(EVENTS, weights)[0]
            event = make(rng)
            if event["message"] == "human intervention requested":
                if pending >= MAX_PENDING:
                    continue
                pending += 1
            elif event["message"] == "human intervention resolved":
                if pending == 0:
                    continue
                pending -= 1
            event["timestamp"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
            out.write(json.dumps(event) + "\n")
            time.sleep(0.025)


if __name__ == "__main__":
    main(sys.argv[1])
