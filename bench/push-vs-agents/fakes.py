#!/usr/bin/env python3
"""Loopback peers for the credentialed collectors of the push benchmark.

Reuses the Graph/Gemini/Socket.IO fake of scripts/reliability/soak.py and the
throwaway PostgreSQL cluster of tests/e2e/peers.py, so the series set includes
the collectors that take credentials without any real account. Writes
"BASE=<url>" and "DSN=<dsn>" to the file given as argv[2] once both are up,
then serves until SIGTERM (which stops the cluster).
"""
import importlib.machinery
import os
import signal
import sys
import threading

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
soak = importlib.machinery.SourceFileLoader(
    "soak", os.path.join(root, "scripts", "reliability", "soak.py")).load_module()

work, out = sys.argv[1], sys.argv[2]
peer = soak.ThreadedServer(("127.0.0.1", 0), soak.Peer)
threading.Thread(target=peer.serve_forever, daemon=True).start()
os.chmod(work, 0o755)  # the cluster runs as the postgres user when we are root
pg = soak.Postgres(work)
pg.start()
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
with open(out + ".tmp", "w") as f:
    f.write(f"BASE=http://127.0.0.1:{peer.server_address[1]}\nDSN={pg.dsn()}\n")
os.rename(out + ".tmp", out)
try:
    done.wait()
finally:
    pg.stop()
