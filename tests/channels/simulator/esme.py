"""A minimal raw-asyncio ESME to drive the simulator: bytes in, bytes out, no logic."""

from __future__ import annotations

import asyncio
import struct

from channels.smpp.codec import (
    HEADER_LENGTH,
    Command,
    Pdu,
    ShortMessage,
    decode,
    encode_bind,
    encode_deliver_sm_resp,
    encode_header,
    encode_short_message,
)

TIMEOUT_S = 5.0


class RawEsme:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._sequence = 0

    @classmethod
    async def connect(cls, port: int) -> RawEsme:
        async with asyncio.timeout(TIMEOUT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_frame(self) -> bytes:
        """One whole PDU as bytes (not decoded)."""
        async with asyncio.timeout(TIMEOUT_S):
            head = await self.reader.readexactly(4)
            (length,) = struct.unpack(">I", head)
            return head + await self.reader.readexactly(max(length, 4) - 4)

    async def read(self) -> Pdu:
        return decode(await self.read_frame())

    async def expect(self, command_id: int) -> Pdu:
        """The next PDU, which must be of that command."""
        pdu = await self.read()
        assert pdu.command_id == command_id, f"got 0x{pdu.command_id:08X}"
        return pdu

    async def read_short_message(self) -> ShortMessage:
        pdu = await self.expect(Command.DELIVER_SM)
        assert isinstance(pdu, ShortMessage)
        return pdu

    async def bind(
        self,
        system_id: str = "smsgw",
        password: str = "secret",  # noqa: S107 - a test credential
        command_id: int = Command.BIND_TRANSCEIVER,
    ) -> Pdu:
        sequence = self.next_sequence()
        self.send(encode_bind(command_id, sequence, system_id=system_id, password=password))
        return await self.expect(command_id | 0x80000000)

    def submit(
        self,
        text: bytes = b"hello",
        *,
        to: str = "5016012345",
        sender: str = "1515",
        registered_delivery: int = 1,
        data_coding: int = 0,
        esm_class: int = 0,
    ) -> int:
        sequence = self.next_sequence()
        self.send(
            encode_short_message(
                Command.SUBMIT_SM,
                sequence,
                source_addr=sender,
                destination_addr=to,
                short_message=text,
                registered_delivery=registered_delivery,
                data_coding=data_coding,
                esm_class=esm_class,
            )
        )
        return sequence

    def answer(self, pdu: Pdu, status: int = 0) -> None:
        """deliver_sm_resp or enquire_link_resp for a PDU the simulator sent."""
        if pdu.command_id == Command.DELIVER_SM:
            self.send(encode_deliver_sm_resp(pdu.sequence, status))
        else:
            self.send(encode_header(pdu.command_id | 0x80000000, pdu.sequence, status))

    async def closed_by_peer(self) -> bool:
        """True once the simulator has closed the connection (EOF or reset)."""
        async with asyncio.timeout(TIMEOUT_S):
            try:
                return await self.reader.read(HEADER_LENGTH * 64) == b""
            except ConnectionResetError:
                return True

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(TIMEOUT_S):
                await self.writer.wait_closed()
        except (ConnectionError, TimeoutError):
            pass
