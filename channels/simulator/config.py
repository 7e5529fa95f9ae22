"""Settings of the SMSC simulator: where it listens, how fast and how well it behaves."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Receipt outcomes the simulator can draw (SMPP 3.4 §5.2.28 message_state, Appendix B stat).
RECEIPT_OUTCOMES = frozenset(
    {"delivered", "undeliverable", "expired", "rejected", "deleted", "unknown"}
)


class SimulatorConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    host: str = Field(default="127.0.0.1", description="address of both listeners")
    port: int = Field(default=2775, ge=0, le=65535, description="SMPP port; 0: any free port")
    control_port: int | None = Field(
        default=8775,
        ge=0,
        le=65535,
        description="HTTP control API port; 0: any free port; None: no control API",
    )
    accounts: dict[str, str] = Field(
        default_factory=dict,
        description="system_id -> password; empty: any credentials bind",
    )
    tps: int = Field(
        default=0,
        ge=0,
        description="accepted submit_sm per bind in any one-second window; 0: no limit; "
        "over it the answer is ESME_RTHROTTLED",
    )
    response_delay_s: float = Field(
        default=0.0, ge=0, description="delay before each submit_sm_resp (a slow SMSC)"
    )
    receipts: bool = Field(
        default=True, description="send delivery receipts when registered_delivery asks"
    )
    receipt_delay_s: float = Field(
        default=1.0, ge=0, description="time from an accepted submit_sm to its receipt"
    )
    receipt_mix: dict[str, float] = Field(
        default_factory=lambda: {"delivered": 0.95, "undeliverable": 0.03, "expired": 0.02},
        description="receipt outcome -> weight; outcomes among "
        + ", ".join(sorted(RECEIPT_OUTCOMES)),
    )
    receipt_format: Literal["text", "tlv", "both"] = Field(
        default="both",
        description="receipt as Appendix B text, as receipted_message_id/message_state/"
        "network_error_code TLVs, or both",
    )
    receipt_text_id: Literal["same", "decimal"] = Field(
        default="same",
        description="id written in the receipt text: the submit_sm_resp id, or (a quirk of "
        "some SMSCs) a hex id written in decimal; the TLV always carries the id as given",
    )
    message_id_format: Literal["hex", "decimal"] = Field(
        default="hex", description="how submit_sm_resp message ids are written"
    )
    seed: int | None = Field(
        default=None, description="seed of the outcome and id generator; None: random"
    )
    short_code: str = Field(
        default="1515", min_length=1, max_length=20, description="default MO destination"
    )
    enquire_link_s: float = Field(
        default=30.0, gt=0, description="send enquire_link to an ESME idle this long"
    )
    log_submits: bool = Field(
        default=False,
        description="log every accepted submit with its text (the demo shows replies this way)",
    )
    keep_submits: int = Field(
        default=1_000_000,
        ge=1,
        description="how many recent submits (and queued receipts per system_id) are kept",
    )

    @field_validator("receipt_mix")
    @classmethod
    def _mix_is_known_and_positive(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - RECEIPT_OUTCOMES)
        if unknown:
            raise ValueError(
                f"unknown outcome(s) {unknown}; use {', '.join(sorted(RECEIPT_OUTCOMES))}"
            )
        if any(weight < 0 for weight in value.values()):
            raise ValueError("weights must not be negative")
        if sum(value.values()) <= 0:
            raise ValueError("at least one weight must be positive")
        return value
