#!/usr/bin/env python3
"""TCP relay that counts the bytes a client sends (the push's bytes on the wire).

  count_proxy.py LISTEN_PORT TARGET_PORT COUNT_FILE

Relays 127.0.0.1:LISTEN_PORT to 127.0.0.1:TARGET_PORT and rewrites COUNT_FILE
with the client-to-server byte total every half second. Request headers count
too: they are part of what each pusher puts on the wire.
"""
import asyncio
import os
import sys

listen_port, target_port, count_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sent = 0


async def pipe(reader, writer, count):
    global sent
    try:
        while data := await reader.read(65536):
            if count:
                sent += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_r, client_w):
    try:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_w.close()
        return
    await asyncio.gather(pipe(client_r, server_w, True), pipe(server_r, client_w, False))


async def flush():
    while True:
        with open(count_file + ".tmp", "w") as f:
            f.write(f"{sent}\n")
        os.replace(count_file + ".tmp", count_file)
        await asyncio.sleep(0.5)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await asyncio.gather(server.serve_forever(), flush())


asyncio.run(main())
