"""The NLU server beside a Rasa server (bot/nlu_offload.py): the same model, parsing the messages the Rasa
server sends over a Unix socket.

    python -m bot.nlu_server --model models/nara-….tar.gz --socket data/nlu.sock

It loads the model as the Rasa server does (Rasa's `load_agent`, no endpoints: it keeps no conversation and
calls no action server), with Nära's speedups (bot/rasa_speedups.py), log redaction and the garbage
collector's freeze once the model is loaded. Requests: `{"op": "status"}` answers `{"model_id": …}`,
`{"op": "parse", "text": …}` answers `{"parse": <Rasa's parse of the text>}` or `{"error": …}`. The socket
file is readable and writable by its owner only. It never hands a parse on to another NLU server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
from pathlib import Path
from typing import Any

from bot import nlu_offload

logger = logging.getLogger(__name__)


async def handle(agent: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One connection: requests one after the other until the Rasa server closes it."""
    from rasa.core.channels.channel import UserMessage

    try:
        while True:
            try:
                request = await nlu_offload.read_frame(reader)
            except ValueError:  # a whole frame, but not JSON it can read (a lone surrogate): answered as unknown
                request = None
            op = request.get("op") if isinstance(request, dict) else None
            if op == "status":
                answer: dict[str, Any] = {"model_id": agent.model_id}
            elif op == "parse" and isinstance(request.get("text"), str):
                # Exactly the Rasa server's text: UserMessage strips it, which the Rasa server's text may not be
                # (bot/channels.py removes control characters after Rasa made its message), and the answer must
                # be a parse of that text (nlu_offload checks it).
                message = UserMessage(request["text"])
                message.text = request["text"]
                try:
                    answer = {"parse": await agent.processor.parse_message(message)}
                except Exception as error:  # noqa: BLE001 - the Rasa server parses the message itself
                    logger.exception("parse failed")
                    answer = {"error": type(error).__name__}
            else:
                answer = {"error": "unknown request"}
            writer.write(nlu_offload.frame(answer))
            await writer.drain()  # a Rasa server that stops reading must not make this one buffer without end
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the Rasa server closed the connection
    except nlu_offload.Unusable as error:
        logger.warning("closing a connection: %s", error)
    finally:
        writer.close()


async def listen(agent: Any, path: Path) -> asyncio.AbstractServer:
    """Serves `agent`'s parses on the Unix socket `path`, a file only its owner may connect to."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # a socket file left by a server that was killed
    old_umask = os.umask(0o177)  # the socket file is created 0600
    try:
        return await asyncio.start_unix_server(lambda r, w: handle(agent, r, w), str(path))
    finally:
        os.umask(old_umask)


async def serve(model: str, path: Path) -> None:
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints

    if nlu_offload.answers(str(path)) is not None:
        raise SystemExit(f"an NLU server already answers on {path}")
    agent = await load_agent(model_path=model, endpoints=AvailableEndpoints())
    if agent is None or not agent.is_ready():
        raise SystemExit(f"could not load the model {model}")
    gc.collect()
    gc.freeze()  # as the Rasa server does (bot/rasa_speedups.py: freeze_loaded_objects)
    server = await listen(agent, path)
    logger.warning("NLU server for model %s listening on %s", agent.model_id, path)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.nlu_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the model the Rasa server runs")
    parser.add_argument("--socket", required=True, type=Path, help="the Unix socket to listen on")
    args = parser.parse_args(argv)
    os.environ.pop(nlu_offload.SOCKET_ENV, None)  # this process parses; it never forwards to an NLU server

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from bot import rasa_speedups
    from bot.privacy import install_log_redaction

    configure_logging_and_warnings(logging.INFO)
    configure_structlog(logging.INFO)  # as `rasa run` does: Rasa's debug events (with the text) are dropped
    install_log_redaction()
    rasa_speedups.install()
    import uvloop

    uvloop.install()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.model, args.socket.resolve()))


if __name__ == "__main__":
    main()
