"""deliver_sm → a delivery receipt or a mobile-originated text (decoded, parts reassembled)."""

from __future__ import annotations

import asyncio

import structlog

from channels import concatenation, text
from channels.base import ChannelSink, DeliveryReceipt, InboundSms
from channels.smpp import codec, receipts
from channels.smpp.codec import Tag
from channels.smpp.config import SmppChannelConfig

log = structlog.get_logger("channels.smpp")

UDHI = 0x40  # esm_class: short_message starts with a user data header (SMPP 3.4 §5.2.12)


class InboundDecoder:
    def __init__(self, channel: str, config: SmppChannelConfig, sink: ChannelSink) -> None:
        self.channel = channel
        self.config = config
        self.sink = sink
        self.reassembler = concatenation.Reassembler()

    def handle(self, pdu: codec.ShortMessage) -> asyncio.Future[None] | None:
        """Pass what the PDU carries to the sink; the future (if any) gates the ack."""
        if receipts.is_receipt(pdu):
            return self._receipt(pdu)
        return self._mobile_originated(pdu)

    def _receipt(self, pdu: codec.ShortMessage) -> asyncio.Future[None] | None:
        try:
            parsed = receipts.parse_receipt(pdu, id_base=self.config.receipt_id_base)
        except ValueError as exc:
            # Acknowledge anyway: refusing would only make the SMSC send it again and again.
            log.warning("receipt_unparsed", channel=self.channel, error=str(exc))
            return None
        receipt = DeliveryReceipt(
            parsed.carrier_id, parsed.state, parsed.error, self.channel, parsed.done_at
        )
        return self.sink.received(receipt)

    def _mobile_originated(self, pdu: codec.ShortMessage) -> asyncio.Future[None] | None:
        sender = _number(pdu.source_ton, pdu.source_addr)
        payload = pdu.short_message or pdu.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
        concat: concatenation.Concat | None = None
        if pdu.esm_class & UDHI:
            try:
                concat, payload = concatenation.parse_udh(payload)
            except ValueError as exc:
                log.warning("inbound_udh_malformed", channel=self.channel, error=str(exc))
        elif Tag.SAR_MSG_REF_NUM in pdu.tlvs:
            concat = _sar_concat(pdu.tlvs)
        body = text.decode(payload, pdu.data_coding, default_alphabet=self.config.default_alphabet)
        for partial_sender, partial in self.reassembler.expire():
            log.warning("inbound_parts_missing", channel=self.channel)
            self._emit(partial_sender, pdu.destination_addr, partial, pdu.source_ton)
        if concat is not None:
            whole = self.reassembler.add(sender, concat, body)
            if whole is None:
                return None  # more parts to come
            body = whole
        return self._emit(sender, pdu.destination_addr, body, pdu.source_ton)

    def _emit(self, sender: str, to: str, body: str, ton: int) -> asyncio.Future[None] | None:
        return self.sink.received(InboundSms(sender, to, body, self.channel, sender_ton=ton))


def _number(ton: int, address: str) -> str:
    if ton == 1 and address.isdigit():
        return "+" + address
    return address


def _sar_concat(tlvs: dict[int, bytes]) -> concatenation.Concat | None:
    try:
        return concatenation.Concat(
            int.from_bytes(tlvs[Tag.SAR_MSG_REF_NUM], "big"),
            tlvs[Tag.SAR_TOTAL_SEGMENTS][-1],
            tlvs[Tag.SAR_SEGMENT_SEQNUM][-1],
        )
    except (KeyError, IndexError, ValueError):
        return None
