"""CAP alerts' XML signatures ([alerts] require_signature): an enveloped XML-DSig signature,
a child of ``<alert>`` covering the whole alert, verified with signxml against one of the
authorities' certificates.

What is acted on is what the signature covers (signxml's signed data), never the document
around it: a signature moved into a document it does not cover (XML signature wrapping)
leaves nothing signed to act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from signxml.algorithms import SignatureMethod
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from smsgw.alerts.cap import NAMESPACE

_ALERT = f"{{{NAMESPACE}}}alert"
# the signature a child of <alert>, one reference (the alert), a public-key method only
_EXPECT = SignatureConfiguration(
    location="./", expect_references=1,
    signature_methods=frozenset(m for m in SignatureMethod if not m.name.startswith("HMAC")),
)  # fmt: skip


class SignatureError(Exception):
    """The alert is not signed, or not by a configured authority: the reason, in words."""


def read_certificate(path: Path) -> str:
    """A PEM X.509 certificate's text; ValueError naming the file when it is none."""
    try:
        text = path.read_text(encoding="ascii")
        x509.load_pem_x509_certificate(text.encode())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable PEM certificate ({exc})") from None
    return text


class Verifier:
    def __init__(self, certificates: Sequence[Path]) -> None:
        self._certificates = [read_certificate(path) for path in certificates]

    def signed(self, document: bytes) -> bytes:
        """The alert as its signature covers it (the signature left out), if one of the
        certificates verifies it; else SignatureError. ``document`` has been through the
        CAP parser already (no DTD, no entities)."""
        problems = []
        for certificate in self._certificates:
            try:
                result = XMLVerifier().verify(
                    document, x509_cert=certificate, expect_config=_EXPECT
                )
            except SignXMLException as exc:
                problems.append(str(exc) or type(exc).__name__)
                continue
            assert not isinstance(result, list)  # noqa: S101 - one reference expected: one result
            if result.signed_xml is None or result.signed_xml.tag != _ALERT:
                raise SignatureError("the signature does not cover the whole alert")
            return result.signed_data
        if any("Expected to find XML element Signature" in p for p in problems):
            raise SignatureError("the alert is not signed")
        raise SignatureError("no authority's certificate verifies the signature: " + problems[0])
