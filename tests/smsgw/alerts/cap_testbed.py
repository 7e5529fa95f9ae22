"""CAP 1.2 documents as the alerting authorities send them, built per test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import SignatureMethod
from signxml.signer import XMLSigner


def info(
    *, language: str = "en-US", event: str = "Hurricane Warning", urgency: str = "Immediate",
    severity: str = "Extreme", certainty: str = "Likely", category: str = "Met",
    headline: str = "Hurricane warning for the coast",
    instruction: str = "Move to a shelter now.", expires: str | None = "2026-10-01T20:00:00-06:00",
    parameters: dict[str, str] | None = None, areas: tuple[str, ...] = ("Toledo",),
    extra: str = "",
) -> str:  # fmt: skip
    parts = [f"<language>{language}</language>"] if language else []
    parts += [f"<category>{category}</category>"] if category else []
    parts += [f"<event>{escape(event)}</event>"] if event else []
    parts += [f"<urgency>{urgency}</urgency>"] if urgency else []
    parts += [f"<severity>{severity}</severity>"] if severity else []
    parts += [f"<certainty>{certainty}</certainty>"] if certainty else []
    parts += [f"<expires>{expires}</expires>"] if expires else []
    parts += [f"<headline>{escape(headline)}</headline>"] if headline else []
    parts += [f"<instruction>{escape(instruction)}</instruction>"] if instruction else []
    for name, value in (parameters or {}).items():
        parts.append(f"<parameter><valueName>{name}</valueName>"
                     f"<value>{escape(value)}</value></parameter>")  # fmt: skip
    for area in areas:
        parts.append(f"<area><areaDesc>{escape(area)}</areaDesc></area>")
    return "<info>" + "".join(parts) + extra + "</info>"


def alert(
    *infos: str, identifier: str = "NMS-2026-0042", sender: str = "nms@hydromet.gov.bz",
    sent: str = "2026-10-01T14:00:00-06:00", status: str = "Actual", msg_type: str = "Alert",
    scope: str = "Public", references: str = "", head: str = "",
) -> bytes:  # fmt: skip
    """An ``<alert>`` with ``infos`` (one default info when none given); an empty string drops
    an element."""
    parts = [f"<identifier>{identifier}</identifier>"] if identifier else []
    parts += [f"<sender>{sender}</sender>"] if sender else []
    parts += [f"<sent>{sent}</sent>"] if sent else []
    parts += [f"<status>{status}</status>"] if status else []
    parts += [f"<msgType>{msg_type}</msgType>"] if msg_type else []
    parts += [f"<scope>{scope}</scope>"] if scope else []
    parts += [f"<references>{references}</references>"] if references else []
    body = "".join(parts) + "".join(infos or (info(),))
    return (head + '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">' + body
            + "</alert>").encode()  # fmt: skip


@dataclass(frozen=True)
class Authority:
    """An alerting authority's signing key and its self-signed certificate (PEM)."""

    key: ec.EllipticCurvePrivateKey
    certificate: str

    @classmethod
    def new(cls, name: str = "NMS Belize") -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        return cls(key, certificate.public_bytes(serialization.Encoding.PEM).decode())

    def sign(self, document: bytes) -> bytes:
        """``document`` with an enveloped XML signature, as the authority's system makes it."""
        signer = XMLSigner(signature_algorithm=SignatureMethod.ECDSA_SHA256)
        root = etree.fromstring(document)
        signed: bytes = etree.tostring(signer.sign(root, key=self.key, cert=self.certificate))
        return signed
