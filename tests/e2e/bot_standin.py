#!/usr/bin/env python3
"""Stands in for the Messenger bot in the e2e test until examples/demo-bot exists:
a long-running process (watched by botwatch's process collector) that appends
Winston-style JSON log lines to a file, about 40 a second, until killed.

    bot_standin.py LOG_PATH

The events follow the shapes botwatch's preset expects from the bot (see
/work/shared/anchors/FIGURES.md: inbound "message processed" with userId,
responseTime in ms, template and cacheHit; outbound "message sent"; Gemini calls
with latencyMs and tokens; product inquiries by category; appointments booked;
human hand-offs; errors with errorType). If the preset's messages differ, align
EVENTS here with config/presets/messenger-bot.yaml.
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
    (30, lambda r: {"level": "info", "message": "message sent", "userId": f"psid-{r.randint(1, 40)}"}),
    (12, lambda r: {"level": "info", "message": "gemini call", "latencyMs": r.randint(300, 2500),
                    "tokens": r.randint(50, 800)}),
    (8, lambda r: {"level": "info", "message": "product inquiry", "category": r.choice(["shoes", "bags", "watches"])}),
    (3, lambda r: {"level": "info", "message": "appointment booked", "userId": f"psid-{r.randint(1, 40)}"}),
    (2, lambda r: {"level": "info", "message": "human intervention requested", "userId": f"psid-{r.randint(1, 40)}"}),
    # Errors stay well under HighErrorRate's 10 % of inbound messages.
    (1, lambda r: {"level": "error", "message": "request failed", "errorType": r.choice(["gemini", "database"])}),
]


def main(path):
    rng = random.Random(7)
    weights = [w for w, _ in EVENTS]
    with open(path, "a", encoding="utf-8", buffering=1) as out:
        while True:
            _, make = rng.choices(EVENTS, weights)[0]
            event = make(rng)
            event["timestamp"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
            out.write(json.dumps(event) + "\n")
            time.sleep(0.025)


if __name__ == "__main__":
    main(sys.argv[1])
